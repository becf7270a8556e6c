"""Helpers for backend tests: specs, executable scripts, a bounded event loop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Literal, TypeVar

from llm_mux.compiler.plan import BackendSpec
from support.openai_server import ModelServer

__all__ = ["RecordingSleep", "alive", "cli_spec", "environ", "http_spec", "run", "write_script"]

T = TypeVar("T")


def run(coroutine: Coroutine[object, object, T], *, timeout: float = 10.0) -> T:
    """Run `coroutine` on a fresh loop; no test may hang for longer than `timeout`."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coroutine

    return asyncio.run(bounded())


def cli_spec(command: str | Path, name: str = "cli", **settings: object) -> BackendSpec:
    return BackendSpec(name=name, kind="cli", command=str(command), **settings)  # type: ignore[arg-type]


def http_spec(
    server: ModelServer,
    name: str = "api",
    *,
    kind: Literal["openai", "anthropic"] = "openai",
    **settings: object,
) -> BackendSpec:
    """A backend of `server`; its model is its name unless `model=` says otherwise."""
    url = server.url if kind == "openai" else server.base_url
    values: dict[str, object] = {"command": url, "model": name, "retry_delay": 0.0, "timeout": 5.0}
    values.update(settings)
    return BackendSpec(name=name, kind=kind, **values)  # type: ignore[arg-type]


def write_script(directory: Path, name: str, body: str) -> Path:
    """An executable `sh` script; `body` is everything after the shebang."""
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


class RecordingSleep:
    """Stands in for `asyncio.sleep`: records each delay, returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def environ(**extra: str) -> dict[str, str]:
    """The test process's environment plus `extra`."""
    return {**os.environ, **extra}

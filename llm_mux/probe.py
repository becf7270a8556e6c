"""`llm-mux doctor --probe`: one short prompt to each backend — its answer, or its error.

Input: the config's backends (all, or those named), the project root, the environment,
and the backends an untrusted project defines. Output: one `Check` per backend: `ok`
with the latency and the start of the answer, or `broken` with the backend's own
error (for a CLI, the tool's reason: `backends.cli_output`). Opt-in, as it costs tokens.
Each probe is one attempt (no retries), bounded by the backend's timeout and at most
`PROBE_TIMEOUT`; all backends are probed at once. A backend of an untrusted project is
not run: its command, or the URL it would send a key to, was chosen by the project.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from llm_mux.compiler.plan import BackendSpec

from .backends import BackendError, BackendPool, Request
from .doctor import Check
from .redact import Redactor

__all__ = ["PROBE_PROMPT", "PROBE_TIMEOUT", "probe"]

PROBE_PROMPT = "Reply with the single word: ok"
PROBE_TIMEOUT = 120.0
_SHOWN = 60


def probe(
    specs: Mapping[str, BackendSpec],
    names: Iterable[str],
    *,
    root: Path,
    env: Mapping[str, str],
    untrusted: set[str],
) -> list[Check]:
    once = {name: _one_attempt(spec) for name, spec in specs.items()}
    redact = Redactor.for_run(env, specs.values())
    checks = asyncio.run(_probe_all(once, list(names), root, env, untrusted))
    return [dataclasses.replace(c, detail=redact(c.detail)) for c in checks]


def _one_attempt(spec: BackendSpec) -> BackendSpec:
    return msgspec.structs.replace(spec, max_retries=0, timeout=min(spec.timeout, PROBE_TIMEOUT))


async def _probe_all(
    specs: Mapping[str, BackendSpec],
    names: list[str],
    root: Path,
    env: Mapping[str, str],
    untrusted: set[str],
) -> list[Check]:
    async with BackendPool(specs, root=root, env=env) as pool:
        return list(await asyncio.gather(*(_one(pool, name, untrusted) for name in names)))


async def _one(pool: BackendPool, name: str, untrusted: set[str]) -> Check:
    if name in untrusted:
        return Check("probe", name, "info", "not run: defined by an untrusted project")
    started = time.perf_counter()
    try:
        completion, _ = await pool.complete(name, Request(PROBE_PROMPT))
    except BackendError as error:
        return Check("probe", name, "broken", error.message.removeprefix(f"backend '{name}': "))
    seconds = time.perf_counter() - started
    return Check("probe", name, "ok", f"answered in {seconds:.1f}s: {_start(completion.text)}")


def _start(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return repr(first if len(first) <= _SHOWN else first[:_SHOWN] + "…")

"""Which executor a run uses: `run --executor` over the config's `[executor]` table.

Input: the `--executor` value (or None) and the merged config. Output:
`ExecutorSettings`, or None for the local executor.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from llm_mux.compiler.durations import parse_duration
from llm_mux.compiler.schema import Config

from ..errors import UsageError

__all__ = ["ExecutorSettings", "executor_settings"]

_SCHEMES = ("dask://", "tls://", "tcp://")


class ExecutorSettings(msgspec.Struct, frozen=True, kw_only=True):
    address: str  # as Dask spells it: tcp://HOST:PORT or tls://HOST:PORT
    project: str = "snapshot"  # "snapshot" or "shared"
    connect_timeout: float = 10.0
    tls_ca_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def tls(self) -> bool:
        return self.address.startswith("tls://")


def executor_settings(given: str | None, config: Config) -> ExecutorSettings | None:
    """The cluster to use, or None to run here (`--executor local` or nothing set)."""
    table = config.executor
    address = given or (table.address if table is not None else "local")
    if address == "local":
        return None
    if not address.startswith(_SCHEMES):
        raise UsageError(
            f"executor '{address}' is neither 'local' nor a Dask scheduler address",
            hint="use dask://HOST:PORT or tls://HOST:PORT",
        )
    if table is None:
        return ExecutorSettings(address=_dask_spelling(address))
    return ExecutorSettings(
        address=_dask_spelling(address),
        project=table.project,
        connect_timeout=parse_duration(table.connect_timeout, bare_unit="s"),
        tls_ca_file=_path(table.tls_ca_file),
        tls_cert=_path(table.tls_cert),
        tls_key=_path(table.tls_key),
    )


def _dask_spelling(address: str) -> str:
    return "tcp://" + address.removeprefix("dask://") if address.startswith("dask://") else address


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None

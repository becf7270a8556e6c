"""The local executor: each `Work` runs as a child of this process (the default).

Input: `Work`, the project root and the run's environment. Output: the
`ProcessResult` of `llm_mux.processes.process.run_process`, with every guarantee it gives
(own process group, killed whole on timeout and cancel, stdin closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..processes.environment import Environment
from ..processes.process import ProcessResult, run_process
from .work import Work

__all__ = ["LocalExecutor"]


class LocalExecutor:
    local = True

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.root = root
        self.env = Environment(env)  # encoded once for every child of the run

    def unavailable(self, backend: str) -> str | None:
        return None  # the backend pool looks the command up on this machine's PATH

    def tree_changed(self) -> None:
        pass  # work runs in the tree itself

    async def run(self, work: Work) -> ProcessResult:
        env = {**self.env, **work.env} if work.env else self.env
        return await run_process(
            work.argv,
            cwd=self.root,
            env=env,
            stdin=work.stdin,
            timeout=work.timeout,
            wrapper=work.wrapper,
            max_output=work.max_output,
        )

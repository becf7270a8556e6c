"""Where candidates are tried: one temporary copy of the project per candidate.

Input: the project root and the run's environment. Output: `Workspaces`, which
makes each candidate a directory holding the project exactly as the user has
it — a detached `git worktree` of a snapshot commit (uncommitted and untracked
files included; files git ignores are not) when the project is in a git
repository, else a plain copy (`cp -a`) of the whole project — and removes all
of them again.

Every workspace lives under one directory of the system's temporary directory,
`llm-mux-candidates-<pid>-<random>/`, named after the process that owns it.
`remove()` never awaits, so clean-up finishes even in a cancelled task; and
since a killed process cleans nothing, `prepare` first deletes the directories
of processes that no longer exist and prunes their worktrees from git: a crash
never breaks the next run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..processes.process import run_process
from .git import GitError, add_worktree, prune_worktrees, snapshot, toplevel, unlock_missing

__all__ = ["PREFIX", "WorkspaceError", "Workspaces", "remove_stale"]

PREFIX = "llm-mux-candidates-"
_OWNED = re.compile(re.escape(PREFIX) + r"(\d+)-")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class WorkspaceError(Exception):
    """A workspace could not be made; the message says why."""


class Workspaces:
    def __init__(
        self, root: Path, env: Mapping[str, str], base: Path, git: tuple[Path, str] | None
    ) -> None:
        self.root = root
        self.env = env
        self.base = base  # this step's directory: every workspace is inside
        self.git = git  # (top level, snapshot commit), or None: plain copies
        self._creating = asyncio.Lock()  # git worktree add, one at a time

    @classmethod
    async def prepare(cls, root: Path, env: Mapping[str, str]) -> Workspaces:
        """Stale workspaces removed, this step's directory made, the tree snapshotted."""
        top = await toplevel(root, env)
        remove_stale(Path(tempfile.gettempdir()), top, env)
        base = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        workspaces = cls(root, env, base, None)
        if top is not None:
            try:
                workspaces.git = (top, await snapshot(top, base, env))
            except GitError as error:
                workspaces.remove()
                raise WorkspaceError(f"could not snapshot the working tree: {error}") from None
            except BaseException:
                workspaces.remove()
                raise
        return workspaces

    @property
    def kind(self) -> str:
        return "git worktree" if self.git else "copy"

    async def create(self, number: int, backend: str) -> Path:
        """A new workspace; returns the project root inside it."""
        path = self.base / f"{number}-{_UNSAFE.sub('_', backend)}"
        if self.git is None:
            await self._copy(path)
            return path
        top, commit = self.git
        async with self._creating:
            try:
                await add_worktree(top, path, commit, self.env)
            except GitError as error:
                raise WorkspaceError(f"could not make its worktree: {error}") from None
        return path / self.root.resolve().relative_to(top.resolve())

    async def _copy(self, path: Path) -> None:
        done = await run_process(["cp", "-a", f"{self.root}/.", str(path)], cwd=self.base)
        if done.exit_code != 0:
            why = done.stderr.strip().splitlines()[-1:] or [f"cp exited with {done.exit_code}"]
            raise WorkspaceError(f"could not copy the project: {why[0]}")

    def remove(self) -> None:
        """Every workspace deleted and forgotten by git; never raises, never awaits."""
        shutil.rmtree(self.base, ignore_errors=True)
        if self.git is not None:
            # A worktree cut short while git was making it is still locked: unlock it too.
            unlock_missing(self.git[0], self.env, lambda path: path.is_relative_to(self.base))
            prune_worktrees(self.git[0], self.env)


def remove_stale(temporary: Path, top: Path | None, env: Mapping[str, str]) -> list[Path]:
    """Delete the workspaces of processes that no longer run; returns what was deleted."""
    removed: list[Path] = []
    for path in temporary.glob(f"{PREFIX}*"):
        owner = _OWNED.match(path.name)
        if owner is None or _alive(int(owner.group(1))) or not path.is_dir():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if top is not None:
        unlock_missing(top, env, lambda path: path.parent.name.startswith(PREFIX))
        prune_worktrees(top, env)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True

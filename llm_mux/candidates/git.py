"""The git side of candidate workspaces: a snapshot commit and detached worktrees.

Input: the project's git top level and the run's environment. Output: a commit
holding the working tree exactly as the user has it — tracked changes and
untracked files (not ignored ones) included — made through a scratch index, so
the user's index, branches and files are never touched; worktrees checked out
at that commit; and their removal.

Every command runs with the caller's `GIT_*` variables removed (a hook's
`GIT_DIR` must not point the snapshot at another repository), with hooks off
and with an author, so a machine without `user.email` can still snapshot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from ..processes.process import CommandNotFound, run_process

__all__ = [
    "GitError",
    "add_worktree",
    "git_env",
    "prune_worktrees",
    "snapshot",
    "toplevel",
    "unlock_missing",
]

_AUTHOR = {
    "GIT_AUTHOR_NAME": "llm-mux",
    "GIT_AUTHOR_EMAIL": "llm-mux@localhost",
    "GIT_COMMITTER_NAME": "llm-mux",
    "GIT_COMMITTER_EMAIL": "llm-mux@localhost",
}
_QUIET = ("-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false")


class GitError(Exception):
    """A git command failed; the message says which and why."""


def git_env(env: Mapping[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in env.items() if not k.startswith("GIT_")}
    return {**clean, **_AUTHOR, "GIT_TERMINAL_PROMPT": "0"}


async def _git(cwd: Path, env: Mapping[str, str], *args: str) -> str:
    try:
        done = await run_process(["git", *_QUIET, *args], cwd=cwd, env=env)
    except CommandNotFound:
        raise GitError("git is not installed") from None
    if done.exit_code != 0:
        why = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.exit_code}"]
        raise GitError(f"`git {args[0]}` failed: {why[0]}")
    return done.stdout.strip()


async def toplevel(root: Path, env: Mapping[str, str]) -> Path | None:
    """The top of the git working tree holding `root`, or None outside git."""
    if shutil.which("git", path=env.get("PATH")) is None:
        return None
    try:
        top = await _git(root, git_env(env), "rev-parse", "--show-toplevel")
    except GitError:
        return None
    return Path(top) if top else None


async def snapshot(top: Path, scratch: Path, env: Mapping[str, str]) -> str:
    """A commit of the working tree as it is now (HEAD its parent, when there is one)."""
    env = git_env(env)
    index = scratch / "index"
    real = Path(await _git(top, env, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    if real.is_file():
        # Its stat cache spares hashing unchanged files. copy2 keeps the index's mtime:
        # git re-reads every file changed in the same second as the index was written
        # ("racily clean"), which a fresh mtime would hide — an edit that keeps a file's
        # size, made just after a commit, would be missed.
        shutil.copy2(real, index)
    with_index = {**env, "GIT_INDEX_FILE": str(index)}
    await _git(top, with_index, "add", "--all", "--", ".")
    tree = await _git(top, with_index, "write-tree")
    parent = await _head(top, env)
    parents = ["-p", parent] if parent else []
    message = "llm-mux: the working tree, for best-of-N candidates"
    return await _git(top, env, "commit-tree", tree, *parents, "-m", message)


async def _head(top: Path, env: Mapping[str, str]) -> str | None:
    try:
        return await _git(top, env, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except GitError:
        return None  # a repository without commits yet


async def add_worktree(top: Path, path: Path, commit: str, env: Mapping[str, str]) -> None:
    await _git(top, git_env(env), "worktree", "add", "--detach", "--quiet", str(path), commit)


def prune_worktrees(top: Path, env: Mapping[str, str]) -> None:
    """Forget worktrees whose directories are gone. Synchronous: it runs in clean-up,
    where a cancelled task can no longer await."""
    command = ["git", *_QUIET, "worktree", "prune"]
    subprocess.run(command, cwd=top, env=git_env(env), capture_output=True, check=False)


def unlock_missing(top: Path, env: Mapping[str, str], ours: Callable[[Path], bool]) -> None:
    """Unlock worktrees of ours whose directory is gone (a crash while git was
    still creating one leaves it locked, and `prune` skips locked worktrees)."""
    listing = subprocess.run(
        ["git", *_QUIET, "worktree", "list", "--porcelain"],
        cwd=top,
        env=git_env(env),
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    for line in listing.splitlines():
        path = Path(line.removeprefix("worktree ")) if line.startswith("worktree ") else None
        if path is not None and ours(path) and not os.path.exists(path):
            subprocess.run(
                ["git", *_QUIET, "worktree", "unlock", str(path)],
                cwd=top,
                env=git_env(env),
                capture_output=True,
                check=False,
            )

"""Real git repositories in temporary directories, and exact pictures of their state.

`git_project` commits some files, then leaves a user's uncommitted change and
an untracked file on top, as a working tree really looks. `TreeState.of`
records every file's bytes and permission bits (outside `.git/`), every
directory, and `git status --porcelain`: two equal states mean nothing was
left behind.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TreeState", "git", "git_project"]

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **_GIT_ENV},
    )
    return done.stdout


def git_project(
    root: Path,
    committed: Mapping[str, str],
    *,
    uncommitted: Mapping[str, str] | None = None,
    untracked: Mapping[str, str] | None = None,
) -> Path:
    """A repository at `root` with `committed` in HEAD, then the other files written over it."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    _write(root, committed)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "start")
    _write(root, uncommitted or {})
    _write(root, untracked or {})
    return root


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())


@dataclass(frozen=True)
class TreeState:
    files: dict[str, tuple[bytes, int]]  # name → (bytes, permission bits)
    directories: frozenset[str]
    status: str

    @classmethod
    def of(cls, root: Path) -> TreeState:
        files: dict[str, tuple[bytes, int]] = {}
        directories: set[str] = set()
        for path in sorted(root.rglob("*")):
            name = path.relative_to(root).as_posix()
            if name == ".git" or name.startswith(".git/"):
                continue
            if path.is_symlink():
                files[name] = (os.readlink(path).encode(), 0)
            elif path.is_dir():
                directories.add(name)
            else:
                files[name] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        status = git(root, "status", "--porcelain") if (root / ".git").exists() else ""
        return cls(files, frozenset(directories), status)

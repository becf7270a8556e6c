"""Snapshots of the project for workers that do not share its file system.

Input: the project root. Output: a `Snapshot` — a deterministic tar of the
working tree as it is (uncommitted changes and untracked files included,
ignored files left out) with, in a git repository, the whole `.git`
directory, so `git diff` and `git status` on a worker say what they say here;
its content digest names it, so a worker unpacks each distinct tree once.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import msgspec

__all__ = ["Snapshot", "take_snapshot"]


class Snapshot(msgspec.Struct, frozen=True):
    digest: str  # sha256 of `data`
    data: bytes  # an uncompressed tar
    subdir: str  # the project root, relative to the tree's top ("" when the same)
    files: int


def take_snapshot(root: Path) -> Snapshot:
    """The tree that holds `root` (its git top level, else `root` itself), as a tar."""
    top = _git_top(root) or root
    names = sorted(_tree_files(top))
    data = _tar(top, names)
    subdir = "" if top == root else root.relative_to(top).as_posix()
    return Snapshot(hashlib.sha256(data).hexdigest(), data, subdir, len(names))


def _git_top(root: Path) -> Path | None:
    done = _git(root, "rev-parse", "--show-toplevel")
    return Path(done.decode().strip()).resolve() if done is not None else None


def _git(root: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except FileNotFoundError:
        return None
    return done.stdout if done.returncode == 0 else None


def _tree_files(top: Path) -> Iterator[str]:
    listed = _git(top, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is None:
        yield from _walk(top, top)
        return
    for name in listed.decode("utf-8", "surrogateescape").split("\0"):
        if name and os.path.lexists(top / name):  # a deleted tracked file stays deleted
            yield name
    yield from _walk(top / ".git", top)


def _walk(directory: Path, top: Path) -> Iterator[str]:
    for here, dirs, files in os.walk(directory):
        dirs.sort()
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(here, d)))]:
            yield os.path.relpath(os.path.join(here, name), top)


def _tar(top: Path, names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            info = tar.gettarinfo(str(top / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with open(top / name, "rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
    return buffer.getvalue()

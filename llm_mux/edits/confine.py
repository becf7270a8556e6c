"""Confinement: an edit may only touch files inside the project, never its `.git/`.

Input: the project root and a path exactly as the model wrote it. Output: the
real file it designates (symlinks resolved) and the name to show, or an
`EditError` naming the path and why it is refused.

Refused: empty names, absolute paths (`/etc/x`, `C:\\x`), home-relative ones
(`~/x`), any `..` component, anything under `.git/` (in any letter case, as
case-insensitive file systems see it), and any path that a symlink carries
outside the root or into `.git/`. Writes go to the resolved file, so editing
through an inner symlink changes its target, never replaces the link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .model import EditError

__all__ = ["Confined", "confine"]

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]|^\\\\")


@dataclass(frozen=True, slots=True)
class Confined:
    """`target` is the real file to read and write; `name` is how messages show it."""

    name: str
    target: Path


def confine(root: Path, raw: str) -> Confined:
    name = _checked_name(raw)
    real_root = root.resolve()
    target = (real_root / name).resolve()
    if not target.is_relative_to(real_root):
        raise EditError(f"{raw}: refused: a symlink takes it outside the project root")
    inside = target.relative_to(real_root)
    if _in_git(PurePosixPath(inside.as_posix())):
        raise EditError(f"{raw}: refused: a symlink takes it into .git/")
    if target == real_root or target.is_dir():
        raise EditError(f"{raw}: is a directory, not a file")
    return Confined(name, target)


def _checked_name(raw: str) -> str:
    """The path as a clean relative name (`./a//b` → `a/b`), or why it is refused."""
    if not raw.strip():
        raise EditError("an edit has an empty path")
    if "\0" in raw:
        raise EditError(f"{raw!r}: refused: the path contains a NUL byte")
    path = PurePosixPath(raw)
    if path.is_absolute() or _DRIVE.match(raw):
        raise EditError(
            f"{raw}: refused: absolute paths are not allowed; give it relative to the project root"
        )
    if raw.startswith("~"):
        raise EditError(
            f"{raw}: refused: paths must be relative to the project root, not to a home directory"
        )
    if ".." in path.parts:
        raise EditError(f"{raw}: refused: '..' may not leave the project root")
    if _in_git(path):
        raise EditError(f"{raw}: refused: files under .git/ are never edited")
    name = path.as_posix()
    if name in ("", "."):
        raise EditError(f"{raw}: names the project root, not a file")
    return name


def _in_git(path: PurePosixPath) -> bool:
    return any(part.casefold() == ".git" for part in path.parts)

"""Writing changes with a way back: snapshots, atomic writes, exact rollback.

Input: the `Change`s of one attempt. Output: the files written — each through
a temporary file in its own directory renamed over it (`os.replace`), so a
reader never sees half a file, with its permission bits kept — and, until
`keep()`, a snapshot of every touched file's exact bytes (or the fact that it
did not exist) and of every directory made for a new file.

`rollback()` puts all of it back: contents byte for byte (a user's uncommitted
work included), deleted files recreated with their modes, created files and
directories removed. It never awaits, so a cancellation cannot cut it short;
callers run it from `finally`/`except BaseException`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .changes import Change
from .model import EditError

__all__ = ["Transaction", "write_atomic"]


@dataclass(frozen=True, slots=True)
class _Saved:
    data: bytes | None  # None: the file did not exist
    mode: int | None


class Transaction:
    def __init__(self) -> None:
        self._saved: dict[Path, _Saved] = {}
        self._made: list[Path] = []  # directories created for new files, outermost first

    @property
    def pending(self) -> bool:
        """Whether there is anything to roll back."""
        return bool(self._saved or self._made)

    def apply(self, changes: Sequence[Change]) -> None:
        """Snapshot every file first, then write; a write that fails undoes the others."""
        for change in changes:
            self._snapshot(change.target)
        for change in changes:
            try:
                self._write(change)
            except OSError as error:
                problems = self.rollback()
                why = error.strerror or str(error)
                left = f" (and restoring failed: {'; '.join(problems)})" if problems else ""
                raise EditError(f"{change.name}: could not be written: {why}{left}") from None

    def rollback(self) -> list[str]:
        """Restore every snapshot; returns what could not be restored (normally nothing)."""
        problems: list[str] = []
        for target, saved in reversed(self._saved.items()):
            try:
                _restore(target, saved)
            except OSError as error:
                problems.append(f"{target}: {error.strerror or error}")
        for directory in reversed(self._made):
            with contextlib.suppress(OSError):  # not empty: something else lives there now
                directory.rmdir()
        self.keep()
        return problems

    def keep(self) -> None:
        """Forget the snapshots: what was written stays."""
        self._saved.clear()
        self._made.clear()

    def _snapshot(self, target: Path) -> None:
        if target in self._saved:
            return  # the first snapshot is the original
        if target.is_file():
            self._saved[target] = _Saved(target.read_bytes(), stat.S_IMODE(target.stat().st_mode))
        else:
            self._saved[target] = _Saved(None, None)

    def _write(self, change: Change) -> None:
        if change.after is None:
            change.target.unlink(missing_ok=True)
            return
        self._make_parents(change.target.parent)
        write_atomic(change.target, change.after, self._saved[change.target].mode)

    def _make_parents(self, directory: Path) -> None:
        missing = [d for d in (directory, *directory.parents) if not d.exists()]
        for parent in reversed(missing):
            parent.mkdir()
            self._made.append(parent)


def _restore(target: Path, saved: _Saved) -> None:
    if saved.data is None:
        if not target.is_dir():  # a directory there now is not ours to remove
            target.unlink(missing_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, saved.data, saved.mode)


def write_atomic(path: Path, data: bytes, mode: int | None) -> None:
    """Replace `path` with `data` in one rename; `mode` None: a new file (umask applies)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.llm-mux-tmp")
    # A new file is opened 0o666 so the kernel applies the umask, as for any new file.
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else 0o600
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise

"""`run --context FILE`: files whose contents go before every query prompt.

Input: the paths given on the command line and the directory they are relative
to (`-C`, default the current one). Output: `ContextFile`s, read once when the
run starts, and the `preamble` text a query step puts before its prompt —
each file under a header naming it, in the order given, then a line that
says where the context ends and the step's own prompt begins:

    === context: docs/design.md ===
    <the file's text>

    === end of context ===

    <the prompt>

A file that does not exist, is a directory, or cannot be read is a usage error
(exit 2) before anything runs. Bytes that are not UTF-8 are replaced, as a CLI
backend's output is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from ..errors import UsageError

__all__ = ["ContextFile", "preamble", "read_context_file", "read_context_files"]


class ContextFile(msgspec.Struct, frozen=True):
    name: str  # as given on the command line: what the header shows
    path: Path  # absolute: what the ledger records, so `runs resume` reads it again
    text: str


def read_context_files(paths: Sequence[Path | str], cwd: Path) -> tuple[ContextFile, ...]:
    """The files given on the command line, relative to `cwd`, named as given."""
    return tuple(read_context_file(cwd / path, str(path)) for path in paths)


def read_context_file(path: Path, name: str) -> ContextFile:
    """One file, under the header `name` (a resumed run reads its recorded files again)."""
    path = path.resolve()
    if not path.exists():
        raise UsageError(f"--context file not found: {name}")
    if path.is_dir():
        raise UsageError(f"--context expects a file, and {name} is a directory")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"--context file {name} cannot be read: {error.strerror}") from None
    return ContextFile(name, path, data.decode("utf-8", errors="replace"))


def preamble(files: Sequence[ContextFile]) -> str:
    """The text before every query prompt ("" without context files)."""
    if not files:
        return ""
    blocks = "".join(f"=== context: {f.name} ===\n{f.text.rstrip()}\n\n" for f in files)
    return blocks + "=== end of context ===\n\n"

"""Unified diffs as models write them, read into `FilePatch`es.

Input: model output that holds a diff — bare, or in a ```diff fence inside
prose. Output: one `FilePatch` per file (several files in one diff are
fine), or an `EditError` naming the problem.

Models are sloppy in known ways, and each is accepted on purpose: `a/`/`b/`
prefixes or none, `/dev/null` for created and deleted files, blank context
lines that lost their leading space, `@@` headers with wrong or missing line
numbers (hunks are placed by their context later, in `hunks.py`), prose
before, between and after the files. The header's line counts are not
trusted, except to tell a trailing blank context line from a blank line of
prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .fences import fenced_blocks
from .model import EditError, FilePatch, Hunk, HunkLine

__all__ = ["find_diff", "parse_diff"]

_DIFF_LANGUAGES = frozenset({"diff", "patch", "udiff"})
_MARKERS = re.compile(r"^(?:--- [^\n]*\n\+\+\+ |diff --git |@@ -?\d)", re.M)
_HUNK = re.compile(r"^@@+\s*(?:-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?)?\s*@@+")
_GIT = re.compile(r"^diff --git (?:\"?a/)?(.+?)\"? (?:\"?b/)?(.+?)\"?$")


def find_diff(text: str) -> str | None:
    """The diff in `text`: its ```diff fences (joined), else the text itself if it holds one."""
    fenced = [
        body
        for language, body in fenced_blocks(text)
        if language in _DIFF_LANGUAGES or _MARKERS.search(body)
    ]
    if fenced:
        return "\n".join(fenced)
    return text if _MARKERS.search(text) else None


def parse_diff(text: str) -> tuple[FilePatch, ...]:
    """Every file patch in `text`, in order."""
    lines = text.splitlines()
    patches: list[FilePatch] = []
    current: _File | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("diff --git "):
            _flush(current, patches)
            current = _File(git=_git_paths(line))
        elif _is_file_header(lines, index):
            if current is None or current.has_header:
                _flush(current, patches)
                current = _File()
            current.set_header(_header_path(line[4:]), _header_path(lines[index + 1][4:]))
            index += 1
        elif _HUNK.match(line):
            if current is None or not (current.has_header or current.git):
                raise EditError(
                    f"the diff has a hunk ({line.strip()}) before any "
                    "'--- a/FILE' / '+++ b/FILE' header, so its file is unknown"
                )
            hunk, index = _read_hunk(lines, index)
            current.hunks.append(hunk)
            continue
        elif current is not None and current.git and not current.has_header:
            current.note_git_line(line)
        index += 1
    _flush(current, patches)
    if not patches:
        raise EditError("the diff names no file: expected '--- a/FILE' and '+++ b/FILE' lines")
    return tuple(patches)


# -- files ------------------------------------------------------------------------------
@dataclass
class _File:
    """A file section being read; `git` holds the paths of a `diff --git` line."""

    git: tuple[str, str] | None = None
    old_path: str | None = None
    new_path: str | None = None
    has_header: bool = False
    git_created: bool = False
    git_deleted: bool = False
    hunks: list[Hunk] = field(default_factory=list)

    def set_header(self, old: str | None, new: str | None) -> None:
        if old is None and new is None:
            raise EditError("a diff header has /dev/null on both sides ('---' and '+++')")
        self.old_path, self.new_path = _strip_prefixes(old, new)
        if "" in (self.old_path, self.new_path):
            raise EditError("a diff header ('---' or '+++') names no file")
        self.has_header = True

    def note_git_line(self, line: str) -> None:
        # Git writes no ---/+++ lines for an empty file created or deleted.
        self.git_created |= line.startswith("new file mode")
        self.git_deleted |= line.startswith("deleted file mode")

    def build(self) -> FilePatch | None:
        if not self.has_header:
            if self.git is None or not (self.git_created or self.git_deleted or self.hunks):
                return None  # a mode change or a rename git reports without content
            old, new = self.git
            self.old_path = None if self.git_created else old
            self.new_path = None if self.git_deleted else new
        patch = FilePatch(self.old_path, self.new_path, tuple(self.hunks))
        if not patch.hunks and patch.old_path is not None and patch.new_path is not None:
            raise EditError(f"{patch.path}: the diff has a header for it but no hunk (@@ … @@)")
        return patch


def _flush(current: _File | None, patches: list[FilePatch]) -> None:
    if current is not None and (patch := current.build()) is not None:
        patches.append(patch)


def _is_file_header(lines: list[str], index: int) -> bool:
    return (
        lines[index].startswith("--- ")
        and index + 1 < len(lines)
        and lines[index + 1].startswith("+++ ")
    )


def _header_path(raw: str) -> str | None:
    """`a/x.py\t2024-01-01 …` → `a/x.py`; `/dev/null` → None."""
    path = raw.split("\t", 1)[0].strip()
    if len(path) >= 2 and path[0] == path[-1] == '"':
        path = path[1:-1]
    return None if path == "/dev/null" else path


def _strip_prefixes(old: str | None, new: str | None) -> tuple[str | None, str | None]:
    """Drop git's `a/` and `b/` — only when every side that names a file has its prefix."""
    if (old is None or old.startswith("a/")) and (new is None or new.startswith("b/")):
        return (old[2:] if old else None, new[2:] if new else None)
    return old, new


def _git_paths(line: str) -> tuple[str, str] | None:
    match = _GIT.match(line)
    return (match.group(1), match.group(2)) if match else None


# -- hunks ------------------------------------------------------------------------------
def _read_hunk(lines: list[str], index: int) -> tuple[Hunk, int]:
    """The hunk whose header is `lines[index]`, and the index of the line after it."""
    header = lines[index].strip()
    match = _HUNK.match(header)
    assert match is not None
    old_start = int(match.group(1)) if match.group(1) else None
    old_count = _count(match.group(1), match.group(2))
    body: list[HunkLine] = []
    blanks: list[bool] = []  # which body lines were empty raw lines (a lost leading space)
    index += 1
    while index < len(lines) and not _ends_hunk(lines, index):
        raw = lines[index]
        if raw.startswith("\\"):  # "\ No newline at end of file" applies to the line before
            if body:
                body[-1] = HunkLine(body[-1].op, body[-1].text, newline=False)
        elif raw[:1] in (" ", "-", "+"):
            body.append(HunkLine(raw[0], raw[1:]))  # type: ignore[arg-type]
            blanks.append(False)
        elif raw.strip() == "":
            body.append(HunkLine(" ", ""))
            blanks.append(True)
        else:
            break  # prose after the diff
        index += 1
    _drop_trailing_blanks(body, blanks, old_count)
    if not body:
        raise EditError(f"the hunk {header} has no lines")
    return Hunk(header, old_start, tuple(body)), index


def _count(start: str | None, count: str | None) -> int | None:
    if start is None:
        return None
    return int(count) if count is not None else 1


def _ends_hunk(lines: list[str], index: int) -> bool:
    line = lines[index]
    return line.startswith("@@") or line.startswith("diff --git ") or _is_file_header(lines, index)


def _drop_trailing_blanks(body: list[HunkLine], blanks: list[bool], old_count: int | None) -> None:
    """Empty lines at a hunk's end are prose separators, unless the header counts them."""
    while body and blanks[-1]:
        old_side = sum(line.op != "+" for line in body)
        if old_count is not None and old_side <= old_count:
            return
        body.pop()
        blanks.pop()

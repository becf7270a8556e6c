"""Checking edits against the files: every edit is tried in memory before any write.

Input: parsed edits and the project root. Output: one `Change` per file whose
bytes would change — its real path, its bytes before (None: it does not exist)
and after (None: deleted) — or the first `EditError`, with nothing written.
Edits apply in order, so two edits to one file compose. `render_diff` shows
the changes as one unified diff.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, assert_never

from .confine import Confined, confine
from .hunks import apply_hunks
from .lines import split_lines
from .model import DeleteFile, Edit, EditError, FilePatch, Replace, WriteFile
from .replace import replace_once

__all__ = ["Change", "plan_changes", "render_diff"]

ChangeKind = Literal["created", "modified", "deleted"]


@dataclass(frozen=True, slots=True)
class Change:
    name: str
    target: Path
    before: bytes | None
    after: bytes | None

    @property
    def kind(self) -> ChangeKind:
        if self.before is None:
            return "created"
        return "deleted" if self.after is None else "modified"


def plan_changes(edits: Iterable[Edit], root: Path) -> tuple[Change, ...]:
    """What the edits would do to the files under `root`, all checked; nothing is written."""
    workspace = _Workspace(root)
    for edit in edits:
        _apply(workspace, edit)
    return workspace.changes()


# -- the files as the edits so far leave them ---------------------------------------------
class _Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.names: dict[Path, str] = {}
        self.original: dict[Path, bytes | None] = {}
        self.current: dict[Path, bytes | None] = {}

    def confine(self, raw: str) -> Confined:
        return confine(self.root, raw)

    def exists(self, file: Confined) -> bool:
        return self._bytes(file) is not None

    def read(self, file: Confined) -> str | None:
        data = self._bytes(file)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise EditError(
                f"{file.name}: is not UTF-8 text; binary files are not edited"
            ) from None

    def write(self, file: Confined, text: str | None) -> None:
        self._bytes(file)  # the original is recorded before the first change
        if text is not None and not self.exists(file):
            _check_creatable(file, self.root)
        self.current[file.target] = None if text is None else text.encode("utf-8")

    def _bytes(self, file: Confined) -> bytes | None:
        if file.target not in self.current:
            data = file.target.read_bytes() if file.target.is_file() else None
            self.names[file.target] = file.name
            self.original[file.target] = self.current[file.target] = data
        return self.current[file.target]

    def changes(self) -> tuple[Change, ...]:
        return tuple(
            Change(self.names[target], target, self.original[target], after)
            for target, after in self.current.items()
            if after != self.original[target]
        )


def _check_creatable(file: Confined, root: Path) -> None:
    """A new file's missing directories can be made: no ancestor is a plain file."""
    for parent in file.target.parents:
        if parent == root.resolve() or parent.is_dir():
            return
        if parent.exists():
            raise EditError(f"{file.name}: cannot be created: {parent.name} is not a directory")


# -- one edit -----------------------------------------------------------------------------
def _apply(workspace: _Workspace, edit: Edit) -> None:
    match edit:
        case Replace():
            _replace(workspace, edit)
        case WriteFile():
            workspace.write(workspace.confine(edit.path), edit.content)
        case DeleteFile():
            file = workspace.confine(edit.path)
            if not workspace.exists(file):
                raise EditError(f"{file.name}: cannot be deleted: it does not exist")
            workspace.write(file, None)
        case FilePatch():
            _patch(workspace, edit)
        case _:
            assert_never(edit)


def _replace(workspace: _Workspace, edit: Replace) -> None:
    file = workspace.confine(edit.path)
    text = workspace.read(file)
    if text is None:
        if edit.old.strip():  # "old" on a missing file can only be a mistake
            raise EditError(f'{file.name}: does not exist, so its "old" text cannot match')
        workspace.write(file, edit.new)
        return
    workspace.write(file, replace_once(file.name, text, edit.old, edit.new))


def _patch(workspace: _Workspace, patch: FilePatch) -> None:
    if patch.old_path is None:  # a new file
        file = workspace.confine(patch.path)
        if workspace.exists(file):
            raise EditError(f"{file.name}: the diff creates it (--- /dev/null), but it exists")
        workspace.write(file, apply_hunks(file.name, "", patch.hunks))
        return
    source = workspace.confine(patch.old_path)
    text = workspace.read(source)
    if text is None:
        raise EditError(f"{source.name}: the diff changes it, but it does not exist")
    patched = apply_hunks(source.name, text, patch.hunks)  # a deletion's lines must match too
    if patch.new_path is None:
        workspace.write(source, None)
        return
    target = workspace.confine(patch.new_path)
    if target.target != source.target:  # a rename
        if workspace.exists(target):
            raise EditError(f"{target.name}: the diff renames {source.name} to it, but it exists")
        workspace.write(source, None)
    workspace.write(target, patched)


# -- showing changes ---------------------------------------------------------------------
def render_diff(changes: Sequence[Change]) -> str:
    """The changes as one unified diff (git's a/ b/ names, /dev/null for new and gone files)."""
    return "".join(_file_diff(change) for change in changes)


def _file_diff(change: Change) -> str:
    old_name = f"a/{change.name}" if change.before is not None else "/dev/null"
    new_name = f"b/{change.name}" if change.after is not None else "/dev/null"
    lines = list(
        difflib.unified_diff(
            split_lines(_text(change.before)),
            split_lines(_text(change.after)),
            fromfile=old_name,
            tofile=new_name,
        )
    )
    if not lines:  # an empty file created or deleted: the header alone says so
        lines = [f"--- {old_name}\n", f"+++ {new_name}\n"]
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", errors="replace")

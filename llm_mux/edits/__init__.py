"""Edits from model output, applied all-or-nothing inside the project root.

Input: the text a model answered (a unified diff or JSON edits, bare or in
prose) and the project root. Output: checked `Change`s, written through a
`Transaction` that can restore every touched file byte for byte.

The stages, one module each: `parse_diff` / `parse_json` (text → `Edit`s,
chosen by `parse`), `confine` (a path → a real file inside the root, or a
refusal), `replace` and `hunks` (one edit against a file's text),
`changes` (every edit tried in memory: nothing is written unless all
apply), `transaction` (snapshots, atomic writes, rollback).
"""

from __future__ import annotations

from .changes import Change, plan_changes, render_diff
from .confine import Confined, confine
from .model import DeleteFile, Edit, EditError, FilePatch, Hunk, HunkLine, Replace, WriteFile
from .parse import parse_edits
from .parse_diff import find_diff, parse_diff
from .parse_json import parse_json_edits
from .transaction import Transaction, write_atomic

__all__ = [
    "Change",
    "Confined",
    "DeleteFile",
    "Edit",
    "EditError",
    "FilePatch",
    "Hunk",
    "HunkLine",
    "Replace",
    "Transaction",
    "WriteFile",
    "confine",
    "find_diff",
    "parse_diff",
    "parse_edits",
    "parse_json_edits",
    "plan_changes",
    "render_diff",
    "write_atomic",
]

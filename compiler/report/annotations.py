"""GitHub Actions workflow commands: `::error file=…,line=…,col=…,title=…::message`.

Input: annotations (level, file, line, column, title, message). Output: one line each,
escaped as the Actions runner expects, so a message with a newline, `%`, `:` or `,`
reaches the pull request whole and cannot end the command early.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

__all__ = ["Annotation", "render_annotations"]

Level = Literal["error", "warning", "notice"]


class Annotation(msgspec.Struct, frozen=True, kw_only=True):
    level: Level
    file: str
    line: int
    message: str
    title: str
    column: int | None = None
    end_line: int | None = None


def render_annotations(annotations: Iterable[Annotation]) -> str:
    return "".join(_line(a) + "\n" for a in annotations)


def _line(annotation: Annotation) -> str:
    properties = [("file", annotation.file), ("line", str(annotation.line))]
    if annotation.end_line is not None and annotation.end_line != annotation.line:
        properties.append(("endLine", str(annotation.end_line)))
    if annotation.column is not None:
        properties.append(("col", str(annotation.column)))
    properties.append(("title", annotation.title))
    shown = ",".join(f"{key}={_property(value)}" for key, value in properties)
    return f"::{annotation.level} {shown}::{_data(annotation.message)}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")

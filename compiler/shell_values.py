"""Shell commands rendered with every value made inert where it lands.

Stage: run time (shared with the compiler's template environment, pure).  Input: a shell
template being rendered; each `{{ }}` value passes through `finalize`, which leaves a
marker in the text.  Output: the command, each marker replaced by its value written for
the context the finished text puts it in (`shell_context.scan`) — one quoted word, text
inside '…' or "…", a here-document line, a comment, an integer in arithmetic — or a
`ShellValueError` when the position cannot hold a value safely.

Values from `| raw` are the author's shell code: they go into the text before the scan.
A value from `| shell_escape` is one quoted word, safe as a word and nowhere else: in any
other position it is written as text like every other value.
"""

from __future__ import annotations

import bisect
import re
import secrets
import shlex
from collections.abc import Callable
from contextvars import ContextVar

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext

from .filters import ShellRaw, ShellSafe, shell_escape, text_of
from .shell_context import HOLE, REFUSED, Body, Context, Hole, scan

__all__ = ["ShellValueError", "finalize", "render_shell"]


class ShellValueError(ValueError):
    """A value cannot be put where the command puts it; the message names the fix."""


class _Values:
    """The values of one rendering, each standing in the text as a marker."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.values: list[object] = []
        self.marker = re.compile(f"\ue001{self.nonce}:([0-9]+)\ue001")

    def add(self, value: object) -> str:
        self.values.append(value)
        return f"\ue001{self.nonce}:{len(self.values) - 1}\ue001"

    def fill(self, text: str) -> str:
        if not self.values:
            return text
        parts = self.marker.split(text)
        literals, indexes = parts[0::2], [int(i) for i in parts[1::2]]
        result = scan(HOLE.join(piece.replace(HOLE, "_") for piece in literals))
        written = [
            _write(self.values[i], hole) for i, hole in zip(indexes, result.holes, strict=True)
        ]
        pieces = [piece for pair in zip(literals, [*written, ""], strict=True) for piece in pair]
        out = "".join(pieces)
        _check_bodies(out, result.bodies, literals, written)
        return out


_CURRENT: ContextVar[_Values | None] = ContextVar("llm_mux_shell_values", default=None)


@pass_eval_context
def finalize(eval_ctx: EvalContext, value: object) -> object:
    """Jinja's finalize for shell templates: every `{{ }}` value becomes a marker.

    (`pass_eval_context` also keeps Jinja from folding constants at compile time, so
    `{{ "a b" }}` is placed like any other value.)
    """
    if isinstance(value, ShellRaw):
        return value
    values = _CURRENT.get()
    if values is None:  # rendered outside `render_shell`: one quoted word, as before
        return value if isinstance(value, ShellSafe) else shell_escape(value)
    return values.add(value)


def render_shell(render: Callable[[], str]) -> str:
    """Call `render` (a shell template's rendering) and put its values in place."""
    values = _Values()
    token = _CURRENT.set(values)
    try:
        text = render()
    finally:
        _CURRENT.reset(token)
    return values.fill(text)


# -- one value, written for its context ----------------------------------------------------
_DOUBLE_LIVE = re.compile(r'([\\$`"])')
_HEREDOC_LIVE = re.compile(r"([\\$`])")
_INTEGER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)")
_NOTHING = "${-%%*}"  # expands to "": starts a line that must not read as the end line


def _write(value: object, hole: Hole) -> str:
    written = _written(value, hole)
    if hole.in_heredoc and hole.context in (Context.WORD, Context.SINGLE):
        # A here-document's body is read line by line first, and a \ before a line break
        # joins the lines even inside '…': close and reopen the quotes in between.
        return written.replace("\\\n", "\\''\n")
    return written


def _written(value: object, hole: Hole) -> str:
    text = text_of(value)
    match hole.context:
        case Context.WORD:
            return text if isinstance(value, ShellSafe) else shlex.quote(text)
        case Context.SINGLE:
            return text.replace("'", "'\\''")
        case Context.DOUBLE:
            return _DOUBLE_LIVE.sub(r"\\\1", text)
        case Context.HEREDOC:
            return _heredoc_lines(_HEREDOC_LIVE.sub(r"\\\1", text), hole)
        case Context.HEREDOC_LITERAL:
            return text  # nothing to escape; `_check_bodies` sees that no line ends it
        case Context.COMMENT:
            return text.replace("\n", " ")
        case Context.ARITHMETIC:
            return _integer(text)
        case _:
            what, fix = REFUSED[hole.context]
            raise ShellValueError(f"a value {what} cannot be made safe; {fix}")


def _heredoc_lines(text: str, hole: Hole) -> str:
    """Lines of the value that could read as the end line (or lose tabs) start with `_NOTHING`."""
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if (n or hole.line_start) and _may_end(line, hole):
            lines[n] = _NOTHING + line
    return "\n".join(lines)


def _may_end(line: str, hole: Hole) -> bool:
    if hole.strip_tabs and line.startswith("\t"):
        return True
    line = line.lstrip("\t") if hole.strip_tabs else line
    # A line starting with the delimiter is guarded too: dash drops the first non-ASCII
    # byte after it (`EOFé` arrives as `EOF\xa9`).
    return hole.delimiter.startswith(line) or line.startswith(hole.delimiter)


def _integer(text: str) -> str:
    if _INTEGER.fullmatch(text.strip()) is None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise ShellValueError(
            f"a value inside $(( )) must be an integer, got {shown!r}; "
            "check or convert it first (| int)"
        )
    return text.strip()


def _check_bodies(
    out: str, bodies: tuple[Body, ...], literals: list[str], written: list[str]
) -> None:
    """No line a value brought into a here-document may end it early (or be cut by <<-)."""
    if not bodies:
        return
    starts, shift, position = [], [0], 0
    for literal, value in zip(literals[:-1], written, strict=True):
        position += len(literal)
        starts.append(position)
        shift.append(shift[-1] + len(value) - 1)
        position += 1
    for body in bodies:
        begin = body.start + shift[bisect.bisect_left(starts, body.start)]
        end = body.end + shift[bisect.bisect_left(starts, body.end)]
        for line in out[begin:end].split("\n"):
            _check_body_line(line.lstrip("\t") if body.strip_tabs else line, body.delimiter)


def _check_body_line(line: str, delimiter: str) -> None:
    fix = (
        "pass the value through a file or stdin, or use an unquoted <<delimiter "
        "(values are made safe there)"
    )
    if line == delimiter:
        raise ShellValueError(
            f"a value holds the line {delimiter!r}, which would end the here-document early; {fix}"
        )
    if line.startswith(delimiter) and not line[len(delimiter) :][:1].isascii():
        raise ShellValueError(
            f"a value holds a line starting with {delimiter!r} and a non-ASCII character, "
            f"which sh (dash) garbles in a here-document; {fix}"
        )

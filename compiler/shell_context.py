"""The shell context of every `{{ }}` value in a shell command.

Stage: shared by the compiler (which refuses positions no value can be made safe in, E605)
and the run time (which renders every value for the context it actually lands in).
Input: shell text in which each value is one `HOLE` character.  Output: a `Scan`: for each
hole, in order, its `Context` (plain word, inside '…' or "…", a here-document body, a
comment, arithmetic, …), and where every here-document body is.

The scan follows POSIX sh and bash: no escapes inside single quotes; a backslash escapes
the next character elsewhere; `$(…)` opens a new command (quotes start afresh inside
it); `#` at the start of a word comments out the rest of the line; after the line holding
`<<EOF` (or `<<-EOF`, `<<'EOF'`) the body runs up to the line that is exactly the
delimiter (`<<-`: after leading tabs).  Rarer constructs the scan does not model (case
patterns inside `$(…)`, arithmetic in `[[ ]]`) are listed in docs/security.md.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["HOLE", "REFUSED", "Body", "Context", "Hole", "Scan", "refused_positions", "scan"]

HOLE = "\ue000"  # one value, in the text the scan reads


class Context(StrEnum):
    """Where a value lands. The first seven are made inert; the rest are refused."""

    WORD = "word"  # outside quotes: quoted as one word
    SINGLE = "single"  # inside '…'
    DOUBLE = "double"  # inside "…"
    HEREDOC = "heredoc"  # body of <<EOF / <<-EOF: $, ` and \ are live
    HEREDOC_LITERAL = "heredoc-literal"  # body of <<'EOF': nothing is live but the end line
    COMMENT = "comment"  # after # : only a line break would end it
    ARITHMETIC = "arithmetic"  # $(( … )), (( … )), $[ … ]: integers only
    BACKTICK = "backtick"
    PARAMETER = "parameter"
    ANSI_C = "ansi-c"
    DELIMITER = "delimiter"
    AFTER_DOLLAR = "after-dollar"
    AFTER_BACKSLASH = "after-backslash"


# Positions no value can be made inert in: (what it is, the fix), for messages.
REFUSED: dict[Context, tuple[str, str]] = {
    Context.BACKTICK: ("inside backticks `…`", "use $( … ) instead of backticks"),
    Context.PARAMETER: (
        "inside ${ … }",
        "set a variable first (v={{ … }}) and use ${…$v…}",
    ),
    Context.ANSI_C: ("inside $'…'", "drop the $'…' quotes: the value is quoted for you"),
    Context.DELIMITER: (
        "as a here-document delimiter",
        "write the delimiter out (<<EOF) and put the value in the body",
    ),
    Context.AFTER_DOLLAR: (
        "right after a $",
        "drop the $ (the value is inserted as it is) or put a space between",
    ),
    Context.AFTER_BACKSLASH: (
        "right after a backslash",
        "drop the backslash: the value is quoted for you",
    ),
}


@dataclass(frozen=True)
class Hole:
    """One value's position: its context and, in a here-document, how its body reads."""

    context: Context
    delimiter: str = ""  # in a here-document body: its end line
    strip_tabs: bool = False  # in a <<- body
    line_start: bool = False  # nothing (<<-: only tabs) before it on its body line
    in_heredoc: bool = False  # inside $( … ) in a here-document body, whose \<newline> go


@dataclass(frozen=True)
class Body:
    """A here-document body: text[start:end] of the scanned text, before its end line."""

    start: int
    end: int
    delimiter: str
    strip_tabs: bool


@dataclass(frozen=True)
class Scan:
    holes: tuple[Hole, ...]
    bodies: tuple[Body, ...]


@dataclass
class _Frame:
    kind: str  # cmd, sq, dq, bq, ansi, param, arith, comment, hd (heredoc), hdq (quoted)
    close: str = ""  # cmd: ")" inside $( ); arith: "))" or "]"
    depth: int = 0
    heredoc: _Pending | None = None
    start: int = 0


@dataclass(frozen=True)
class _Pending:
    delimiter: str
    strip_tabs: bool
    quoted: bool


@dataclass
class _Scanner:
    text: str
    i: int = 0
    prev: str = "\n"
    escaped: bool = False
    line_begin: int = 0
    stack: list[_Frame] = field(default_factory=lambda: [_Frame("cmd")])
    pending: list[_Pending] = field(default_factory=list)
    holes: list[Hole] = field(default_factory=list)
    bodies: list[Body] = field(default_factory=list)

    def run(self) -> Scan:
        while self.i < len(self.text):
            char = self.text[self.i]
            self.i += 1
            self._step(char)
            self.prev = "x" if char == HOLE else char
        return Scan(tuple(self.holes), tuple(self.bodies))

    def _step(self, char: str) -> None:
        frame = self.stack[-1]
        if self.escaped:
            self.escaped = False
            if char == HOLE:
                self._hole(Context.AFTER_BACKSLASH)
            return
        match frame.kind:
            case "sq":
                self._single(char)
            case "comment":
                self._comment(char)
            case "hdq":
                self._heredoc_literal(char)
            case _:
                self._live(frame, char)

    # -- the frames -----------------------------------------------------------------------
    def _single(self, char: str) -> None:
        if char == HOLE:
            self._hole(Context.SINGLE)
        elif char == "'":
            self.stack.pop()

    def _comment(self, char: str) -> None:
        if char == HOLE:
            self._hole(Context.COMMENT)
        elif char == "\n":
            self.stack.pop()
            self.i -= 1  # the line break belongs to the command (heredocs start there)
            self.prev = " "

    def _heredoc_literal(self, char: str) -> None:
        if char == HOLE:
            self._hole(Context.HEREDOC_LITERAL)
        elif char == "\n":
            self._body_line()

    def _live(self, frame: _Frame, char: str) -> None:
        """Frames where $, ` and \\ work: commands, "…", here-documents, ${…}, $((…))."""
        if char == HOLE:
            self._hole(self._live_context(frame))
        elif char == "\\":
            self.escaped = True
        elif char == "$":
            self._dollar()
        elif char == "`":
            if frame.kind == "bq":
                self.stack.pop()
            else:
                self.stack.append(_Frame("bq"))
        elif frame.kind == "bq":
            pass
        elif frame.kind == "ansi":
            if char == "'":
                self.stack.pop()
        elif frame.kind == "dq":
            if char == '"':
                self.stack.pop()
        elif frame.kind == "hd":
            if char == "\n":
                self._body_line()
        elif frame.kind == "param":
            self._param(frame, char)
        elif frame.kind == "arith":
            self._arith(frame, char)
        else:
            self._command(frame, char)

    def _live_context(self, frame: _Frame) -> Context:
        if self.prev == "$" and frame.kind in ("cmd", "dq", "hd"):
            return Context.AFTER_DOLLAR
        contexts = {
            "cmd": Context.WORD,
            "dq": Context.DOUBLE,
            "bq": Context.BACKTICK,
            "ansi": Context.ANSI_C,
            "param": Context.PARAMETER,
            "arith": Context.ARITHMETIC,
            "hd": Context.HEREDOC,
        }
        return contexts[frame.kind]

    def _dollar(self) -> None:
        rest = self.text[self.i : self.i + 2]
        if rest == "((":
            self.stack.append(_Frame("arith", close="))"))
            self.i += 2
        elif rest[:1] == "(":
            self.stack.append(_Frame("cmd", close=")"))
            self.i += 1
        elif rest[:1] == "{":
            self.stack.append(_Frame("param"))
            self.i += 1
        elif rest[:1] == "[":
            self.stack.append(_Frame("arith", close="]"))
            self.i += 1
        elif rest[:1] == "'" and self.stack[-1].kind in ("cmd", "param"):
            self.stack.append(_Frame("ansi"))
            self.i += 1

    def _param(self, frame: _Frame, char: str) -> None:
        if char == "{":
            frame.depth += 1
        elif char == "}":
            if frame.depth == 0:
                self.stack.pop()
            else:
                frame.depth -= 1

    def _arith(self, frame: _Frame, char: str) -> None:
        if char == "(":
            frame.depth += 1
        elif char == ")" and frame.depth > 0:
            frame.depth -= 1
        elif frame.close == "]" and char == "]":
            self.stack.pop()
        elif frame.close == "))" and char == ")" and self.text[self.i : self.i + 1] == ")":
            self.i += 1
            self.stack.pop()

    def _command(self, frame: _Frame, char: str) -> None:
        if char == "'":
            self.stack.append(_Frame("sq"))
        elif char == '"':
            self.stack.append(_Frame("dq"))
        elif char == "#" and self.prev in _WORD_BREAKS:
            self.stack.append(_Frame("comment"))
        elif char == "<" and self.text[self.i : self.i + 1] == "<":
            self._heredoc_operator()
        elif char == "(":
            self._open_paren(frame)
        elif char == ")":
            self._close_paren(frame)
        elif char == "\n" and self.pending:
            self._start_body()

    def _open_paren(self, frame: _Frame) -> None:
        if self.text[self.i : self.i + 1] == "(" and _COMMAND_START.search(
            self.text, 0, self.i - 1
        ):
            self.stack.append(_Frame("arith", close="))"))  # bash's (( … ))
            self.i += 1
        else:
            frame.depth += 1

    def _close_paren(self, frame: _Frame) -> None:
        if frame.depth > 0:
            frame.depth -= 1
        elif frame.close == ")" and len(self.stack) > 1:
            self.stack.pop()

    # -- here-documents -------------------------------------------------------------------
    def _heredoc_operator(self) -> None:
        self.i += 1  # the second <
        if self.text[self.i : self.i + 1] == "<":
            self.i += 1  # <<< here-string: an ordinary word follows
            return
        strip = self.text[self.i : self.i + 1] == "-"
        self.i += strip
        while self.text[self.i : self.i + 1] in (" ", "\t") and self.i < len(self.text):
            self.i += 1
        match = _DELIMITER.match(self.text, self.i)
        word = match.group(0) if match else ""
        self.i += len(word)
        for _ in range(word.count(HOLE)):
            self._hole(Context.DELIMITER)
        quoted = any(q in word for q in "'\"\\")
        delimiter = re.sub(r"\\(.)|['\"]", lambda m: m.group(1) or "", word)
        self.pending.append(_Pending(delimiter, strip, quoted))
        self.prev = "x"

    def _start_body(self) -> None:
        pending = self.pending.pop(0)
        kind = "hdq" if pending.quoted else "hd"
        self.stack.append(_Frame(kind, heredoc=pending, start=self.i))
        self._body_line()

    def _body_line(self) -> None:
        """At a line break inside a body: the next line may be the end line."""
        self.line_begin = self.i
        frame = self.stack[-1]
        assert frame.heredoc is not None
        end = self.text.find("\n", self.i)
        end = len(self.text) if end < 0 else end
        line = self.text[self.i : end]
        if frame.heredoc.strip_tabs:
            line = line.lstrip("\t")
        if line != frame.heredoc.delimiter or HOLE in line:
            return
        here = frame.heredoc
        self.bodies.append(Body(frame.start, self.i, here.delimiter, here.strip_tabs))
        self.stack.pop()
        self.i = end + 1
        self.prev = "\n"
        if self.pending:
            self._start_body()

    def _hole(self, context: Context) -> None:
        frame = self.stack[-1]
        if context not in REFUSED and any(f.kind == "bq" for f in self.stack):
            context = Context.BACKTICK  # the shell reads backslashes there first
        if context in (Context.HEREDOC, Context.HEREDOC_LITERAL) and frame.heredoc:
            before = self.text[self.line_begin : self.i - 1]
            strip = frame.heredoc.strip_tabs
            at_start = (before.lstrip("\t") if strip else before) == ""
            self.holes.append(Hole(context, frame.heredoc.delimiter, strip, at_start))
        else:
            nested = any(f.kind == "hd" for f in self.stack)
            self.holes.append(Hole(context, in_heredoc=nested))


_WORD_BREAKS = frozenset(" \t\n;&|()<>")
_DELIMITER = re.compile(r"""(?:[^\s;&|()<>'"\\]|\\.|'[^']*'|"[^"]*")+""")
# `((` opens arithmetic where a command starts (bash); elsewhere it is two subshells.
_COMMAND_START = re.compile(r"(?:^|[\n;&|(!{]|\b(?:if|then|do|else|elif|while|until))[ \t]*\Z")
_QUIET = re.compile(r"['\"\\#$`<(]")  # text without these holds only plain words


def scan(text: str) -> Scan:
    """The context of every `HOLE` in `text`, and its here-document bodies."""
    if _QUIET.search(text) is None:
        return Scan(tuple(Hole(Context.WORD) for _ in range(text.count(HOLE))), ())
    return _Scanner(text).run()


def refused_positions(
    pieces: Iterable[str | int], skip: Container[int] = ()
) -> tuple[tuple[int, str], ...]:
    """(offset, context) of values in positions no value can be made safe in.

    The offsets are the ints of `pieces`.
    `pieces` alternates literal shell text (str) and the offsets of `{{` (int) in source
    order; block tags are left out.  Offsets in `skip` (`| raw`: the author's own code) are
    not reported.
    """
    text: list[str] = []
    offsets: list[int] = []
    for piece in pieces:
        if isinstance(piece, str):
            text.append(piece.replace(HOLE, "_"))
        else:
            text.append(HOLE)
            offsets.append(piece)
    holes = scan("".join(text)).holes
    return tuple(
        (offset, str(hole.context))
        for offset, hole in zip(offsets, holes, strict=True)
        if hole.context in REFUSED and offset not in skip
    )

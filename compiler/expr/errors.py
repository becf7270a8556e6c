"""The two ways an expression goes wrong: it does not parse, or it fails when evaluated.

Stage: shared by `parse` (compile time) and `evaluate` (run time).
Input: a designed message and a position.  Output: exceptions the callers turn into
diagnostics (`file:line:col`) or step failures.
"""

from __future__ import annotations

__all__ = ["ExprEvalError", "ExprSyntaxError"]


class ExprSyntaxError(Exception):
    """The text is not an expression.

    `offset` is 0-based into the expression text; `hint` says how to fix it, when we know.
    """

    def __init__(self, message: str, offset: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint

    def __repr__(self) -> str:
        return f"ExprSyntaxError({self.message!r}, offset={self.offset}, hint={self.hint!r})"


class ExprEvalError(Exception):
    """Evaluating an expression failed; `start`/`end` locate the failing part of its text."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"ExprEvalError({self.message!r}, start={self.start}, end={self.end})"

"""Designed syntax-error messages: what Lark reports, said the way a user thinks about it.

Stage: error path of `parse`.  Input: the expression text, where parsing stopped, and the
tokens before (and after) that point.  Output: an `ExprSyntaxError` whose message names the
problem ("unexpected '-' after steps.rust") and whose hint says what to write instead
("step names with '-' are written steps['rust-only']").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lark import Token

from .errors import ExprSyntaxError

__all__ = ["at_end", "bad_character", "bad_token"]

Lexer = Callable[[str], list[Token]]

# Tokens after which an operand must follow.
_NEEDS_OPERAND = {"and", "or", "not", "==", "!=", "<", "<=", ">", ">=", "in", "-", "="}
_OPERAND_START = {"NAME", "STRING", "INT", "FLOAT", "LSQB", "LPAR"}
_OPERAND_END = {"NAME", "STRING", "INT", "FLOAT", "RSQB", "RPAR"}
_CLOSER = {"(": ")", "[": "]"}
_NO_BRACES = "expressions are written without {{ }}"
_NO_ARITHMETIC = "arithmetic is not supported in expressions; compute the value in a step"
_MISSING_OPERATOR = "an operator such as 'and', 'or' or '==' is missing between them"


def show(token: Token) -> str:
    """A token as a message quotes it: 'and', or the start of a long string."""
    value = str(token.value)
    if len(value) > 24:
        value = value[:20] + "…" + value[-1]
    return f"'{value}'" if token.type != "STRING" else value


def _start(token: Token) -> int:
    assert token.start_pos is not None
    return token.start_pos


def _end(token: Token) -> int:
    assert token.end_pos is not None
    return token.end_pos


def _operator_before(before: Sequence[Token]) -> str | None:
    """The operator that ends `before` and wants an operand, if any ('not in', 'and', ...)."""
    if not before or before[-1].value not in _NEEDS_OPERAND:
        return None
    if before[-1].value == "in" and len(before) > 1 and before[-2].value == "not":
        return "not in"
    if before[-1].value == "not" and len(before) > 1 and before[-2].value == "is":
        return "is not"
    return str(before[-1].value)


def _missing_after(before: Sequence[Token]) -> tuple[str, str | None] | None:
    """'expected ... after X' when the last token needs something after it."""
    if not before:
        return None
    last = before[-1].value
    operator = _operator_before(before)
    if operator == "is not":
        return "expected a test name after 'is not'", "for example: x is not none"
    if operator == "=":
        return "expected a value after '='", None
    if operator is not None:
        return f"expected an expression after '{operator}'", None
    if last == "|":
        return "expected a filter name after '|'", "for example: x | trim"
    if last == "is":
        return "expected a test name after 'is'", "for example: x is defined"
    if last == ".":
        return "expected a name after '.'", "for example: steps.build.output"
    return None


def _open_brackets(before: Sequence[Token]) -> list[Token]:
    stack: list[Token] = []
    for token in before:
        if token.value in _CLOSER:
            stack.append(token)
        elif token.value in (")", "]") and stack:
            stack.pop()
    return stack


def at_end(text: str, before: Sequence[Token]) -> ExprSyntaxError:
    """The text stopped too early."""
    if not before:
        return ExprSyntaxError("the expression is empty", 0, "for example: steps.test.failed")
    offset = len(text.rstrip())
    missing = _missing_after(before)
    if missing is not None:
        return ExprSyntaxError(missing[0], offset, missing[1])
    opened = _open_brackets(before)
    if opened:
        opener = opened[-1]
        closer = _CLOSER[opener.value]
        return ExprSyntaxError(
            f"'{opener.value}' is never closed", _start(opener), f"add '{closer}'"
        )
    return ExprSyntaxError("unexpected end of expression", offset)


def bad_token(text: str, token: Token, before: Sequence[Token], lex: Lexer) -> ExprSyntaxError:
    """A token that cannot come where it is."""
    for rule in _TOKEN_RULES:
        found = rule(text, token, before, lex)
        if found is not None:
            return found
    where = f" after {show(before[-1])}" if before else ""
    return ExprSyntaxError(f"unexpected {show(token)}{where}", _start(token))


def _minus(text: str, token: Token, before: Sequence[Token], lex: Lexer) -> ExprSyntaxError | None:
    if token.value != "-" or not before:
        return None
    path = _dotted_path_before(before)
    after = _hyphenated_tail(lex(text[_end(token) :]))
    if path is None:
        message = f"unexpected '-' after {show(before[-1])}"
        return ExprSyntaxError(message, _start(token), _NO_ARITHMETIC)
    parts, path_start = path
    message = f"unexpected '-' after {text[path_start : _end(before[-1])]}"
    if after is None or len(parts) < 2:
        return ExprSyntaxError(message, _start(token), _NO_ARITHMETIC)
    name = f"{parts[-1]}-{after}"
    prefix = ".".join(parts[:-1])
    kind = "step names" if parts[:-1] == ["steps"] else "names"
    return ExprSyntaxError(
        message, _start(token), f"{kind} with '-' are written {prefix}['{name}']"
    )


def _dotted_path_before(before: Sequence[Token]) -> tuple[list[str], int] | None:
    """`steps.rust` at the end of `before`, as (["steps", "rust"], offset of "steps")."""
    if before[-1].type not in ("NAME", "AND", "OR", "NOT", "IN", "IS"):
        return None
    i = len(before) - 1
    while i >= 2 and before[i - 1].value == "." and before[i - 2].type == "NAME":
        i -= 2
    if i > 0 and before[i - 1].value == ".":
        return None  # the path starts with something that is not a plain name
    parts = [str(t.value) for t in before[i::2]]
    return parts, _start(before[i])


def _hyphenated_tail(after: Sequence[Token]) -> str | None:
    """`only` or `only-x` from the tokens after the '-' of `rust-only-x`."""
    if not after or after[0].type != "NAME":
        return None
    names = [str(after[0].value)]
    i = 1
    while i + 1 < len(after) and after[i].value == "-" and after[i + 1].type == "NAME":
        names.append(str(after[i + 1].value))
        i += 2
    return "-".join(names)


def _single_equals(
    text: str, token: Token, before: Sequence[Token], lex: Lexer
) -> ExprSyntaxError | None:
    if token.value != "=":
        return None
    return ExprSyntaxError("unexpected '='", _start(token), "use '==' to compare")


def _double_bar(
    text: str, token: Token, before: Sequence[Token], lex: Lexer
) -> ExprSyntaxError | None:
    if token.value != "|" or not before or before[-1].value != "|":
        return None
    return ExprSyntaxError("unexpected '||'", _start(before[-1]), "use 'or'")


def _conditional(
    text: str, token: Token, before: Sequence[Token], lex: Lexer
) -> ExprSyntaxError | None:
    if token.type != "NAME" or token.value not in ("if", "else"):
        return None
    message = "conditional expressions (a if b else c) are not supported"
    return ExprSyntaxError(message, _start(token), "combine conditions with 'and' / 'or'")


def _comma(text: str, token: Token, before: Sequence[Token], lex: Lexer) -> ExprSyntaxError | None:
    if token.value != ",":
        return None
    opened = _open_brackets(before)
    if opened and opened[-1].value == "[":
        message = "an index holds one value: x[a, b] is not supported"
        return ExprSyntaxError(message, _start(token), "write x[a][b]")
    message = "tuples are not supported"
    return ExprSyntaxError(message, _start(token), "write a list: [a, b]")


def _not_without_in(
    text: str, token: Token, before: Sequence[Token], lex: Lexer
) -> ExprSyntaxError | None:
    # `a not b`: the parser waited for `not in`.
    if len(before) < 2 or before[-1].value != "not" or before[-2].type not in _OPERAND_END:
        return None
    return _stray_not(text, before[-1], before[:-1], lex)


def _missing_operand(
    text: str, token: Token, before: Sequence[Token], lex: Lexer
) -> ExprSyntaxError | None:
    missing = _missing_after(before)
    if missing is None:
        return None
    return ExprSyntaxError(f"{missing[0]}, found {show(token)}", _start(token), missing[1])


def _unmatched_closer(
    text: str, token: Token, before: Sequence[Token], lex: Lexer
) -> ExprSyntaxError | None:
    if token.value not in (")", "]"):
        return None
    opened = _open_brackets(before)
    if not opened:
        opener = "(" if token.value == ")" else "["
        return ExprSyntaxError(
            f"unexpected '{token.value}'", _start(token), f"no '{opener}' opens it"
        )
    if token.value == ")" and before and before[-1].value == "(":
        return ExprSyntaxError("empty parentheses", _start(before[-1]), "tuples are not supported")
    message = f"'{opened[-1].value}' is closed by '{token.value}'"
    return ExprSyntaxError(message, _start(token), f"close it with '{_CLOSER[opened[-1].value]}'")


def _stray_not(
    text: str, token: Token, before: Sequence[Token], lex: Lexer
) -> ExprSyntaxError | None:
    if token.value != "not" or not before:
        return None
    message = f"unexpected 'not' after {show(before[-1])}"
    hint = "write 'not in' for membership, 'is not' in a test, or put 'not' first: not a == b"
    return ExprSyntaxError(message, _start(token), hint)


def _adjacent_operands(
    text: str, token: Token, before: Sequence[Token], lex: Lexer
) -> ExprSyntaxError | None:
    if not before or token.type not in _OPERAND_START or before[-1].type not in _OPERAND_END:
        return None
    message = f"unexpected {show(token)} after {show(before[-1])}"
    return ExprSyntaxError(message, _start(token), _MISSING_OPERATOR)


_TOKEN_RULES = (
    _minus,
    _single_equals,
    _double_bar,
    _conditional,
    _comma,
    _not_without_in,
    _missing_operand,
    _unmatched_closer,
    _stray_not,
    _adjacent_operands,
)

_CHARACTER_HINTS = {
    "+": _NO_ARITHMETIC,
    "*": _NO_ARITHMETIC,
    "/": _NO_ARITHMETIC,
    "%": _NO_ARITHMETIC,
    "~": "'~' (string concatenation) is not supported; build the text in a template",
    "!": "use 'not'",
    "&": "use 'and'",
    "{": "dict literals are not supported",
    "}": "dict literals are not supported",
    "#": "comments are not supported in expressions",
    "\\": "backslashes only have a meaning inside strings",
}


def bad_character(text: str, offset: int, before: Sequence[Token]) -> ExprSyntaxError:
    """A character that starts no token."""
    char = text[offset]
    pair = text[offset : offset + 2]
    if char in "'\"":
        return ExprSyntaxError("unterminated string", offset, f"end the string with {char}")
    if pair in ("{{", "}}", "{%", "%}"):
        return ExprSyntaxError(f"unexpected '{pair}'", offset, _NO_BRACES)
    if char == ":" and any(t.value == "[" for t in _open_brackets(before)):
        message = "slices like x[1:2] are not supported"
        return ExprSyntaxError(message, offset, "use the first or last filter")
    if not char.isascii() and (char.isalnum() or char == "_"):
        hint = "names are written with ASCII letters, digits and '_'"
        return ExprSyntaxError(f"unexpected character {char!r}", offset, hint)
    return ExprSyntaxError(f"unexpected character {char!r}", offset, _CHARACTER_HINTS.get(char))

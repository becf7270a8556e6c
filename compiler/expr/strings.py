"""String literals of the expression language: a quoted token's value, as Jinja reads it.

Stage: front end, inside both parsers (`build` for the grammar's, `quick`).  Input: the
token's text, quotes included, and its offset.  Output: the string's value, or an
`ExprSyntaxError` at the offset for an escape that cannot be decoded.
"""

from __future__ import annotations

import codecs
import warnings

from .errors import ExprSyntaxError

__all__ = ["decode_string"]


def decode_string(raw: str, offset: int) -> str:
    """The value of a string token, exactly as Jinja's lexer computes it.

    Newlines are normalised, then Python's `unicode-escape` codec decodes the escapes
    (non-ASCII text passes through `backslashreplace` first, as in jinja2/lexer.py).
    """
    body = raw[1:-1].replace("\r\n", "\n").replace("\r", "\n")
    if "\\" not in body:
        return body
    try:
        with warnings.catch_warnings():
            # Unknown escapes such as "\d" stay as written, as in Jinja; Python warns.
            warnings.simplefilter("ignore", DeprecationWarning)
            return codecs.decode(body.encode("ascii", "backslashreplace"), "unicode-escape")
    except UnicodeDecodeError as exc:
        reason = str(exc).split(":")[-1].strip()
        raise ExprSyntaxError(f"invalid escape in string: {reason}", offset) from None

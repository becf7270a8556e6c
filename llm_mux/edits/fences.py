"""Markdown code fences in model output.

Input: text a model wrote. Output: its ``` blocks as (language, body) pairs,
in order — the language is "" when the fence names none. A fence closes only
on a line that is ``` alone, so a diff line such as "+```" stays inside.
"""

from __future__ import annotations

import re

__all__ = ["fenced_blocks"]

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    return [(language.lower(), body) for language, body in _FENCE.findall(text)]

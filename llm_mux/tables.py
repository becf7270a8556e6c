"""Plain text tables for people: `runs list`, `runs show`, `memory …`.

Input: column headers and rows of cells (already text). Output: aligned lines,
headers in capitals, two spaces between columns, trailing spaces trimmed. A
cell longer than `max_width` is cut with `…`; `--output json` carries the whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

__all__ = ["cell", "format_cost", "local_time", "render_table"]


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, max_width: int = 72
) -> str:
    cut = [[_cut(value, max_width) for value in row] for row in rows]
    widths = [
        max(len(header), *(len(row[i]) for row in cut)) if cut else len(header)
        for i, header in enumerate(headers)
    ]
    lines = [_line([h.upper() for h in headers], widths)]
    lines += [_line(row, widths) for row in cut]
    return "\n".join(lines) + "\n"


def cell(value: object) -> str:
    """A value as a table shows it: `-` for nothing, lists joined, floats short."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return " ".join(str(value).split())  # one line: newlines and tabs become spaces


def format_cost(cost: float) -> str:
    """A cost in the prices' currency: 4 decimals, more for small sums so that
    2 significant digits show (`0.0123`, `0.000045`), `0` for nothing."""
    if cost <= 0:
        return "0"
    decimals = max(4, 1 - math.floor(math.log10(cost)))
    return f"{cost:.{decimals}f}"


def local_time(stamp: object) -> str:
    """An ISO-8601 timestamp (stored in UTC) in the local time zone, to the second."""
    if not isinstance(stamp, str):
        return "-"
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"

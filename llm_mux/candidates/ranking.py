"""Choosing the winner among candidates that passed verification.

Input: each passing candidate's place in role order and its metric (a number,
or None when the metric command gave none). Output: the winner's place. Pure:
no I/O, so the rules are stated once and tested as laws.

- `select = "first"`: the first candidate to pass wins; the contest stops
  there (`contest`), so no ranking is needed.
- `select = "best"`: the best metric wins — the highest, or the lowest with
  `prefer = "lower"`; equal metrics go to the earlier backend in role order;
  a candidate without a metric ranks below every candidate with one (and
  among themselves by role order).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

__all__ = ["best", "read_metric"]

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def read_metric(stdout: str) -> float | None:
    """The first number on the last non-empty line: `42`, `score: 9.5/10` → 9.5,
    `5 passed in 0.12s` → 5. None when that line holds no (finite) number."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None
    found = _NUMBER.search(lines[-1])
    if found is None:
        return None
    value = float(found.group())
    return value if math.isfinite(value) else None


def best(
    passed: Sequence[tuple[int, float | None]], prefer: Literal["higher", "lower"]
) -> int | None:
    """The place of the winner among (place in role order, metric) pairs; None if empty."""
    if not passed:
        return None
    sign = 1.0 if prefer == "higher" else -1.0

    def rank(entry: tuple[int, float | None]) -> tuple[int, float, int]:
        place, metric = entry
        measured = metric is not None
        return (0 if measured else 1, -sign * (metric or 0.0), place)

    return min(passed, key=rank)[0]

"""Durations as users write them: `90`, `1.5`, `"500ms"`, `"90s"`, `"5m"`, `"1h"`.

Input: a TOML value and what a bare number means (seconds for `timeout`,
milliseconds for `retry_delay`). Output: seconds as a float. Shared by the
compiler's checks and the runtime, so both read a duration the same way.
"""

from __future__ import annotations

import re

__all__ = ["DurationError", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*")


class DurationError(ValueError):
    """The value is not a duration; the message says what is accepted."""


def parse_duration(value: int | float | str, *, bare_unit: str = "s") -> float:
    if isinstance(value, bool):
        raise DurationError(f"{str(value).lower()} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise DurationError(f"{value} is negative; durations are 0 or more")
        return float(value) * _UNITS[bare_unit]
    match = _PATTERN.fullmatch(value)
    if match is None:
        raise DurationError(
            f"'{value}' is not a duration; write a number with a unit: "
            '"500ms", "90s", "5m" or "1h"'
        )
    return float(match.group(1)) * _UNITS[match.group(2)]

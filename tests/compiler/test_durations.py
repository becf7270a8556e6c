"""Durations as users write them, and what the compiler says about bad ones."""

from __future__ import annotations

import pytest

from llm_mux.compiler.diagnostics import Location, Sink
from llm_mux.compiler.durations import DurationError, parse_duration
from llm_mux.compiler.passes.config import check_duration


@pytest.mark.parametrize(
    ("value", "bare_unit", "seconds"),
    [
        ("500ms", "s", 0.5),
        ("90s", "s", 90.0),
        ("5m", "s", 300.0),
        ("1h", "s", 3600.0),
        ("1.5h", "s", 5400.0),
        (" 2 m ", "s", 120.0),
        ("0s", "s", 0.0),
        (90, "s", 90.0),
        (1.5, "s", 1.5),
        (0, "s", 0.0),
        (1000, "ms", 1.0),
        (250, "ms", 0.25),
        ("2s", "ms", 2.0),  # a unit wins over the bare unit
    ],
)
def test_parse_duration(value: int | float | str, bare_unit: str, seconds: float) -> None:
    assert parse_duration(value, bare_unit=bare_unit) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10 min", "'10 min' is not a duration"),
        ("5", "'5' is not a duration"),
        ("1d", "'1d' is not a duration"),
        ("ms", "'ms' is not a duration"),
        ("-5s", "'-5s' is not a duration"),
        ("", "'' is not a duration"),
        (-5, "-5 is negative"),
        (True, "true is not a duration"),
    ],
)
def test_bad_durations_say_why(value: int | float | str, message: str) -> None:
    with pytest.raises(DurationError) as raised:
        parse_duration(value)
    assert str(raised.value).startswith(message)


def check(value: int | float | str, unit: str = "s") -> tuple[float | None, list[str]]:
    sink = Sink()
    seconds = check_duration(value, unit, "timeout", Location("w.toml", 3, 11), sink)
    return seconds, [f"{d.code} {d.message} | {d.hint}" for d in sink]


def test_check_duration_reports_a_bad_unit_with_the_accepted_forms() -> None:
    assert check("10 min") == (
        None,
        [
            "E501 'timeout': '10 min' is not a duration | "
            'write a number with a unit: "500ms", "90s", "5m" or "1h"'
        ],
    )


def test_a_bare_timeout_of_1000_or_more_looks_like_milliseconds() -> None:
    seconds, found = check(30000)
    assert seconds == 30000.0
    assert found == [
        "W502 'timeout' is 30000 seconds (8.3 hours) | did you mean milliseconds? write "
        '"30000ms" (for a file written for the Rust llm-mux, `llm-mux migrate FILE` rewrites '
        "them all)"
    ]
    assert check(999) == (999.0, [])
    assert check("3600s") == (3600.0, [])  # a unit says it is meant
    assert check(1000.5)[1] == []  # only whole numbers look like milliseconds


def test_milliseconds_keys_never_warn() -> None:
    assert check(30000, unit="ms") == (30.0, [])

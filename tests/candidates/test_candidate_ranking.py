"""The winner among passing candidates, and the metric read from stdout: laws and examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_mux.candidates import best, read_metric

metrics = st.one_of(st.none(), st.integers(-5, 5).map(float))
fields = st.lists(metrics, max_size=8).map(lambda ms: list(enumerate(ms, start=1)))


@given(fields, st.sampled_from(["higher", "lower"]))
def test_the_winner_has_the_best_metric_and_the_earliest_place(
    passed: list[tuple[int, float | None]], prefer: str
) -> None:
    winner = best(passed, prefer)  # type: ignore[arg-type]
    if not passed:
        assert winner is None
        return
    measured = [(place, m) for place, m in passed if m is not None]
    if not measured:
        assert winner == passed[0][0]
        return
    pick = max if prefer == "higher" else min
    target = pick(m for _, m in measured)
    assert winner == min(place for place, m in measured if m == target)


@given(fields, st.sampled_from(["higher", "lower"]))
def test_the_order_the_candidates_finished_in_does_not_matter(
    passed: list[tuple[int, float | None]], prefer: str
) -> None:
    assert best(passed, prefer) == best(list(reversed(passed)), prefer)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stdout", "metric"),
    [
        ("42", 42.0),
        ("Ran 3 tests in 0.001s\n\nOK\n3\n", 3.0),
        ("5 passed in 0.12s", 5.0),
        ("score: 9.5/10", 9.5),
        ("-3", -3.0),
        ("1e3 lines", 1000.0),
        ("", None),
        ("no number\n\n", None),
        ("7\nsummary follows", None),
    ],
)
def test_the_metric_is_the_first_number_of_the_last_line(stdout: str, metric: float | None) -> None:
    assert read_metric(stdout) == metric

"""Findings as data: laws of the merge and of the reconciliation, and the review
workflow's schemas kept equal to the code's."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from llm_mux.compiler.report.findings import (
    FINDINGS_SCHEMA,
    SEVERITIES,
    merge_findings,
    similar_titles,
)
from llm_mux.compiler.report.reconcile import RECONCILED_SCHEMA, reconcile
from llm_mux.compiler.report.review_filters import review_count, review_format

REVIEW = Path(__file__).resolve().parents[2] / "llm_mux" / "workflows" / "review.toml"

findings = st.fixed_dictionaries(
    {
        "file": st.sampled_from(["a.py", "b.py", "src/c.py"]),
        "line": st.integers(1, 40),
        "severity": st.sampled_from(SEVERITIES),
        "title": st.sampled_from(
            [
                "off by one in loop",
                "loop off by one",
                "sql injection",
                "race on counter",
                "unchecked error",
                "error not checked",
                "leaks file handle",
            ]
        ),
        "explanation": st.text(max_size=20),
    }
)
answers = st.lists(
    st.fixed_dictionaries({"findings": st.lists(findings, max_size=6)}), min_size=1, max_size=4
)


def reviewers(count: int) -> list[str]:
    return [f"r{i}" for i in range(count)]


@given(answers)
def test_every_finding_lands_in_exactly_one_merged_finding(given_answers: list[dict]) -> None:
    merged = merge_findings(given_answers, reviewers(len(given_answers)))
    total = sum(len(a["findings"]) for a in given_answers)
    assert sum(len(f.raised_by) for f in merged.findings) == total
    for found in merged.findings:
        assert len(set(found.raised_by)) == len(found.raised_by)  # a reviewer counts once
        assert 1 <= len(found.raised_by) <= len(given_answers)


@given(answers)
def test_the_merge_is_deterministic_with_stable_ids(given_answers: list[dict]) -> None:
    names = reviewers(len(given_answers))
    first, second = merge_findings(given_answers, names), merge_findings(given_answers, names)
    assert first == second
    assert [f.id for f in first.findings] == [f"F{i}" for i in range(1, len(first.findings) + 1)]


@given(st.lists(findings, max_size=6), st.integers(1, 4))
def test_identical_reviewers_agree_on_everything(items: list[dict], count: int) -> None:
    alone = merge_findings([{"findings": items}], ["r0"])
    together = merge_findings([{"findings": items}] * count, reviewers(count))
    assert len(together.findings) == len(alone.findings)
    assert all(together.agreement(f) == f"{count} of {count}" for f in together.findings)


@given(answers, st.data())
def test_the_reconciler_never_loses_a_quorum_finding_silently(
    given_answers: list[dict], data: st.DataObject
) -> None:
    merged = merge_findings(given_answers, reviewers(len(given_answers)))
    ids = [f.id for f in merged.findings]
    kept = data.draw(st.lists(st.sampled_from(ids), unique=True) if ids else st.just([]))
    answer = {"findings": [{"id": i} for i in kept], "dropped": [], "verdict": ""}
    review = reconcile(merged, answer)
    shown = {f.id for f in review.findings}
    for finding in merged.findings:
        if merged.is_quorum(finding):
            assert finding.id in shown
        else:
            assert finding.id in shown or any(d.finding.id == finding.id for d in review.dropped)
    assert [f.id for f in review.findings][: len(kept)] == kept  # its ranking is kept


def test_a_quorum_finding_may_go_with_a_reason() -> None:
    one = {"findings": [{"file": "a.py", "line": 1, "severity": "low", "title": "x"}]}
    merged = merge_findings([one, one], ["a", "b"])
    review = reconcile(merged, {"findings": [], "dropped": [{"id": "F1", "reason": "wrong"}]})
    assert review.findings == () and review.dropped[0].reason == "wrong"


def test_similar_titles() -> None:
    assert similar_titles("SQL injection in login", "login is open to sql injection")
    assert not similar_titles("SQL injection in login", "race on the counter")


def test_filters_take_the_json_a_step_printed() -> None:
    one = {"findings": [{"file": "a.py", "line": 1, "severity": "high", "title": "x"}]}
    text = '{"reviewers": ["a"], "findings": [' + (
        '{"id": "F1", "file": "a.py", "line": 1, "end_line": 1, "severity": "high",'
        ' "title": "x", "explanation": "", "raised_by": ["a"]}]}'
    )
    assert review_count(text, "high") == 1 and review_count(text, "critical") == 0
    assert review_count(text, "none") == 0
    assert "1. **high** `a.py:1` — x (1 of 1: a)" in review_format(text)
    assert merge_findings([one], ["a"]).findings[0].title == "x"


def _step(name: str) -> dict[str, object]:
    workflow = tomllib.loads(REVIEW.read_text(encoding="utf-8"))
    return next(s for s in workflow["steps"] if s["name"] == name)


def test_the_review_workflow_asks_for_exactly_the_shapes_the_code_reads() -> None:
    assert _step("review")["output_schema"] == FINDINGS_SCHEMA
    assert _step("reconcile")["output_schema"] == RECONCILED_SCHEMA

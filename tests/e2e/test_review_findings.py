"""The built-in review's findings as data, end to end: three reviewers served by the
real test server on 127.0.0.1 return overlapping findings in the fixed JSON shape; the
merged output, its "k of n" counts, every format and fail_on's exit code are checked.

The role `default` holds r1, r2, r3 (execution = "fallback", as `llm-mux init` writes it):
all three review at once; r1, the first, reconciles.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply
from support.sarif_schema import sarif_errors


def finding(file: str, line: int, severity: str, title: str, **more: object) -> dict[str, object]:
    return {
        "file": file,
        "line": line,
        "severity": severity,
        "title": title,
        "explanation": f"{title}: explained",
        **more,
    }


R1 = [
    finding("calc.py", 2, "high", "add() subtracts instead of adding", suggested_fix="a + b"),
    finding("calc.py", 10, "low", "mul has no docstring"),
]
R2 = [
    finding("calc.py", 3, "critical", "add subtracts"),
    finding("util.py", 5, "medium", "divide by zero when count is 0"),
]
R3 = [
    finding("b/calc.py", 2, "high", "Subtraction in add()"),
    finding("util.py", 6, "high", "Division by zero if count is zero", end_line=7),
]
# Merged: F1 = add subtracts (critical, 3 of 3), F2 = division by zero (high, 2 of 3),
# F3 = the docstring (low, 1 of 3).
SILENT_ON_F1 = {
    "findings": [{"id": "F2", "title": "Division by zero on an empty list"}],
    "dropped": [{"id": "F3", "reason": "a docstring is style, not a defect"}],
    "verdict": "fix first",
}
REGRADED = {
    "findings": [{"id": "F1", "severity": "medium"}, {"id": "F2", "severity": "medium"}],
    "dropped": [{"id": "F3", "reason": "style"}],
    "verdict": "fix when convenient",
}


def answer(findings: list[dict[str, object]]) -> Reply:
    return Reply(json.dumps({"findings": findings}))


@pytest.fixture
def repo(tmp_path: Path, openai_server: ModelServer) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    for args in (["init", "-q"], ["add", "."]):
        subprocess.run(["git", *args], cwd=root, check=True)
    commit = ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "calc"]
    subprocess.run(["git", *commit], cwd=root, check=True)
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "config.toml"
    config.parent.mkdir(parents=True)
    backends = "".join(
        f'[backends.{name}]\ncommand = "{openai_server.url}"\nmodel = "{name}"\n'
        for name in ("r1", "r2", "r3")
    )
    roles = '[roles.default]\nbackends = ["r1", "r2", "r3"]\nexecution = "fallback"\n'
    config.write_text(backends + roles)
    return root


def script(server: ModelServer, reconciled: dict[str, object]) -> None:
    server.script("r1", answer(R1), Reply(json.dumps(reconciled)))
    server.script("r2", Reply("Looks bad: add() subtracts."), answer(R2))  # re-asked once
    server.script("r3", answer(R3))


def run_review(cli, repo: Path, *args: str):  # type: ignore[no-untyped-def]
    return cli("--output", "json", "run", "review", *args, cwd=repo)


def test_three_reviewers_merge_with_counts_and_a_silent_drop_is_undone(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    script(openai_server, SILENT_ON_F1)
    result = run_review(cli, repo, "format=json")
    assert result.code == 0, result.out + result.err
    document = json.loads(result.out)  # one JSON document, the report inside it
    report = json.loads(document["output"])
    assert report["reviewers"] == ["r1", "r2", "r3"]
    shown = [(f["id"], f["severity"], f["title"], f["agreement"]) for f in report["findings"]]
    assert shown == [
        ("F2", "high", "Division by zero on an empty list", "2 of 3"),
        ("F1", "critical", "add() subtracts instead of adding", "3 of 3"),
    ]
    restored = report["findings"][1]
    assert restored["raised_by"] == ["r1", "r2", "r3"]
    assert (restored["file"], restored["line"], restored["end_line"]) == ("calc.py", 2, 3)
    assert "dropped it without a reason" in restored["note"]
    assert report["findings"][0]["line"] == 5 and report["findings"][0]["end_line"] == 7
    assert [(d["finding"]["id"], d["reason"]) for d in report["dropped"]] == [
        ("F3", "a docstring is style, not a defect")
    ]
    assert report["counts"] == {"critical": 1, "high": 1, "medium": 0, "low": 0}
    assert report["verdict"] == "fix first"
    # r2's prose was not the JSON asked for: it was asked again, with the reason.
    first, again = openai_server.requests("r2")
    assert "JSON" in first.prompt and again.prompt != first.prompt
    reconciled = openai_server.requests("r1")[1].prompt
    assert '"id": "F1"' in reconciled and '"id": "F3"' in reconciled


def test_markdown_is_the_console_default(cli, repo: Path, openai_server: ModelServer) -> None:
    script(openai_server, SILENT_ON_F1)
    result = cli("run", "review", cwd=repo)
    assert result.code == 0, result.err
    assert result.out.startswith("## Review: 2 findings (1 critical, 1 high) from 3 reviewers\n")
    assert (
        "1. **high** `util.py:5-7` — Division by zero on an empty list (2 of 3: r2, r3)"
        in result.out
    )
    restored = (
        "2. **critical** `calc.py:2-3` — add() subtracts instead of adding (3 of 3: r1, r2, r3)"
    )
    assert restored in result.out
    assert "   Fix: a + b" in result.out
    assert "- mul has no docstring (`calc.py:10`, 1 of 3): a docstring is style" in result.out
    assert "**Verdict:** fix first" in result.out


def test_sarif_is_valid_and_carries_the_agreement(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    script(openai_server, SILENT_ON_F1)
    result = run_review(cli, repo, "format=sarif")
    sarif = json.loads(json.loads(result.out)["output"])
    assert sarif_errors(sarif) == []
    results = sarif["runs"][0]["results"]
    assert [(r["ruleId"], r["level"], r["properties"]["agreement"]) for r in results] == [
        ("review/high", "error", "2 of 3"),
        ("review/critical", "error", "3 of 3"),
    ]
    region = results[1]["locations"][0]["physicalLocation"]
    assert region == {
        "artifactLocation": {"uri": "calc.py"},
        "region": {"startLine": 2, "endLine": 3},
    }


def test_github_annotations(cli, repo: Path, openai_server: ModelServer) -> None:
    script(openai_server, SILENT_ON_F1)
    result = cli("run", "review", "format=github", cwd=repo)
    lines = result.out.splitlines()
    assert lines[0].startswith(
        "::error file=util.py,line=5,endLine=7,title=high%3A Division by zero on an empty list "
        "(2 of 3)::divide by zero when count is 0: explained"
    )
    assert lines[1].startswith("::error file=calc.py,line=2,endLine=3,title=critical%3A add()")
    assert len(lines) == 2


def test_fail_on_fails_the_run_at_that_severity_and_keeps_the_report(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    script(openai_server, SILENT_ON_F1)
    result = cli("run", "review", "fail_on=critical", cwd=repo)
    assert result.code == 1
    assert result.out.startswith("## Review: 2 findings")
    assert "review: 1 finding(s) at or above critical" in result.err


def test_a_regraded_review_passes_fail_on_high_and_fails_fail_on_medium(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    script(openai_server, REGRADED)
    passed = run_review(cli, repo, "fail_on=high")
    assert passed.code == 0, passed.out
    assert json.loads(passed.out)["steps"]["gate"]["status"] == "skipped"
    script(openai_server, REGRADED)
    failed = run_review(cli, repo, "fail_on=medium", "format=json")
    document = json.loads(failed.out)
    assert (failed.code, document["success"]) == (1, False)
    assert json.loads(document["output"])["counts"]["medium"] == 2
    assert "2 finding(s) at or above medium" in str(document["steps"]["gate"]["error"])


def test_without_a_reconciliation_every_merged_finding_stays(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    bad = Reply.fail(400, "bad request")
    openai_server.script("r1", answer(R1), bad)
    openai_server.script("r2", answer(R2))
    openai_server.script("r3", answer(R3))
    result = run_review(cli, repo, "format=json")
    assert result.code == 0, result.out
    report = json.loads(json.loads(result.out)["output"])
    assert [(f["id"], f["agreement"]) for f in report["findings"]] == [
        ("F1", "3 of 3"),
        ("F2", "2 of 3"),
        ("F3", "1 of 3"),
    ]

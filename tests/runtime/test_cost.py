"""Tokens and cost: from the usage a real server reports to `--output json`, the
ledger, `runs show` and the console summary."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply

# Prices per million tokens: m0 3 in / 15 out, m1 1 in / 2 out; m2 has none.
CONFIG = """
[backends.m0]
command = "{url}"
model = "m0"
input_cost_per_million = 3.0
output_cost_per_million = 15.0
max_retries = 1
retry_delay = "1ms"

[backends.m1]
command = "{url}"
model = "m1"
input_cost_per_million = 1.0
output_cost_per_million = 2.0

[backends.m2]
command = "{url}"
model = "m2"

[roles.pair]
backends = ["m0", "m1"]
execution = "parallel"
"""

WORKFLOW = """
[[steps]]
name = "both"
type = "query"
role = "pair"
prompt = "review"

[[steps]]
name = "again"
type = "query"
backend = "{backend}"
prompt = "summarise {{{{ steps.both.output | length }}}} characters"
"""


def project(tmp_path: Path, server: ModelServer, *, backend: str = "m0") -> None:
    (tmp_path / ".llm-mux").mkdir(exist_ok=True)
    (tmp_path / ".llm-mux" / "config.toml").write_text(CONFIG.format(url=server.url))
    (tmp_path / "wf.toml").write_text(WORKFLOW.format(backend=backend))


def run_json(cli, tmp_path: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "--trust", "run", "wf.toml", cwd=tmp_path)
    document: dict[str, object] = json.loads(result.out)
    return document


def test_usage_and_cost_per_call_per_step_and_per_run(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply("zero", usage=(1000, 200)), Reply("sum", usage=(2000, 100)))
    openai_server.script("m1", Reply("one", usage=(4000, 1000)))
    project(tmp_path, openai_server)
    document = run_json(cli, tmp_path)
    steps = document["steps"]
    assert isinstance(steps, dict)
    both, again = steps["both"], steps["again"]
    m0 = (1000 * 3 + 200 * 15) / 1e6  # 0.006
    m1 = (4000 * 1 + 1000 * 2) / 1e6  # 0.006
    second = (2000 * 3 + 100 * 15) / 1e6  # 0.0075
    assert both["usage"] == {"prompt_tokens": 5000, "completion_tokens": 1200, "total_tokens": 6200}
    assert both["cost"] == pytest.approx(m0 + m1)
    assert [(c["backend"], c["usage"]["total_tokens"]) for c in both["calls"]] == [
        ("m0", 1200),
        ("m1", 5000),
    ]
    assert [c["cost"] for c in both["calls"]] == [pytest.approx(m0), pytest.approx(m1)]
    assert again["cost"] == pytest.approx(second)
    assert document["usage"] == {
        "prompt_tokens": 7000,
        "completion_tokens": 1300,
        "total_tokens": 8300,
    }
    assert document["cost"] == pytest.approx(m0 + m1 + second)

    ledger = Path(os.environ["XDG_STATE_HOME"]) / "llm-mux" / "runs.db"
    with sqlite3.connect(ledger) as connection:
        calls = connection.execute(
            "SELECT step, backend, prompt_tokens, completion_tokens, cost FROM calls "
            "WHERE run_id = ? ORDER BY id",
            (document["run_id"],),
        ).fetchall()
        (run_cost,) = connection.execute(
            "SELECT cost FROM runs WHERE id = ?", (document["run_id"],)
        ).fetchone()
    assert [c[:4] for c in calls] == [
        ("both", "m0", 1000, 200),
        ("both", "m1", 4000, 1000),
        ("again", "m0", 2000, 100),
    ]
    assert [c[4] for c in calls] == [pytest.approx(x) for x in (m0, m1, second)]
    assert run_cost == pytest.approx(m0 + m1 + second)

    shown = cli("runs", "show", str(document["run_id"]), cwd=tmp_path)
    assert "cost:      0.0195" in shown.out
    assert "8300 (prompt 7000, completion 1300)" in shown.out
    # the backend calls table: one line per call with its tokens and cost
    assert "1200 (prompt 1000, completion 200)" in shown.out and "0.0060" in shown.out
    as_json = json.loads(cli("--output", "json", "runs", "show", str(document["run_id"])).out)
    assert [c["cost"] for s in as_json["steps"] for c in s["calls"]] == [
        pytest.approx(x) for x in (m0, m1, second)
    ]


def test_the_console_prints_the_run_total(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    openai_server.default = Reply("ok", usage=(10, 5))
    project(tmp_path, openai_server)
    result = cli("--trust", "run", "wf.toml", cwd=tmp_path)
    assert result.code == 0
    # 3 calls: m0 twice (10×3 + 5×15 each), m1 once (10×1 + 5×2), per million tokens
    assert "45 tokens · cost 0.00023" in result.err


def test_a_backend_without_prices_makes_the_cost_unknown(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server, backend="m2")
    document = run_json(cli, tmp_path)
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert steps["both"]["cost"] is not None and steps["again"]["cost"] is None
    assert steps["again"]["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }
    assert document["cost"] is None
    result = cli("--trust", "run", "wf.toml", cwd=tmp_path)
    assert "· cost unknown" in result.err


def test_an_answer_without_usage_makes_the_cost_unknown(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m1", Reply("one", usage=None))
    project(tmp_path, openai_server)
    document = run_json(cli, tmp_path)
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert steps["both"]["cost"] is None and document["cost"] is None
    assert [c["cost"] is None for c in steps["both"]["calls"]] == [False, True]


def test_a_refused_attempt_costs_nothing(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    """A 500 then an answer: only the answer's tokens are paid for, and the cost is known."""
    openai_server.script("m0", Reply.fail(500), Reply("zero"), Reply("sum"))
    project(tmp_path, openai_server)
    document = run_json(cli, tmp_path)
    steps = document["steps"]
    assert isinstance(steps, dict)
    (m0, _) = steps["both"]["calls"]
    assert m0["attempts"] == 2
    assert m0["cost"] == pytest.approx((10 * 3 + 5 * 15) / 1e6)
    assert document["cost"] is not None

"""Budgets: `max_cost` / `max_tokens` stop a run before it pays more than it said.

Every backend call goes to a real OpenAI-compatible server on 127.0.0.1, which
answers each request with usage 10 prompt + 5 completion tokens; at the prices
below one call costs (10 × 1000 + 5 × 2000) / 1e6 = 0.02.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from support.openai_server import ModelServer, Reply

PRICED = """
[backends.m0]
command = "{url}"
model = "m0"
max_retries = 0
input_cost_per_million = 1000
output_cost_per_million = 2000

[backends.free]
command = "{url}"
model = "free"
max_retries = 0
"""

FIVE_ITEMS = """
name = "items"
{budget}

[[steps]]
name = "each"
type = "query"
backend = "{backend}"
for_each = ["a", "b", "c", "d", "e"]
concurrency = {concurrency}
prompt = "item {{{{ item }}}}"
"""


def project(tmp_path: Path, server: ModelServer, workflow: str) -> None:
    (tmp_path / ".llm-mux").mkdir(exist_ok=True)
    (tmp_path / ".llm-mux" / "config.toml").write_text(PRICED.format(url=server.url))
    (tmp_path / "wf.toml").write_text(workflow)


def items(budget: str = "", backend: str = "m0", concurrency: int = 1) -> str:
    return FIVE_ITEMS.format(budget=budget, backend=backend, concurrency=concurrency)


def run_json(cli, tmp_path: Path, *args: str, code: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "--trust", *args, cwd=tmp_path)
    assert result.code == code and result.out, result.err
    document: dict[str, object] = json.loads(result.out)
    return document


def ledger(sql: str, *params: object) -> list[tuple[object, ...]]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "llm-mux" / "runs.db"
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, params).fetchall()


def test_a_budget_stops_a_for_each_midway_and_a_resume_pays_only_for_the_rest(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server, items("max_cost = 0.05"))
    document = run_json(cli, tmp_path, "run", "wf.toml", code=1)
    # 0.02 each: the third call starts at 0.04 (< 0.05); the fourth would start at 0.06.
    assert document["status"] == "failed"
    assert document["error"] == "budget exceeded: 0.06 of 0.05"
    assert [r.prompt for r in openai_server.requests()] == ["item a", "item b", "item c"]
    steps = document["steps"]
    assert isinstance(steps, dict)
    statuses = [item["status"] for item in steps["each"]["items"]]
    assert statuses == ["succeeded", "succeeded", "succeeded", "failed", "pending"]
    assert "budget exceeded: 0.06 of 0.05" in steps["each"]["items"][3]["error"]
    run_id = str(document["run_id"])
    [(status, error, cost)] = ledger("SELECT status, error, cost FROM runs WHERE id = ?", run_id)
    assert (status, error) == ("failed", "budget exceeded: 0.06 of 0.05")
    assert abs(float(cost) - 0.06) < 1e-9  # type: ignore[arg-type]

    # The old limit still holds for the whole chain: nothing more may be spent.
    again = run_json(cli, tmp_path, "runs", "resume", run_id, code=1)
    assert again["error"] == "budget exceeded: 0.06 of 0.05"
    assert len(openai_server.requests()) == 3

    resumed = run_json(cli, tmp_path, "runs", "resume", run_id, "--max-cost", "0.2", code=0)
    assert resumed["status"] == "succeeded"
    # Items a–c were reused (paid once); only d and e were asked.
    assert [r.prompt for r in openai_server.requests()][3:] == ["item d", "item e"]
    assert abs(float(resumed["cost"]) - 0.04) < 1e-9  # type: ignore[arg-type]


def test_calls_in_flight_when_the_budget_is_reached_finish_and_are_kept(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    openai_server.default = Reply(latency=0.3)
    project(tmp_path, openai_server, items("max_cost = 0.01", concurrency=3))
    document = run_json(cli, tmp_path, "run", "wf.toml", code=1)
    # Three calls start at once with nothing spent; none is cancelled when they overshoot.
    assert document["error"] == "budget exceeded: 0.06 of 0.01"
    steps = document["steps"]
    assert isinstance(steps, dict)
    statuses = [item["status"] for item in steps["each"]["items"]]
    assert statuses[:3] == ["succeeded"] * 3 and statuses[3] == "failed"
    assert len(openai_server.requests()) == 3


def test_the_command_line_limit_wins_over_the_workflow(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server, items("max_cost = 100"))
    document = run_json(cli, tmp_path, "run", "wf.toml", "--max-cost", "0.02", code=1)
    assert document["error"] == "budget exceeded: 0.02 of 0.02"
    assert len(openai_server.requests()) == 1


def test_a_token_budget_counts_tokens(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    project(tmp_path, openai_server, items("max_tokens = 40"))
    document = run_json(cli, tmp_path, "run", "wf.toml", code=1)
    assert document["error"] == "token budget exceeded: 45 of 40 tokens"
    assert len(openai_server.requests()) == 3


def test_a_step_budget_stops_that_step(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    workflow = items().replace('prompt = "item', 'max_cost = 0.03\nprompt = "item')
    project(tmp_path, openai_server, workflow)
    document = run_json(cli, tmp_path, "run", "wf.toml", code=1)
    assert document["error"] == "budget exceeded: 0.04 of 0.03 (max_cost of step 'each')"
    assert len(openai_server.requests()) == 2


def test_a_call_whose_cost_cannot_be_known_is_refused_unless_allowed(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server, items("max_cost = 1", backend="free"))
    document = run_json(cli, tmp_path, "run", "wf.toml", code=1)
    steps = document["steps"]
    assert isinstance(steps, dict)
    error = str(steps["each"]["error"])
    assert "backend 'free': its cost cannot be known (has no prices)" in error
    assert openai_server.requests() == []  # refused before anything was sent

    allowed = run_json(cli, tmp_path, "run", "wf.toml", "--allow-unknown-cost", code=0)
    assert allowed["status"] == "succeeded" and allowed["cost"] is None
    assert len(openai_server.requests()) == 5


def test_a_cli_agent_reports_no_usage_so_a_budget_refuses_it(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    workflow = """
max_cost = 1

[backends.agent]
command = "cat"
prompt_mode = "stdin"

[[steps]]
name = "ask"
type = "query"
backend = "agent"
prompt = "hello"
"""
    project(tmp_path, openai_server, workflow)
    document = run_json(cli, tmp_path, "run", "wf.toml", code=1)
    assert "its cost cannot be known (reports no token usage)" in str(document["error"])
    allowed = run_json(cli, tmp_path, "run", "wf.toml", "--allow-unknown-cost", code=0)
    assert allowed["output"] == "hello"


def test_validate_and_plan_warn_about_backends_a_budget_cannot_count(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server, items("max_cost = 1", backend="free"))
    result = cli("validate", "wf.toml", cwd=tmp_path)
    assert result.code == 0
    assert "may call backend 'free', whose cost cannot be known (it has no prices)" in result.out
    assert "[W801]" in result.out
    assert "[W801]" in cli("plan", "wf.toml", cwd=tmp_path).err
    project(tmp_path, openai_server, items("max_cost = 1\nallow_unknown_cost = true", "free"))
    assert "[W801]" not in cli("validate", "wf.toml", cwd=tmp_path).out

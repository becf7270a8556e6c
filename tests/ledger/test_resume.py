"""`llm-mux runs resume`: a failed run finished as a new run, paying only for what changed.

Backend calls are counted at a real OpenAI-compatible server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from support.openai_server import ModelServer, Reply

from llm_mux.ledger.schema import LEDGER_SCHEMA

CONFIG = """
[backends.m0]
command = "{url}"
model = "m0"
max_retries = 0

[backends.m1]
command = "{url}"
model = "m1"
max_retries = 0
"""

# Five steps; the third asks m1, which the tests make fail once.
FIVE = """
name = "five"

[args.topic]
default = "ledgers"

[[steps]]
name = "one"
type = "query"
backend = "m0"
prompt = "one: {{ args.topic }}"

[[steps]]
name = "two"
type = "query"
backend = "m0"
prompt = "two after [{{ steps.one.output }}]"

[[steps]]
name = "three"
type = "query"
backend = "m1"
prompt = "three after [{{ steps.two.output }}]"

[[steps]]
name = "four"
type = "shell"
run = "echo four {{ steps.three.output | length }}"

[[steps]]
name = "five"
type = "query"
backend = "m0"
prompt = "five after [{{ steps.four.output }}]"
"""


def ledger_rows(sql: str, *params: object) -> list[tuple[object, ...]]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "llm-mux" / "runs.db"
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, params).fetchall()


def project(tmp_path: Path, server: ModelServer, workflow: str = FIVE) -> None:
    (tmp_path / ".llm-mux").mkdir(exist_ok=True)
    (tmp_path / ".llm-mux" / "config.toml").write_text(CONFIG.format(url=server.url))
    (tmp_path / "wf.toml").write_text(workflow)


def failed_run(cli, tmp_path: Path, server: ModelServer, *args: str) -> str:  # type: ignore[no-untyped-def]
    server.script("m1", Reply.fail(500, "the server is down"))
    result = cli("--output", "json", "--trust", "run", "wf.toml", *args, cwd=tmp_path)
    assert result.code == 1, result.err
    document = json.loads(result.out)
    assert document["steps"]["three"]["status"] == "failed"
    return str(document["run_id"])


def resume(cli, tmp_path: Path, run_id: str, *args: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "--trust", "runs", "resume", run_id, *args, cwd=tmp_path)
    assert result.code == 0, result.err
    document: dict[str, object] = json.loads(result.out)
    return document


def test_resume_reuses_the_steps_before_the_failure_and_runs_the_rest(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server)
    old = failed_run(cli, tmp_path, openai_server, "topic=resume")
    assert [r.prompt for r in openai_server.requests("m0")] == [
        "one: resume",
        "two after [one: resume]",
    ]

    document = resume(cli, tmp_path, old)
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert document["status"] == "succeeded" and document["args"] == {"topic": "resume"}
    # Steps 1–2 were not asked again: the server saw only step 5 from m0, step 3 twice.
    assert [r.prompt for r in openai_server.requests("m0")] == [
        "one: resume",
        "two after [one: resume]",
        "five after [four 37]",
    ]
    assert len(openai_server.requests("m1")) == 2
    assert [steps[n].get("reused_from") for n in ("one", "two", "three", "four", "five")] == [
        old,
        old,
        None,
        None,
        None,
    ]
    assert steps["two"]["output"] == "two after [one: resume]"  # the recorded answer
    assert steps["one"]["usage"] is None and steps["one"]["cost"] == 0.0
    assert steps["three"]["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }
    assert document["output"] == "five after [four 37]"

    new = str(document["run_id"])
    assert ledger_rows("SELECT resumed_from, status FROM runs WHERE id = ?", new) == [
        (old, "succeeded")
    ]
    reused = ledger_rows(
        "SELECT name, reused_from FROM steps WHERE run_id = ? ORDER BY position", new
    )
    assert reused == [("one", old), ("two", old), ("three", None), ("four", None), ("five", None)]
    assert ledger_rows("SELECT count(*) FROM calls WHERE run_id = ?", new) == [(2,)]
    shown = cli("runs", "show", new, cwd=tmp_path).out
    assert f"resumes:   run {old}" in shown and "succeeded (reused)" in shown


def test_dry_run_says_what_would_be_reused_and_runs_nothing(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server)
    old = failed_run(cli, tmp_path, openai_server)
    result = cli("runs", "resume", old, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"resuming run {old} (five, failed): 2 steps reused, 3 to run"
    assert lines[2:7] == [
        "  reuse  one    its inputs are unchanged",
        "  reuse  two    its inputs are unchanged",
        f"  run    three  it failed in run {old}",
        "  run    four   it needs 'three', which runs: decided when that finishes",
        "  run    five   it needs 'four', which runs: decided when that finishes",
    ]
    assert lines[-1] == "dry run: nothing was executed"
    assert len(openai_server.requests()) == 3  # the failed run's, nothing more
    assert ledger_rows("SELECT count(*) FROM runs") == [(1,)]
    as_json = json.loads(cli("--output", "json", "runs", "resume", old, "--dry-run").out)
    assert [s["action"] for s in as_json["steps"]] == ["reuse", "reuse", "run", "run", "run"]


def test_a_step_whose_inputs_changed_runs_again_and_so_do_its_dependents(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server)
    old = failed_run(cli, tmp_path, openai_server)
    edited = FIVE.replace('prompt = "two after', 'prompt = "TWO after')
    (tmp_path / "wf.toml").write_text(edited)
    dry = cli("runs", "resume", old, "--dry-run", cwd=tmp_path).out
    assert "  run    two    its prompt changed" in dry
    document = resume(cli, tmp_path, old)
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert steps["one"].get("reused_from") == old and "reused_from" not in steps["two"]
    assert [r.prompt for r in openai_server.requests("m0")][2:] == [
        "TWO after [one: ledgers]",
        "five after [four 38]",
    ]


def test_a_step_after_one_that_ran_again_is_reused_when_its_inputs_come_out_the_same(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    """`count` changed, so it runs again — and prints the same: `ask`, whose prompt is
    rendered from it, is reused. The decision is made as the resumed run goes."""
    workflow = """
[[steps]]
name = "count"
type = "shell"
run = "echo 3"

[[steps]]
name = "ask"
type = "query"
backend = "m0"
prompt = "count is {{ steps.count.output }}"

[[steps]]
name = "gate"
type = "shell"
depends_on = ["ask"]
run = "test -f ok"
"""
    project(tmp_path, openai_server, workflow)
    first = cli("--output", "json", "--trust", "run", "wf.toml", cwd=tmp_path)
    assert first.code == 1
    old = json.loads(first.out)["run_id"]
    (tmp_path / "wf.toml").write_text(workflow.replace('"echo 3"', '"printf 3"'))
    (tmp_path / "ok").touch()
    dry = cli("runs", "resume", old, "--dry-run", cwd=tmp_path).out
    assert "  run    count  its run changed" in dry
    assert "  run    ask    it needs 'count', which runs: decided when that finishes" in dry
    document = resume(cli, tmp_path, old)
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert "reused_from" not in steps["count"] and steps["count"]["output"] == "3"
    assert steps["ask"]["reused_from"] == old and "reused_from" not in steps["gate"]
    assert len(openai_server.requests("m0")) == 1


def test_for_each_items_that_succeeded_are_reused_one_by_one(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    workflow = """
[[steps]]
name = "each"
type = "query"
backend = "m0"
for_each = "['a', 'b', 'c', 'd']"
prompt = "item {{ item }}"
"""
    project(tmp_path, openai_server, workflow)
    openai_server.script("m0", Reply(), Reply(), Reply.fail(500))
    first = cli("--output", "json", "--trust", "run", "wf.toml", cwd=tmp_path)
    assert first.code == 1
    old = json.loads(first.out)["run_id"]
    dry = cli("runs", "resume", old, "--dry-run", cwd=tmp_path).out
    assert "  run    each  2 of 4 items run, 2 reused" in dry
    document = resume(cli, tmp_path, old)
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert steps["each"]["outputs"] == ["item a", "item b", "item c", "item d"]
    assert [r.prompt for r in openai_server.requests("m0")] == [
        "item a",
        "item b",
        "item c",  # the failure
        "item c",
        "item d",
    ]
    items = steps["each"]["items"]
    assert [item.get("reused_from") for item in items] == [old, old, None, None]


def test_a_resume_of_a_resume_names_the_run_that_produced_each_result(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server)
    old = failed_run(cli, tmp_path, openai_server)
    openai_server.script("m1", Reply.fail(500))
    middle = cli("--output", "json", "--trust", "runs", "resume", old, cwd=tmp_path)
    assert middle.code == 1
    newest = resume(cli, tmp_path, json.loads(middle.out)["run_id"])
    steps = newest["steps"]
    assert isinstance(steps, dict)
    assert steps["one"]["reused_from"] == old and steps["two"]["reused_from"] == old
    assert len(openai_server.requests("m0")) == 3  # one, two, then five: once each


def test_only_failed_or_cancelled_runs_resume(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server)
    done = cli("--output", "json", "--trust", "run", "wf.toml", cwd=tmp_path)
    assert done.code == 0
    result = cli("runs", "resume", json.loads(done.out)["run_id"], cwd=tmp_path)
    assert result.code == 2 and "succeeded: there is nothing to resume" in result.err
    result = cli("runs", "resume", "no-such-run", cwd=tmp_path)
    assert result.code == 2 and "no run 'no-such-run'" in result.err


def test_resume_uses_the_recorded_config_files_and_context(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    """The run was started with --config and --context: the resume needs neither again."""
    (tmp_path / "wf.toml").write_text(FIVE)
    (tmp_path / "extra.toml").write_text(CONFIG.format(url=openai_server.url))
    (tmp_path / "notes.md").write_text("the notes")
    openai_server.script("m1", Reply.fail(500))
    args = ("--output", "json", "--config", "extra.toml", "run", "wf.toml")
    first = cli(*args, "--context", "notes.md", cwd=tmp_path)
    assert first.code == 1, first.err
    old = json.loads(first.out)["run_id"]
    document = resume(cli, tmp_path / "..", old)  # from anywhere
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert steps["two"]["reused_from"] == old
    assert openai_server.requests("m1")[-1].prompt.startswith("=== context: notes.md ===")


def test_a_ledger_of_version_1_is_migrated_and_its_runs_resume_by_running_everything(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    path = Path(os.environ["XDG_STATE_HOME"]) / "llm-mux" / "runs.db"
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as connection:
        for statement in LEDGER_SCHEMA.migrations[0]:
            connection.execute(statement)
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version VALUES (1)")
        connection.execute(
            "INSERT INTO runs (id, workflow, path, project_root, args, status, started_at) "
            "VALUES ('old-run', 'five', 'wf.toml', ?, '{}', 'failed', '2024-01-01T00:00:00')",
            (str(tmp_path),),
        )
        connection.execute(
            "INSERT INTO steps (run_id, name, position, type, status, inputs, output) "
            "VALUES ('old-run', 'one', 0, 'query', 'succeeded', "
            "'{\"prompt\": \"one: ledgers\"}', 'one: ledgers')"
        )
    project(tmp_path, openai_server)
    dry = cli("runs", "resume", "old-run", "--dry-run", cwd=tmp_path)
    assert dry.code == 0, dry.err
    assert "run    one    run old-run kept no result to reuse (an older llm-mux)" in dry.out
    document = resume(cli, tmp_path, "old-run")
    assert document["status"] == "succeeded"
    assert len(openai_server.requests()) == 4  # every query step ran
    latest = len(LEDGER_SCHEMA.migrations)
    assert ledger_rows("SELECT version FROM schema_version") == [(latest,)]
    assert ledger_rows("SELECT resumed_from FROM runs WHERE id = ?", document["run_id"]) == [
        ("old-run",)
    ]


def test_an_input_answered_again_runs_again_and_the_rest_is_reused(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    workflow = """
[[steps]]
name = "pick"
type = "input"
prompt = "Which?"
default = "a"

[[steps]]
name = "ask"
type = "query"
backend = "m0"
prompt = "asked"

[[steps]]
name = "gate"
type = "shell"
run = "test -f ok && echo {{ steps.pick.output }} {{ steps.ask.output }}"
"""
    project(tmp_path, openai_server, workflow)
    first = cli("--output", "json", "--trust", "run", "wf.toml", cwd=tmp_path)
    assert first.code == 1
    old = json.loads(first.out)["run_id"]
    (tmp_path / "ok").touch()
    document = resume(cli, tmp_path, old, "--input", "pick=b")
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert "reused_from" not in steps["pick"] and steps["ask"]["reused_from"] == old
    assert document["output"] == "b asked"

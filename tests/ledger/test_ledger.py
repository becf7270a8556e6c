"""The run ledger: what `llm-mux run` records, read back with sqlite3 and `llm-mux runs`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply


def state_dir() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "llm-mux"


def ledger() -> Path:
    return state_dir() / "runs.db"


def query(sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(ledger()) as connection:
        return connection.execute(sql, params).fetchall()


def run(cli, tmp_path: Path, workflow: str, *args: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    (tmp_path / "wf.toml").write_text(workflow)
    result = cli("--output", "json", "--trust", "run", "wf.toml", *args, cwd=tmp_path)
    document: dict[str, object] = json.loads(result.out)
    return document


SUCCEEDS = """
name = "greet"
[args.who]
default = "world"
[[steps]]
name = "hello"
type = "shell"
run = "echo hello {{ args.who }}"
[[steps]]
name = "shout"
type = "shell"
run = "echo {{ steps.hello.output | upper }}"
"""


def test_a_succeeded_run_is_recorded_with_its_steps_and_output_files(cli, tmp_path: Path) -> None:
    document = run(cli, tmp_path, SUCCEEDS, "who=ledger")
    run_id = document["run_id"]
    assert stat.S_IMODE(ledger().stat().st_mode) == 0o600
    ((workflow, args, status, error, started, finished, duration, output_step),) = query(
        "SELECT workflow, args, status, error, started_at, finished_at, duration_ms, "
        "output_step FROM runs WHERE id = ?",
        run_id,
    )
    assert (workflow, json.loads(str(args)), status, error) == (
        "greet",
        {"who": "ledger"},
        "succeeded",
        None,
    )
    assert str(started) <= str(finished) and isinstance(duration, int)
    assert output_step == "shout"
    steps = query(
        "SELECT name, status, inputs, output, output_file, attempts FROM steps "
        "WHERE run_id = ? ORDER BY position",
        run_id,
    )
    assert [(s[0], s[1], json.loads(str(s[2])), s[3], s[5]) for s in steps] == [
        ("hello", "succeeded", {"run": "echo hello ledger"}, "hello ledger", 1),
        ("shout", "succeeded", {"run": "echo 'HELLO LEDGER'"}, "HELLO LEDGER", 1),
    ]
    run_dir = state_dir() / "runs" / str(run_id)
    assert [Path(str(s[4])) for s in steps] == [run_dir / "hello.txt", run_dir / "shout.txt"]
    assert (run_dir / "shout.txt").read_text() == "HELLO LEDGER"
    assert stat.S_IMODE((run_dir / "shout.txt").stat().st_mode) == 0o600


FAILS = """
[[steps]]
name = "slow"
type = "shell"
run = "sleep 5"
[[steps]]
name = "broken"
type = "shell"
run = "echo oops >&2; exit 3"
[[steps]]
name = "after"
type = "shell"
run = "echo {{ steps.broken.output }}"
"""


FINAL_SKIPPED = """
name = "fallback-output"
[[steps]]
name = "build"
type = "shell"
run = "echo built"
[[steps]]
name = "notify"
type = "shell"
when = "false"
run = "echo never"
"""


def test_the_run_records_the_step_whose_output_it_took(cli, tmp_path: Path) -> None:
    """The last-declared step was skipped: the run's output is `build`'s, and the ledger
    says so (it recorded the planned step, `notify`, before)."""
    document = run(cli, tmp_path, FINAL_SKIPPED)
    assert document["output"] == "built"
    ((output_step,),) = query("SELECT output_step FROM runs WHERE id = ?", document["run_id"])
    assert output_step == "build"


def test_a_failed_run_records_the_error_and_what_never_ran(cli, tmp_path: Path) -> None:
    document = run(cli, tmp_path, FAILS)
    assert document["status"] == "failed"
    ((status, error),) = query("SELECT status, error FROM runs WHERE id = ?", document["run_id"])
    assert status == "failed"
    assert error == "step 'broken' failed: exit code 3:\noops"
    steps = dict(query("SELECT name, status FROM steps WHERE run_id = ?", document["run_id"]))
    assert steps == {"slow": "cancelled", "broken": "failed", "after": "pending"}
    ((step_error,),) = query("SELECT error FROM steps WHERE name = 'broken'")
    assert step_error == "exit code 3:\noops"


def test_an_interrupted_run_is_recorded_as_cancelled(tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(
        '[[steps]]\nname = "wait"\ntype = "shell"\nrun = "touch started; sleep 30"\n'
        '[[steps]]\nname = "later"\ntype = "shell"\nrun = "echo {{ steps.wait.output }}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from llm_mux.cli import main; main()", "run", "wf.toml"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None, process.stderr
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)
    assert process.returncode == 130
    ((status, error),) = query("SELECT status, error FROM runs")
    assert (status, error) == ("cancelled", "the run was interrupted")
    assert dict(query("SELECT name, status FROM steps")) == {
        "wait": "cancelled",
        "later": "pending",
    }


def test_query_steps_record_each_backend_call(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    openai_server.script("good", Reply("fine answer"))
    openai_server.script("bad", Reply.fail(401, "no such key"))
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(
        f'[backends.good]\ncommand = "{openai_server.url}"\nmodel = "good"\n'
        "input_cost_per_million = 1.0\noutput_cost_per_million = 2.0\n"
        f'[backends.bad]\ncommand = "{openai_server.url}"\nmodel = "bad"\n'
        '[roles.both]\nbackends = ["bad", "good"]\nexecution = "fallback"\n'
    )
    document = run(
        cli, tmp_path, '[[steps]]\nname = "ask"\ntype = "query"\nrole = "both"\nprompt = "hi"\n'
    )
    assert document["status"] == "succeeded"
    calls = query(
        "SELECT backend, model, ok, attempts, prompt_tokens, completion_tokens, "
        "total_tokens, error, duration_ms FROM calls ORDER BY id"
    )
    assert [c[:7] for c in calls] == [
        ("bad", "bad", 0, 1, None, None, None),
        ("good", "good", 1, 1, 10, 5, 15),
    ]
    assert "401" in str(calls[0][7]) and calls[1][7] is None
    assert all(isinstance(c[8], int) for c in calls)
    ((tokens, inputs),) = query("SELECT total_tokens, inputs FROM steps")
    assert (tokens, json.loads(str(inputs))) == (15, {"prompt": "hi"})
    # A priced backend alone: the cost is known, per step and per run.
    priced = run(
        cli, tmp_path, '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "good"\nprompt = "hi"\n'
    )
    ((cost,),) = query("SELECT cost FROM steps WHERE run_id = ?", priced["run_id"])
    assert cost == pytest.approx((10 * 1.0 + 5 * 2.0) / 1e6)
    assert query("SELECT total_tokens, cost FROM runs WHERE id = ?", priced["run_id"]) == [
        (15, cost)
    ]


SECRET = "sk-planted-secret-0123456789"


def test_secrets_never_reach_the_ledger(
    cli, tmp_path: Path, openai_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_MUX_TEST_API_KEY", SECRET)
    monkeypatch.setenv("PLAIN_SETTING", "not-a-secret-value")
    openai_server.script("m", Reply("ok"))
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(
        f'[backends.m]\ncommand = "{openai_server.url}"\nmodel = "m"\n'
        'api_key = "${LLM_MUX_TEST_API_KEY}"\n'
        'headers = { "X-Token" = "${LLM_MUX_TEST_API_KEY}" }\n'
    )
    workflow = """
name = "leaky"
[args.note]
default = "none"
[[steps]]
name = "show"
type = "shell"
run = "echo key=$LLM_MUX_TEST_API_KEY {{ env.PLAIN_SETTING }}"
[[steps]]
name = "ask"
type = "query"
backend = "m"
prompt = "the key is {{ env.LLM_MUX_TEST_API_KEY }}; {{ steps.show.output }}"
[[steps]]
name = "fail"
type = "shell"
run = "echo {{ steps.ask.output }} >&2; echo {{ env.LLM_MUX_TEST_API_KEY }} >&2; exit 1"
"""
    document = run(cli, tmp_path, workflow, f"note={SECRET}")
    assert document["status"] == "failed"
    assert "[redacted:LLM_MUX_TEST_API_KEY]" in str(query("SELECT inputs FROM steps"))
    written = [p for p in state_dir().rglob("*") if p.is_file()]
    assert len(written) >= 3  # the ledger and the outputs
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path
    assert b"not-a-secret-value" in ledger().read_bytes()  # only secret-looking names


# -- llm-mux runs --------------------------------------------------------------------
def test_runs_list_shows_the_newest_first(cli, tmp_path: Path) -> None:
    assert cli("runs", "list").out == "no runs recorded yet\n"
    first = run(cli, tmp_path, SUCCEEDS)["run_id"]
    second = run(cli, tmp_path, FAILS)["run_id"]
    listed = cli("runs", "list")
    lines = listed.out.splitlines()
    assert lines[0].split() == [
        "RUN",
        "ID",
        "WORKFLOW",
        "STATUS",
        "STARTED",
        "DURATION",
        "TOKENS",
        "COST",
    ]
    assert [line.split()[:3] for line in lines[1:]] == [
        [second, "wf", "failed"],
        [first, "greet", "succeeded"],
    ]
    limited = json.loads(cli("--output", "json", "runs", "list", "--limit", "1").out)
    assert [r["run_id"] for r in limited] == [second]
    assert limited[0]["status"] == "failed" and limited[0]["args"] == {}


def test_runs_show_tells_what_happened(cli, tmp_path: Path) -> None:
    run_id = str(run(cli, tmp_path, FAILS)["run_id"])
    shown = cli("runs", "show", run_id)
    assert shown.code == 0
    assert shown.out.startswith(f"run {run_id}: wf failed\n")
    assert "  error:     step 'broken' failed: exit code 3:" in shown.out
    table = shown.out[shown.out.index("STEP") :].splitlines()
    assert [line.split()[:3] for line in table[1:4]] == [
        ["slow", "shell", "cancelled"],
        ["broken", "shell", "failed"],
        ["after", "shell", "pending"],
    ]
    assert "errors:\n  broken: exit code 3:\n    oops\n" in shown.out
    document = json.loads(cli("--output", "json", "runs", "show", run_id[:-2]).out)
    assert document["run_id"] == run_id
    assert [s["name"] for s in document["steps"]] == ["slow", "broken", "after"]
    assert document["steps"][1]["inputs"] == {"run": "echo oops >&2; exit 3"}


def test_runs_show_with_an_unknown_id_is_a_usage_error(cli, tmp_path: Path) -> None:
    result = cli("runs", "show", "nope")
    assert (result.code, result.out) == (2, "")
    assert "no run 'nope' in the run ledger" in result.err
    run(cli, tmp_path, SUCCEEDS)
    assert cli("runs", "show", "nope").code == 2


def test_an_unwritable_ledger_never_stops_a_run(cli, tmp_path: Path) -> None:
    state_dir().mkdir(parents=True)
    ledger().mkdir()  # a directory where the database should be
    (tmp_path / "wf.toml").write_text(SUCCEEDS)
    result = cli("run", "wf.toml", cwd=tmp_path)
    assert (result.code, result.out) == (0, "HELLO WORLD\n")
    assert "the run ledger cannot be written" in result.err


def test_an_unusable_state_directory_never_stops_a_run(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    (tmp_path / "wf.toml").write_text(SUCCEEDS)
    result = cli("run", "wf.toml", cwd=tmp_path)
    assert (result.code, result.out) == (0, "HELLO WORLD\n")
    assert result.err.count("warning: the run ledger cannot be written") == 1
    assert result.err.count("warning: step outputs cannot be saved") == 1


def test_for_each_query_items_record_their_calls(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m", Reply("a"), Reply("b"))
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(
        f'[backends.m]\ncommand = "{openai_server.url}"\nmodel = "m"\n'
    )
    document = run(
        cli,
        tmp_path,
        '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "m"\nfor_each = "[1, 2]"\n'
        'prompt = "item {{ item }}"\n',
    )
    assert document["status"] == "succeeded"
    assert query("SELECT item, backend, model, ok, total_tokens FROM calls ORDER BY item") == [
        (0, "m", "m", 1, 15),
        (1, "m", "m", 1, 15),
    ]
    assert query("SELECT total_tokens FROM steps") == [(30,)]

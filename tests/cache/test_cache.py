"""The step cache: a cached step whose rendered inputs are unchanged calls nothing.

Backend calls are counted at a real OpenAI-compatible server on 127.0.0.1; the
cache is the real SQLite file in the (isolated) state directory.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from support.openai_server import ModelServer

CONFIG = """
[backends.m0]
command = "{url}"
model = "{model}"
args = {args}
max_retries = 0
input_cost_per_million = {price}
output_cost_per_million = 2000
"""

ASK = """
name = "ask"
cache = true

[[steps]]
name = "ask"
type = "query"
backend = "m0"
inputs = ["src/*.py"]
prompt = "{prompt}"
"""


def project(
    tmp_path: Path,
    server: ModelServer,
    workflow: str,
    *,
    model: str = "m0",
    args: str = "[]",
    price: int = 1000,
) -> None:
    (tmp_path / ".llm-mux").mkdir(exist_ok=True)
    config = CONFIG.format(url=server.url, model=model, args=args, price=price)
    (tmp_path / ".llm-mux" / "config.toml").write_text(config)
    (tmp_path / "wf.toml").write_text(workflow)


def ask(prompt: str = "hello") -> str:
    return ASK.format(prompt=prompt)


def run(cli, tmp_path: Path, *args: str, code: int = 0) -> dict[str, object]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "--trust", "run", "wf.toml", *args, cwd=tmp_path)
    assert result.code == code, result.err
    document: dict[str, object] = json.loads(result.out)
    return document


def step(document: dict[str, object], name: str) -> dict[str, object]:
    steps = document["steps"]
    assert isinstance(steps, dict)
    found: dict[str, object] = steps[name]
    return found


def calls(server: ModelServer) -> int:
    return len(server.requests())


def state() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "llm-mux"


def fresh(
    tmp_path: Path, *args: str, code: str = "from llm_mux.cli import main; main()"
) -> subprocess.CompletedProcess[str]:
    """`llm-mux --trust ARGS` in a new interpreter (`code` runs it), as a shell starts it."""
    return subprocess.run(
        [sys.executable, "-c", code, "--trust", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_second_run_reuses_the_answer_and_pays_nothing(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server, ask())
    first = run(cli, tmp_path)
    assert calls(openai_server) == 1 and "cached_from" not in step(first, "ask")
    second = run(cli, tmp_path)
    assert calls(openai_server) == 1
    assert second["output"] == first["output"] == "hello"
    assert step(second, "ask")["cached_from"] == first["run_id"]
    assert step(second, "ask")["cost"] == 0.0 and second["cost"] == 0.0
    assert step(second, "ask")["usage"] is None
    ledger = sqlite3.connect(state() / "runs.db")
    row = ledger.execute(
        "SELECT cached_from, cost FROM steps WHERE run_id = ?", (second["run_id"],)
    ).fetchone()
    assert row == (first["run_id"], 0.0)
    assert ledger.execute(
        "SELECT count(*) FROM calls WHERE run_id = ?", (second["run_id"],)
    ).fetchone() == (0,)
    shown = cli("runs", "show", str(second["run_id"]), cwd=tmp_path).out
    assert "succeeded (cached)" in shown


def test_the_console_marks_a_cached_step(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    project(tmp_path, openai_server, ask())
    first = run(cli, tmp_path)
    result = cli("--trust", "run", "wf.toml", cwd=tmp_path)
    assert f"✓ ask cached (from run {first['run_id']})" in result.err
    assert result.out == "hello\n"


def test_every_part_of_the_key_misses_when_it_changes(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    project(tmp_path, openai_server, ask())
    run(cli, tmp_path)
    expected = 1
    changes = [
        lambda: project(tmp_path, openai_server, ask("hello again")),  # the prompt
        lambda: project(tmp_path, openai_server, ask("hello again"), model="m1"),  # the model
        lambda: project(tmp_path, openai_server, ask("hello again"), model="m1", args='["-v"]'),
        lambda: project(  # the config: a price
            tmp_path, openai_server, ask("hello again"), model="m1", args='["-v"]', price=5
        ),
        lambda: (tmp_path / "src" / "a.py").write_text("x = 2\n"),  # a declared input file
        lambda: (tmp_path / "src" / "b.py").write_text("y = 1\n"),  # a new one
    ]
    for change in changes:
        change()
        run(cli, tmp_path)
        expected += 1
        assert calls(openai_server) == expected
        run(cli, tmp_path)  # and unchanged again: a hit
        assert calls(openai_server) == expected
    (tmp_path / "notes.txt").write_text("not an input\n")
    run(cli, tmp_path)
    assert calls(openai_server) == expected


def test_nothing_is_reused_without_cache_true(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server, ask().replace("cache = true", ""))
    run(cli, tmp_path)
    run(cli, tmp_path)
    assert calls(openai_server) == 2
    assert not (state() / "cache.db").exists()
    run(cli, tmp_path, "--cache")  # one run's choice: cached now, reused next time with it
    assert calls(openai_server) == 3
    document = run(cli, tmp_path, "--cache")
    assert calls(openai_server) == 3 and "cached_from" in step(document, "ask")
    run(cli, tmp_path)
    assert calls(openai_server) == 4


def test_for_each_items_are_cached_one_by_one(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    workflow = """
[[steps]]
name = "each"
type = "query"
backend = "m0"
cache = true
for_each = {items}
prompt = "about {{{{ item }}}}"
"""
    project(tmp_path, openai_server, workflow.format(items='["a", "b", "c"]'))
    first = run(cli, tmp_path)
    assert calls(openai_server) == 3
    project(tmp_path, openai_server, workflow.format(items='["a", "x", "c", "d"]'))
    document = run(cli, tmp_path)
    assert [r.prompt for r in openai_server.requests()][3:] == ["about x", "about d"]
    items = step(document, "each")["items"]
    assert isinstance(items, list)
    assert ["cached_from" in item for item in items] == [True, False, True, False]
    assert step(document, "each")["outputs"] == ["about a", "about x", "about c", "about d"]
    again = run(cli, tmp_path)
    assert calls(openai_server) == 5
    origins = [item["cached_from"] for item in step(again, "each")["items"]]  # type: ignore[union-attr]
    second = document["run_id"]
    assert origins == [first["run_id"], second, first["run_id"], second]
    project(tmp_path, openai_server, workflow.format(items='["x", "d"]'))
    whole = run(cli, tmp_path)  # every item from one run: the step says so too
    assert calls(openai_server) == 5 and step(whole, "each")["cached_from"] == second


def test_no_cache_and_refresh(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    workflow = (
        ask() + '\n[[steps]]\nname = "echo"\ntype = "shell"\nrun = "echo {{ steps.ask.output }}"\n'
    )
    project(tmp_path, openai_server, workflow)
    run(cli, tmp_path)
    run(cli, tmp_path, "--no-cache")
    assert calls(openai_server) == 2
    refreshed = run(cli, tmp_path, "--refresh", "ask")
    assert calls(openai_server) == 3 and "cached_from" not in step(refreshed, "ask")
    after = run(cli, tmp_path)  # the refreshed answer is the one cached now
    assert calls(openai_server) == 3
    assert step(after, "ask")["cached_from"] == refreshed["run_id"]
    unknown = cli("--trust", "run", "wf.toml", "--refresh", "nope", cwd=tmp_path)
    assert unknown.code == 2 and "--refresh names 'nope'" in unknown.err
    both = cli("--trust", "run", "wf.toml", "--cache", "--no-cache", cwd=tmp_path)
    assert both.code == 2


def test_a_crash_between_steps_leaves_the_cache_usable(
    tmp_path: Path, openai_server: ModelServer
) -> None:
    """The process is killed (SIGKILL, by its own shell step) after the first step: the
    entry written before stays, and the next run reuses it."""
    crash = (
        ask()
        + '\n[[steps]]\nname = "crash"\ntype = "shell"\n'
        + 'run = "kill -KILL $PPID; sleep 5"\ndepends_on = ["ask"]\n'
    )
    project(tmp_path, openai_server, crash)
    killed = fresh(tmp_path, "run", "wf.toml")
    assert killed.returncode == -9
    assert calls(openai_server) == 1
    project(tmp_path, openai_server, crash.replace("kill -KILL $PPID; sleep 5", "echo done"))
    done = fresh(tmp_path, "--output", "json", "run", "wf.toml")
    assert done.returncode == 0, done.stderr
    assert calls(openai_server) == 1
    assert "cached_from" in json.loads(done.stdout)["steps"]["ask"]


def test_cache_list_and_clear(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    assert cli("cache", "list", cwd=tmp_path).out == "the step cache is empty\n"
    project(tmp_path, openai_server, ask())
    first = run(cli, tmp_path)
    run(cli, tmp_path)
    listed = json.loads(cli("--output", "json", "cache", "list", cwd=tmp_path).out)
    assert [(e["workflow"], e["step"], e["hits"], e["run_id"]) for e in listed] == [
        ("ask", "ask", 1, first["run_id"])
    ]
    table = cli("cache", "list", cwd=tmp_path).out
    assert table.splitlines()[0].split()[:2] == ["WORKFLOW", "STEP"]
    kept = cli("cache", "clear", "--older-than", "30d", cwd=tmp_path)
    assert kept.out == "removed 0 cached results not used for 30d\n"
    bad = cli("cache", "clear", "--older-than", "soon", cwd=tmp_path)
    assert bad.code == 2 and "is not an age" in bad.err
    assert cli("cache", "clear", cwd=tmp_path).out == (
        "removed 1 cached result and 1 compiled plan\n"
    )
    run(cli, tmp_path)
    assert calls(openai_server) == 2


def test_a_workflow_arg_in_the_prompt_is_part_of_the_key(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server, ask("about {{ args.topic }}"))
    run(cli, tmp_path, "topic=ledgers")
    run(cli, tmp_path, "topic=budgets")
    assert [r.prompt for r in openai_server.requests()] == ["about ledgers", "about budgets"]
    again = run(cli, tmp_path, "topic=ledgers")
    assert calls(openai_server) == 2 and again["output"] == "about ledgers"


# A fresh interpreter runs `llm-mux ARGS`, then prints which of these it had loaded.
_LOADED = """
import json, sys
from llm_mux.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
watched = ("llm_mux.backends", "httpx", "networkx", "llm_mux.memory.items", "ctypes")
print(json.dumps([name for name in watched if name in sys.modules]), file=sys.stderr)
"""


def test_a_run_the_cache_answers_loads_no_backend_and_no_compiler(
    tmp_path: Path, openai_server: ModelServer
) -> None:
    """A no-op run pays for start-up only (issue 16): the plan is read back (no
    networkx), the cached query step is keyed without the backends or httpx, memory
    is not parsed or written, and with no child started ctypes (the subreaper) is not
    imported."""
    project(tmp_path, openai_server, ask())
    (tmp_path / "src").mkdir()

    def loaded() -> list[str]:
        done = fresh(tmp_path, "run", "wf.toml", code=_LOADED)
        assert done.returncode == 0, done.stderr
        modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
        return modules

    assert "httpx" in loaded()  # the first run asks the backend
    assert loaded() == []
    assert calls(openai_server) == 1

"""The memory examples end to end, offline, through `llm-mux run`, as docs/workflows.md
documents them: from `examples/myapp/api` in a copy of the clone's examples/, with the
example project's config (trusted for the run), `examples/offline.toml` swapping every
model for a stand-in, and relative paths. What a discovery workflow stores, the next
workflow reads as `ecosystem.memory`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@pytest.fixture
def api(tmp_path: Path) -> Path:
    """examples/myapp/api in a copy of examples/ (runs may change its files); cwd for runs."""
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("invalid"))
    return tmp_path / "examples" / "myapp" / "api"


def run(cli, api: Path, workflow: str, *args: str, config: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    configs = [word for path in ("../../offline.toml", *config) for word in ("--config", path)]
    path = f"../../workflows/{workflow}.toml"
    result = cli(*configs, "--trust", "--output", "json", "run", path, *args, cwd=api)
    assert result.code == 0, result.err + result.out
    return json.loads(result.out)


def test_the_documented_commands_run_as_written(api: Path) -> None:
    page = (REPO / "docs" / "workflows.md").read_text(encoding="utf-8")
    block = page.split("<!-- memory-tutorial -->\n```sh\n", 1)[1].split("```", 1)[0]
    script = block.replace("cd examples/myapp/api", f"cd {api}")
    assert script != block
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stored 3 facts, 4 relationships in memory 'myapp' (7 new)" in done.stdout
    assert "worker depends_on database" in done.stdout
    assert re.search(r"database\s+database has schema.sql at its root", done.stdout)


def memory_db() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "memory" / "myapp.db"


def prompt_of(run_id: str, step: str) -> str:
    ledger = Path(os.environ["XDG_STATE_HOME"]) / "llm-mux" / "runs.db"
    with sqlite3.connect(ledger) as connection:
        ((inputs,),) = connection.execute(
            "SELECT inputs FROM steps WHERE run_id = ? AND name = ?", (run_id, step)
        ).fetchall()
    return str(json.loads(inputs)["prompt"])


@pytest.fixture
def standalone_api(tmp_path: Path) -> Path:
    """The sample api project on its own (no .llm-mux/ above it, so it is its own project
    root), the example config as the user config, its ecosystem paths made absolute."""
    project = tmp_path / "api"
    shutil.copytree(EXAMPLES / "myapp" / "api", project)
    config_dir = Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux"
    config_dir.mkdir(parents=True)
    shutil.copy(EXAMPLES / ".llm-mux" / "config.toml", config_dir / "config.toml")
    (tmp_path / "paths.toml").write_text(
        f'[ecosystems.myapp.projects.api]\npath = "{project}"\n'
        f'[ecosystems.myapp.projects.database]\npath = "{EXAMPLES / "myapp" / "db"}"\n'
    )
    return project


def run_standalone(cli, api: Path, workflow: str, *configs: str):  # type: ignore[no-untyped-def]
    options = [w for c in (str(EXAMPLES / "offline.toml"), *configs) for w in ("--config", c)]
    options += ["--config", str(api.parent / "paths.toml")]
    path = str(EXAMPLES / "workflows" / f"{workflow}.toml")
    result = cli(*options, "--output", "json", "run", path, cwd=api)
    assert result.code == 0, result.err + result.out
    return json.loads(result.out)


def test_seed_discovery_then_bug_hunt_sees_the_stored_facts(
    cli, standalone_api: Path, tmp_path: Path
) -> None:
    api = standalone_api
    # The seed's discover.toml asks role `analyzer` (team rust here) for JSON;
    # point that role at the JSON stand-in for this test.
    json_analyzer = tmp_path / "json-analyzer.toml"
    json_analyzer.write_text(
        '[roles.analyzer]\nbackends = ["cartographer-standin"]\n'
        '[teams.rust.roles]\nanalyzer = ["cartographer-standin"]\n'
    )
    discovered = run_standalone(cli, api, "discover", str(json_analyzer))
    assert discovered["output"] == "stored 2 facts in memory 'myapp' (2 new)"
    with sqlite3.connect(memory_db()) as connection:
        facts = connection.execute("SELECT project, fact, source FROM facts ORDER BY id")
        assert facts.fetchall() == [
            ("api", "api has Cargo.toml at its root", "Cargo.toml"),
            ("api", "api has src at its root", "src"),
        ]
    hunted = run_standalone(cli, api, "bug-hunt")
    prompt = prompt_of(str(hunted["run_id"]), "analyze")
    assert "Stored facts about this project and its dependencies:\n" in prompt
    assert "- [api] api has Cargo.toml at its root (source: Cargo.toml)\n" in prompt
    assert "- [api] api has src at its root (source: src)\n" in prompt


def test_discover_ecosystem_then_query_knowledge(cli, api: Path) -> None:
    discovered = run(cli, api, "discover-ecosystem")
    assert discovered["output"] == "stored 3 facts, 4 relationships in memory 'myapp' (7 new)"
    listed = cli("memory", "facts", "--project", "database", cwd=api)
    assert listed.out.splitlines()[1].split() == [
        "database",
        "database",
        "has",
        "schema.sql",
        "at",
        "its",
        "root",
        "schema.sql",
        "1",
        "structure",
    ]
    # Discovering again updates what is there: nothing is duplicated.
    again = run(cli, api, "discover-ecosystem")
    assert again["output"] == "stored 3 facts, 4 relationships in memory 'myapp' (all unchanged)"
    answered = run(cli, api, "query-knowledge", "question=what is known about the worker?")
    assert answered["output"] == (
        "[librarian stand-in] 2 line(s) of the prompt match the question:\n"
        "- worker depends_on api (depends_on in the ecosystem config)\n"
        "- worker depends_on database (depends_on in the ecosystem config)"
    )


def test_discover_entities_keeps_the_history_of_a_growing_file(cli, api: Path) -> None:
    first = run(cli, api, "discover-entities")
    assert first["output"] == "stored 1 entity in memory 'myapp' (1 new), 1 property value recorded"
    with (api / "Cargo.toml").open("a") as manifest:
        manifest.write("[dependencies]\nserde = '1'\n")
    run(cli, api, "discover-entities")
    listed = cli("--output", "json", "memory", "entities", "--history", cwd=api)
    (entity,) = json.loads(listed.out)
    assert (entity["entity_name"], entity["project"], entity["properties"]) == (
        "Cargo.toml",
        "api",
        {"lines": 4},
    )
    assert [(v["value"], v["valid_to"] is None) for v in entity["history"]] == [
        (2, False),
        (4, True),
    ]

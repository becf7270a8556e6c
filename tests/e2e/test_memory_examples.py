"""The seed's memory examples end to end, offline, through `llm-mux run`.

HOME is a temporary directory holding the example ecosystem's projects
(`~/projects/myapp-api`, `~/projects/myapp-db`); the example config is the
user config, and `examples/offline.toml` swaps every model for a stand-in. What
a discovery workflow stores, the next workflow reads as `ecosystem.memory`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
OFFLINE = str(EXAMPLES / "offline.toml")


@pytest.fixture
def api(isolated_home: Path) -> Path:
    """~/projects/myapp-api, a small Rust project of the `myapp` ecosystem; cwd for runs."""
    config_dir = Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux"
    config_dir.mkdir(parents=True)
    shutil.copy(EXAMPLES / ".llm-mux" / "config.toml", config_dir / "config.toml")
    project = isolated_home / "projects" / "myapp-api"
    (project / "src").mkdir(parents=True)
    (project / "Cargo.toml").write_text('[package]\nname = "api"\n')
    (project / "src" / "main.rs").write_text("fn main() {}\n")
    database = isolated_home / "projects" / "myapp-db"
    database.mkdir()
    (database / "schema.sql").write_text("create table users (id int);\n")
    return project


def run(cli, api: Path, workflow: str, *args: str, config: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    configs = [word for path in (OFFLINE, *config) for word in ("--config", path)]
    path = str(EXAMPLES / "workflows" / f"{workflow}.toml")
    result = cli(*configs, "--output", "json", "run", path, *args, cwd=api)
    assert result.code == 0, result.err + result.out
    return json.loads(result.out)


def memory_db() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "memory" / "myapp.db"


def prompt_of(run_id: str, step: str) -> str:
    ledger = Path(os.environ["XDG_STATE_HOME"]) / "llm-mux" / "runs.db"
    with sqlite3.connect(ledger) as connection:
        ((inputs,),) = connection.execute(
            "SELECT inputs FROM steps WHERE run_id = ? AND name = ?", (run_id, step)
        ).fetchall()
    return str(json.loads(inputs)["prompt"])


def test_seed_discovery_then_bug_hunt_sees_the_stored_facts(cli, api: Path, tmp_path: Path) -> None:
    # The seed's discover.toml asks role `analyzer` (team rust here) for JSON;
    # point that role at the JSON stand-in for this test.
    json_analyzer = tmp_path / "json-analyzer.toml"
    json_analyzer.write_text(
        '[roles.analyzer]\nbackends = ["cartographer-standin"]\n'
        '[teams.rust.roles]\nanalyzer = ["cartographer-standin"]\n'
    )
    discovered = run(cli, api, "discover", config=(str(json_analyzer),))
    assert discovered["output"] == "stored 2 facts in memory 'myapp' (2 new)"
    with sqlite3.connect(memory_db()) as connection:
        facts = connection.execute("SELECT project, fact, source FROM facts ORDER BY id")
        assert facts.fetchall() == [
            ("api", "api has Cargo.toml at its root", "Cargo.toml"),
            ("api", "api has src at its root", "src"),
        ]
    hunted = run(cli, api, "bug-hunt")
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

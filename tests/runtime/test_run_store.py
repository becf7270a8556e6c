"""`llm-mux run` with store steps, `ecosystem.memory` and teams in templates.

Each test runs the real command in-process; the memory database is then opened
on its own with sqlite3, as a user (or the next workflow) would find it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from llm_mux.memory.location import memory_path

FACTS = {
    "facts": [
        {"project": "api", "fact": "Uses PostgreSQL", "source": "Cargo.toml", "confidence": 0.9},
        {"project": "api", "fact": "Has no tests", "source": "ls", "confidence": 0.5},
    ],
    "relationships": [{"from": "api", "to": "db", "type": "depends_on"}],
}


def user_dir() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux"


def user_config(text: str) -> None:
    user_dir().mkdir(parents=True, exist_ok=True)
    (user_dir() / "config.toml").write_text(text)


def ecosystem_here(project_dir: Path, name: str = "shop") -> None:
    """An ecosystem whose project `api` is `project_dir`, so it is detected there."""
    user_config(
        f'[ecosystems.{name}]\ndescription = "test shop"\n'
        f'[ecosystems.{name}.projects.api]\npath = "{project_dir}"\ntype = "rust"\n'
    )


def store_workflow(tmp_path: Path, document: object, *, ecosystem: str | None = None) -> None:
    """emit prints the JSON (from a file: no quoting worries), store stores it."""
    (tmp_path / "answer.json").write_text(
        document if isinstance(document, str) else json.dumps(document)
    )
    named = f'ecosystem = "{ecosystem}"\n' if ecosystem else ""
    (tmp_path / "wf.toml").write_text(
        '[[steps]]\nname = "emit"\ntype = "shell"\nrun = "cat answer.json"\n'
        '[[steps]]\nname = "store"\ntype = "store"\ninput = "{{ steps.emit.output }}"\n' + named
    )


def run(cli, tmp_path: Path, workflow: str = "wf.toml") -> tuple[int, dict[str, object]]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "run", workflow, cwd=tmp_path)
    assert result.out, result.err
    return result.code, json.loads(result.out)


def step(document: dict[str, object], name: str) -> dict[str, object]:
    return document["steps"][name]  # type: ignore[index, no-any-return]


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def test_a_store_step_writes_the_detected_ecosystems_database(cli, tmp_path: Path) -> None:
    ecosystem_here(tmp_path)
    store_workflow(tmp_path, FACTS)
    code, document = run(cli, tmp_path)
    assert code == 0, document
    store = step(document, "store")
    assert store["output"] == "stored 2 facts, 1 relationship in memory 'shop' (3 new)"
    assert store["store"]["stored"] == {  # type: ignore[index]
        "facts": 2,
        "relationships": 1,
        "entities": 0,
        "skipped": 0,
    }
    database = memory_path(user_dir(), "shop")
    assert query(database, "SELECT project, fact, run_id FROM facts ORDER BY id") == [
        ("api", "Uses PostgreSQL", document["run_id"]),
        ("api", "Has no tests", document["run_id"]),
    ]
    assert query(database, "SELECT from_name, to_name, type FROM relationships") == [
        ("api", "db", "depends_on")
    ]


def test_two_runs_storing_the_same_facts_leave_one_row_each(cli, tmp_path: Path) -> None:
    store_workflow(tmp_path, FACTS, ecosystem="shop")
    run(cli, tmp_path)
    code, document = run(cli, tmp_path)
    assert code == 0
    assert step(document, "store")["output"] == (
        "stored 2 facts, 1 relationship in memory 'shop' (all unchanged)"
    )
    database = memory_path(user_dir(), "shop")
    assert query(database, "SELECT count(*) FROM facts") == [(2,)]
    assert query(database, "SELECT count(*) FROM relationships") == [(1,)]


def test_partly_valid_input_stores_only_the_valid_items(cli, tmp_path: Path) -> None:
    document = {
        "facts": [*FACTS["facts"], {"project": "api", "fact": "no source", "confidence": 1}]
    }
    store_workflow(tmp_path, f"Here you go:\n```json\n{json.dumps(document)}\n```", ecosystem="e")
    code, result = run(cli, tmp_path)
    assert code == 0
    assert step(result, "store")["output"] == (
        "stored 2 facts in memory 'e' (2 new); skipped fact 2: missing \"source\""
    )
    assert step(result, "store")["store"]["skipped"] == [  # type: ignore[index]
        {"kind": "fact", "index": 2, "reason": 'missing "source"'}
    ]
    assert query(memory_path(user_dir(), "e"), "SELECT count(*) FROM facts") == [(2,)]


def test_input_with_no_valid_item_fails_and_changes_nothing(cli, tmp_path: Path) -> None:
    store_workflow(tmp_path, FACTS, ecosystem="e")
    run(cli, tmp_path)
    database = memory_path(user_dir(), "e")
    before = query(database, "SELECT * FROM facts")
    store_workflow(tmp_path, {"facts": [{"project": "api"}, 7]}, ecosystem="e")
    code, document = run(cli, tmp_path)
    assert code == 1 and document["status"] == "failed"
    assert step(document, "store")["error"] == (
        'nothing stored: no valid item; skipped fact 0: missing "fact"; '
        "skipped fact 1: is the number 7, not an object"
    )
    assert query(database, "SELECT * FROM facts") == before


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("I could not find anything.", "no JSON object with facts, relationships or entities"),
        ('{"summary": "fine"}', "no JSON object with facts, relationships or entities"),
    ],
)
def test_input_without_a_document_fails(cli, tmp_path: Path, answer: str, error: str) -> None:
    store_workflow(tmp_path, answer, ecosystem="e")
    code, document = run(cli, tmp_path)
    assert code == 1
    assert error in str(step(document, "store")["error"])
    assert not memory_path(user_dir(), "e").exists()


def test_no_ecosystem_detected_or_named_is_a_clear_error(cli, tmp_path: Path) -> None:
    store_workflow(tmp_path, FACTS)
    code, document = run(cli, tmp_path)
    assert code == 1
    assert step(document, "store")["error"] == (
        "no ecosystem is configured: add [ecosystems.NAME] with projects to a config file; "
        'or name one on the store step: ecosystem = "NAME"'
    )


def test_ecosystem_names_are_sanitised_into_file_names(cli, tmp_path: Path) -> None:
    store_workflow(tmp_path, FACTS, ecosystem="../my shop")
    code, document = run(cli, tmp_path)
    assert code == 0
    database = Path(str(step(document, "store")["store"]["database"]))  # type: ignore[index]
    assert database.parent == user_dir() / "memory"
    assert database.name.startswith("_my_shop-") and database.suffix == ".db"


MEMORY_TEMPLATE = """
[[steps]]
name = "recall"
type = "shell"
run = "printf '%s\\\\n' {{ ecosystem.memory.facts | length }} {{ ecosystem.memory.relationships | length }}{% for f in ecosystem.memory.facts %} {{ f.project ~ ': ' ~ f.fact ~ ' (' ~ f.source ~ ', ' ~ f.confidence ~ ', ' ~ (f.category or '-') ~ ')' }}{% endfor %}{% for r in ecosystem.memory.relationships %} {{ r.from ~ ' ' ~ r.type ~ ' ' ~ r.to }}{% endfor %}"
"""  # noqa: E501


def test_what_one_workflow_stores_the_next_reads_as_ecosystem_memory(cli, tmp_path: Path) -> None:
    ecosystem_here(tmp_path)
    (tmp_path / "recall.toml").write_text(MEMORY_TEMPLATE)
    code, document = run(cli, tmp_path, "recall.toml")
    assert (code, document["output"]) == (0, "0\n0"), "no database yet: empty lists"
    assert not memory_path(user_dir(), "shop").exists(), "reading never creates the database"
    store_workflow(tmp_path, FACTS)
    run(cli, tmp_path)
    code, document = run(cli, tmp_path, "recall.toml")
    assert document["output"] == (
        "2\n1\napi: Uses PostgreSQL (Cargo.toml, 0.9, -)\n"
        "api: Has no tests (ls, 0.5, -)\napi depends_on db"
    )


def test_a_step_after_a_store_step_sees_what_it_stored(cli, tmp_path: Path) -> None:
    ecosystem_here(tmp_path)
    store_workflow(tmp_path, FACTS)
    workflow = (tmp_path / "wf.toml").read_text() + (
        '[[steps]]\nname = "count"\ntype = "shell"\ndepends_on = ["store"]\n'
        'run = "echo {{ ecosystem.memory.facts | length }}"\n'
    )
    (tmp_path / "wf.toml").write_text(workflow)
    code, document = run(cli, tmp_path)
    assert (code, document["output"]) == (0, "2")


def test_memory_is_not_read_unless_a_template_touches_it(cli, tmp_path: Path) -> None:
    ecosystem_here(tmp_path)
    memory = user_dir() / "memory"
    memory.mkdir(parents=True)
    memory_path(user_dir(), "shop").write_text("this is not a database")
    (tmp_path / "wf.toml").write_text(
        '[[steps]]\nname = "hi"\ntype = "shell"\nrun = "echo {{ ecosystem.name }}"\n'
    )
    code, document = run(cli, tmp_path)
    assert (code, document["output"]) == (0, "shop")


TEAM_CONFIG = """
[teams.rust]
description = "Rust projects"
detect = ["Cargo.toml"]
verify = "cargo test"
"""

TEAM_WORKFLOW = """
[[steps]]
name = "rust-only"
type = "shell"
run = "echo clippy for {{ team }}: {{ team.verify }}, {{ team.description }}"
if = "team == 'rust'"

[[steps]]
name = "always"
type = "shell"
run = "echo {{ team | default('no team') }}"
"""


@pytest.mark.parametrize("detected", [True, False])
def test_if_team_equals_works_with_a_detected_team(cli, tmp_path: Path, detected: bool) -> None:
    user_config(TEAM_CONFIG)
    if detected:
        (tmp_path / "Cargo.toml").write_text("[package]\n")
    (tmp_path / "wf.toml").write_text(TEAM_WORKFLOW)
    code, document = run(cli, tmp_path)
    assert code == 0
    rust_only, always = step(document, "rust-only"), step(document, "always")
    if detected:
        assert rust_only["status"] == "succeeded"
        assert rust_only["output"] == "clippy for rust: cargo test, Rust projects"
        assert always["output"] == "rust"
    else:
        assert rust_only["status"] == "skipped"
        assert always["output"] == "no team"


def test_team_flag_overrides_detection_in_conditions(cli, tmp_path: Path) -> None:
    user_config(TEAM_CONFIG + '[teams.python]\ndetect = ["pyproject.toml"]\n')
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "wf.toml").write_text(TEAM_WORKFLOW)
    result = cli("--output", "json", "--team", "rust", "run", "wf.toml", cwd=tmp_path)
    assert step(json.loads(result.out), "rust-only")["status"] == "succeeded"

"""The memory database as files on disk, opened independently with sqlite3."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_mux.database import DatabaseError
from llm_mux.memory import writes as writes_module
from llm_mux.memory.items import Batch, parse_batch
from llm_mux.memory.location import file_stem, memory_path
from llm_mux.memory.reads import read_entities, read_facts
from llm_mux.memory.writes import store_batch


def batch(**lists: object) -> Batch:
    return parse_batch(json.dumps(lists))


def fact(text: str = "Uses PostgreSQL", **fields: object) -> dict[str, object]:
    return {"project": "api", "fact": text, "source": "Cargo.toml", "confidence": 0.9, **fields}


def rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(query).fetchall()


def test_a_new_database_has_its_schema_version_wal_and_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "memory" / "myapp.db"
    store_batch(path, batch(facts=[fact()]), run_id="r1", now="2024-01-01T00:00:00+00:00")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert rows(path, "SELECT version FROM schema_version") == [(2,)]
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    tables = {r[0] for r in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"facts", "relationships", "entities", "entity_properties"} <= tables


def test_the_same_fact_is_updated_never_duplicated(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store_batch(path, batch(facts=[fact()]), run_id="r1", now="2024-01-01T00:00:00+00:00")
    stored = store_batch(
        path,
        batch(facts=[fact("uses   postgresql", confidence=1.0, category="database")]),
        run_id="r2",
        now="2024-01-02T00:00:00+00:00",
    )
    assert stored.updated["facts"] == 1 and stored.new["facts"] == 0
    query = "SELECT fact, confidence, category, created_at, updated_at, run_id FROM facts"
    first, second = "2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00"
    assert rows(path, query) == [("uses   postgresql", 1.0, "database", first, second, "r2")]
    # The same fact for another project is another fact.
    store_batch(path, batch(facts=[fact(project="web")]), run_id="r3", now="2024-01-03")
    assert rows(path, "SELECT project FROM facts ORDER BY project") == [("api",), ("web",)]


def test_relationships_upsert_on_from_to_and_type(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    edge = {"from": "api", "to": "db", "type": "depends_on"}
    store_batch(path, batch(relationships=[edge]), run_id=None, now="t1")
    store_batch(
        path, batch(relationships=[dict(edge, evidence="Cargo.toml")]), run_id=None, now="t2"
    )
    store_batch(path, batch(relationships=[dict(edge, type="Depends on")]), run_id=None, now="t3")
    assert rows(path, "SELECT from_name, to_name, type, evidence FROM relationships") == [
        ("api", "db", "depends_on", "Cargo.toml")
    ]


def test_entity_properties_keep_their_history(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    entity = {"entity_type": "service", "entity_name": "billing", "source": "k8s", "project": "api"}
    versions = [
        ({"replicas": 2, "image": "b:1"}, "t1"),
        ({"replicas": 2}, "t2"),  # unchanged; image not mentioned: kept
        ({"replicas": 3}, "t3"),  # changed: closes the old row, opens a new one
        ({"image": None}, "t4"),  # null: closed without a successor
    ]
    for properties, now in versions:
        store_batch(
            path, batch(entities=[dict(entity, properties=properties)]), run_id=now, now=now
        )
    history = rows(
        path,
        "SELECT name, value, valid_from, valid_to FROM entity_properties ORDER BY name, valid_from",
    )
    assert history == [
        ("image", "b:1", "t1", "t4"),  # a string as the text itself
        ("replicas", "2", "t1", "t3"),
        ("replicas", "3", "t3", None),
    ]
    assert rows(path, "SELECT count(*) FROM entities") == [(1,)]
    (read,) = read_entities(path, history=True)
    assert read["properties"] == {"replicas": 3}
    assert [(v["name"], v["value"], v["valid_to"]) for v in read["history"]] == [  # type: ignore[union-attr]
        ("image", "b:1", "t4"),
        ("replicas", 2, "t3"),
        ("replicas", 3, None),
    ]


def test_an_error_mid_transaction_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.db"
    store_batch(path, batch(facts=[fact("before")]), run_id="r0", now="t0")
    entity = {"entity_type": "file", "entity_name": "a", "source": "ls"}
    original = writes_module._write_entity
    calls = 0

    def crash_on_second(*args: object) -> tuple[str, int]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(writes_module, "_write_entity", crash_on_second)
    big = batch(
        facts=[fact("after"), fact("before", confidence=0.1)],
        relationships=[{"from": "a", "to": "b", "type": "uses"}],
        entities=[entity, dict(entity, entity_name="b")],
    )
    with pytest.raises(sqlite3.OperationalError):
        store_batch(path, big, run_id="r1", now="t1")
    assert rows(path, "SELECT fact, confidence FROM facts") == [("before", 0.9)]
    for table in ("relationships", "entities", "entity_properties"):
        assert rows(path, f"SELECT count(*) FROM {table}") == [(0,)]


def test_concurrent_processes_writing_one_database_lose_nothing(tmp_path: Path) -> None:
    """WAL and the busy timeout: two writers queue for the lock, neither fails."""
    path = tmp_path / "memory" / "shared.db"
    writer = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from llm_mux.memory.items import parse_batch\n"
        "from llm_mux.memory.writes import store_batch\n"
        "who = sys.argv[1]\n"
        "for i in range(40):\n"
        "    facts = [{'project': p, 'fact': f'fact {i}', 'source': who, 'confidence': 1}\n"
        "             for p in (who, 'shared')]\n"
        "    store_batch(Path(sys.argv[2]), parse_batch(json.dumps({'facts': facts})),\n"
        "                run_id=who, now=str(i))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", writer, who, str(path)], cwd=tmp_path, stderr=subprocess.PIPE
        )
        for who in ("one", "two")
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr.decode()
    counts = dict(rows(path, "SELECT project, count(*) FROM facts GROUP BY project"))  # type: ignore[arg-type]
    assert counts == {"one": 40, "two": 40, "shared": 40}


def test_a_database_from_a_newer_llm_mux_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store_batch(path, batch(facts=[fact()]), run_id=None, now="t")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(DatabaseError, match="written by a newer llm-mux"):
        read_facts(path)


def test_a_missing_database_reads_as_empty_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    assert read_facts(path) == [] and read_entities(path, history=True) == []
    assert not path.exists()


def test_reads_filter_by_project_and_search(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    facts = [fact("Uses PostgreSQL"), fact("Uses 100% Rust", project="web"), fact("Has a CLI")]
    store_batch(path, batch(facts=facts), run_id=None, now="t")
    assert [f["fact"] for f in read_facts(path, project="api")] == ["Uses PostgreSQL", "Has a CLI"]
    assert [f["fact"] for f in read_facts(path, search="postgres")] == ["Uses PostgreSQL"]
    assert [f["fact"] for f in read_facts(path, search="100%")] == ["Uses 100% Rust"]
    assert read_facts(path, search="_") == []  # LIKE wildcards are matched literally


@pytest.mark.parametrize(
    ("name", "stem"),
    [("myapp", "myapp"), ("my-app_2.0", "my-app_2.0")],
)
def test_plain_names_are_file_names(name: str, stem: str) -> None:
    assert file_stem(name) == stem
    assert memory_path(Path("/c/llm-mux"), name) == Path(f"/c/llm-mux/memory/{stem}.db")


@given(st.text(min_size=1, max_size=100))
def test_any_name_becomes_a_safe_file_name(name: str) -> None:
    stem = file_stem(name)
    assert stem and not stem.startswith(".")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in stem)
    assert len(stem) <= 90


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_different_names_never_share_a_file(a: str, b: str) -> None:
    if a != b:
        assert file_stem(a) != file_stem(b)


_fact_lists = st.lists(
    st.fixed_dictionaries(
        {
            "project": st.sampled_from(["api", "web"]),
            "fact": st.sampled_from(["Uses Redis", "uses  redis", "Has tests", "Ships a CLI"]),
            "source": st.sampled_from(["a", "b"]),
            "confidence": st.sampled_from([0.5, 1.0]),
        }
    ),
    max_size=6,
)


@settings(max_examples=25, deadline=None)
@given(_fact_lists)
def test_storing_twice_is_storing_once(facts: list[dict[str, object]]) -> None:
    """The upsert law: a second store of the same batch changes nothing."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "m.db"
        document = batch(facts=facts)
        store_batch(path, document, run_id="r", now="t")
        once = rows(path, "SELECT * FROM facts ORDER BY id")
        again = store_batch(path, document, run_id="r", now="t")
        assert rows(path, "SELECT * FROM facts ORDER BY id") == once
        assert sum(again.new.values()) == 0
        keys = {(f["project"], " ".join(str(f["fact"]).split()).lower()) for f in facts}
        assert len(once) == len(keys)


def test_a_version_1_database_keeps_its_properties_and_history(tmp_path: Path) -> None:
    from llm_mux.database import Schema, open_database
    from llm_mux.memory.schema import MEMORY_SCHEMA

    path = tmp_path / "m.db"
    old = open_database(path, Schema("memory database", MEMORY_SCHEMA.migrations[:1]))
    assert old is not None
    with old:
        old.execute(
            "INSERT INTO entities (entity_type, entity_name, source, created_at, updated_at) "
            "VALUES ('service', 'web', 'k8s', 't1', 't1')"
        )
        old.executemany(
            "INSERT INTO entity_properties (entity_id, name, value, valid_from, valid_to) "
            "VALUES (1, ?, ?, ?, ?)",
            [
                ("port", '"8080"', "t1", "t2"),
                ("port", '"9090"', "t2", None),
                ("n", "3", "t1", None),
            ],
        )
    old.close()
    (read,) = read_entities(path, history=True)  # opening migrates the file to version 2
    assert read["properties"] == {"n": 3, "port": "9090"}
    assert [v["value"] for v in read["history"]] == [3, "8080", "9090"]  # type: ignore[union-attr]
    assert rows(path, "SELECT value, value_type FROM entity_properties ORDER BY id") == [
        ("8080", "text"),
        ("9090", "text"),
        ("3", "json"),
    ]

"""`llm-mux memory facts | relationships | entities`: tables, JSON, filters, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llm_mux.memory.items import parse_batch
from llm_mux.memory.location import memory_path
from llm_mux.memory.writes import store_batch

KNOWN = {
    "facts": [
        {"project": "api", "fact": "Uses PostgreSQL", "source": "Cargo.toml", "confidence": 0.9},
        {"project": "web", "fact": "Built with Vite", "source": "package.json", "confidence": 1},
    ],
    "relationships": [
        {"from": "web", "to": "api", "type": "calls", "evidence": "fetch('/api')"},
        {"from": "api", "to": "db", "type": "depends_on"},
    ],
    "entities": [
        {
            "entity_type": "service",
            "entity_name": "billing",
            "project": "api",
            "source": "k8s",
            "properties": {"replicas": 2},
        }
    ],
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """Ecosystem `shop` with project `api` at tmp_path, and some stored knowledge."""
    user_dir = Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux"
    user_dir.mkdir(parents=True)
    (user_dir / "config.toml").write_text(
        f'[ecosystems.shop.projects.api]\npath = "{tmp_path}"\n'
        '[ecosystems.other.projects.x]\npath = "/nonexistent"\n'
    )
    path = memory_path(user_dir, "shop")
    store_batch(path, parse_batch(json.dumps(KNOWN)), run_id="r1", now="2024-05-01T10:00:00+00:00")
    bump = {**KNOWN["entities"][0], "properties": {"replicas": 3}}  # type: ignore[dict-item]
    store_batch(
        path,
        parse_batch(json.dumps({"entities": [bump]})),
        run_id="r2",
        now="2024-05-02T10:00:00+00:00",
    )
    return tmp_path


def test_facts_as_a_table_for_the_detected_ecosystem(cli, shop: Path) -> None:
    result = cli("memory", "facts", cwd=shop)
    assert result.code == 0
    assert result.out == (
        "PROJECT  FACT             SOURCE        CONFIDENCE  CATEGORY\n"
        "api      Uses PostgreSQL  Cargo.toml    0.9         -\n"
        "web      Built with Vite  package.json  1           -\n"
    )


def test_filters_by_project_and_search(cli, shop: Path) -> None:
    assert cli("memory", "facts", "--project", "web", cwd=shop).out.count("\n") == 2
    found = cli("--output", "json", "memory", "facts", "--search", "POSTGRES", cwd=shop)
    assert [f["fact"] for f in json.loads(found.out)] == ["Uses PostgreSQL"]
    related = cli("--output", "json", "memory", "relationships", "--project", "api", cwd=shop)
    assert [(r["from"], r["type"], r["to"]) for r in json.loads(related.out)] == [
        ("api", "depends_on", "db"),
        ("web", "calls", "api"),
    ]


def test_entities_show_current_properties_and_history(cli, shop: Path) -> None:
    current = cli("memory", "entities", cwd=shop).out.splitlines()
    assert current[1].split() == ["service", "billing", "api", "replicas=3", "-", "k8s"]
    history = json.loads(cli("--output", "json", "memory", "entities", "--history", cwd=shop).out)
    assert [(v["value"], v["valid_from"][:10], v["valid_to"]) for v in history[0]["history"]] == [
        (2, "2024-05-01", "2024-05-02T10:00:00+00:00"),
        (3, "2024-05-02", None),
    ]
    table = cli("memory", "entities", "--history", cwd=shop).out.splitlines()
    assert table[0].split()[:5] == ["TYPE", "NAME", "PROJECT", "PROPERTY", "VALUE"]
    assert [line.split()[3:5] for line in table[1:]] == [["replicas", "2"], ["replicas", "3"]]
    assert table[2].endswith("current")


def test_a_named_ecosystem_with_nothing_stored_is_empty(cli, shop: Path, tmp_path: Path) -> None:
    result = cli("memory", "facts", "--ecosystem", "other", cwd=tmp_path)
    assert (result.code, result.out) == (0, "no facts stored in memory 'other'\n")
    assert cli("--output", "json", "memory", "facts", "--ecosystem", "other").out == "[]\n"


def test_an_unknown_ecosystem_is_a_usage_error(cli, shop: Path) -> None:
    result = cli("memory", "facts", "--ecosystem", "shopp", cwd=shop)
    assert result.code == 2
    assert "no ecosystem 'shopp': it is not configured and has no memory" in result.err
    assert "did you mean 'shop'?" in result.err


def test_no_ecosystem_detected_is_a_usage_error(cli, shop: Path) -> None:
    result = cli("memory", "relationships", cwd=shop.parent)
    assert result.code == 2
    assert "no ecosystem detected" in result.err and "--ecosystem NAME" in result.err


def test_history_is_only_for_entities(cli, shop: Path) -> None:
    assert cli("memory", "facts", "--history", cwd=shop).code == 2

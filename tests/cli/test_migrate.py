"""`llm-mux migrate FILE… [--diff]`: files written for the Rust llm-mux, rewritten in place
in our spelling with their comments and layout, then loading, validating and running."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from llm_mux.migrate import migrate_text, milliseconds_text

UPSTREAM = Path(__file__).resolve().parents[1] / "e2e" / "upstream"


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / Path(name).name
    shutil.copy(UPSTREAM / name, target)
    return target


def test_millisecond_timeouts_become_unit_strings_keeping_comments(cli, tmp_path: Path) -> None:
    workflow = copy(tmp_path, "workflows/discover-ecosystem.toml")
    before = workflow.read_text()
    result = cli("migrate", str(workflow), cwd=tmp_path)
    assert result.code == 0, result.err
    after = workflow.read_text()
    assert 'timeout = "10m"  # ten minutes, in milliseconds' in after
    assert 'timeout = "5s"  # five seconds' in after
    assert 'timeout = "3m"\n' in after
    # Everything else is byte for byte what it was.
    assert after.replace('"10m"', "600000").replace('"5s"', "5000").replace('"3m"', "180000") == (
        before
    )
    assert "step 'inventory': timeout = 5000 (milliseconds) → \"5s\"" in result.out
    again = cli("migrate", str(workflow), cwd=tmp_path)
    assert again.code == 0 and "nothing to migrate" in again.out
    assert workflow.read_text() == after


def test_diff_shows_the_change_and_writes_nothing(cli, tmp_path: Path) -> None:
    workflow = copy(tmp_path, "workflows/quick-check.toml")
    before = workflow.read_text()
    result = cli("migrate", "--diff", "quick-check.toml", cwd=tmp_path)
    assert result.code == 0
    assert '-timeout = 2500\n+timeout = "2500ms"\n' in result.out
    assert '-timeout = 90000\n+timeout = "90s"\n' in result.out
    assert result.out.startswith(f"--- {workflow}\n+++ {workflow} (migrated)\n")
    assert workflow.read_text() == before


def test_validate_warns_then_migrate_then_it_validates_clean(cli, tmp_path: Path) -> None:
    workflow = copy(tmp_path, "workflows/quick-check.toml")
    warned = cli("validate", "--no-config", str(workflow), cwd=tmp_path)
    assert "[W502]" in warned.out and "`llm-mux migrate FILE`" in warned.out
    cli("migrate", str(workflow), cwd=tmp_path)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[backends.x]\ncommand = "sh"\n[roles.quick]\nbackends = ["x"]\n')
    clean = cli("validate", "--no-config", "--strict", str(workflow), cwd=tmp_path)
    assert clean.code == 0, clean.out
    plan = json.loads(cli("plan", "--format", "json", str(workflow), cwd=tmp_path).out)
    assert [s["timeout"] for s in plan["steps"]] == [2.5, 90.0]


def test_a_config_keeps_its_meaning_in_our_spelling(cli, tmp_path: Path) -> None:
    config = copy(tmp_path, "config.toml")
    result = cli("migrate", str(config), cwd=tmp_path)
    assert result.code == 0, result.err
    text = config.read_text()
    assert 'type = "anthropic"' in text and 'command = "https://api.anthropic.com"' in text
    assert 'api_key = "${UPSTREAM_TEST_ANTHROPIC_KEY}"' in text and "api_key_env" not in text
    assert 'env = {CLAUDE_CODE_MODE = "review", NO_COLOR = "1"}' in text
    assert "# The Anthropic API, its key in an environment variable\n" in text
    assert "[defaults]\ntimeout = 120          # seconds" in text  # seconds in both tools
    listed = cli("--config", str(config), "--output", "json", "backends", cwd=tmp_path)
    sonnet = next(row for row in json.loads(listed.out) if row["name"] == "sonnet")
    assert sonnet["type"] == "anthropic"


def test_files_that_cannot_be_migrated_are_named_and_left_alone(cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("timeout = = 5\n")
    good = copy(tmp_path, "workflows/quick-check.toml")
    result = cli("migrate", "broken.toml", "missing.toml", "quick-check.toml", cwd=tmp_path)
    assert result.code == 1
    assert "broken.toml: not valid TOML" in result.err
    assert "missing.toml: No such file or directory" in result.err
    assert "internal error" not in result.err
    assert broken.read_text() == "timeout = = 5\n"
    assert '"90s"' in good.read_text()  # the others were still migrated
    assert cli("migrate", cwd=tmp_path).code == 2


def test_milliseconds_in_the_largest_whole_unit() -> None:
    cases = {5000: "5s", 600000: "10m", 7200000: "2h", 1500: "1500ms", 180: "180ms", 0: "0ms"}
    assert {value: milliseconds_text(value) for value in cases} == cases


def test_a_sub_second_timeout_is_kept_and_pointed_out() -> None:
    migration = migrate_text('[[steps]]\nname = "a"\ntype = "shell"\nrun = "x"\ntimeout = 180\n')
    assert 'timeout = "180ms"' in migration.text
    assert 'if seconds were meant, write "180s"' in migration.notes[0]

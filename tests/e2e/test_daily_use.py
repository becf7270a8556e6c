"""Daily use, as a new user met it (issue 13, items 4–10 and 12): the run's output when
its final step was skipped, an error that stops a run, what `doctor` finds, `steps.X.json`
for any JSON output, `runs show` with outputs and `run_id`, readable memory properties.

Real processes, a real ledger and a real memory database throughout.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from llm_mux.memory.items import Batch, parse_batch
from llm_mux.memory.reads import read_entities
from llm_mux.memory.writes import store_batch


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def user_config(text: str) -> Path:
    return write(Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "config.toml", text)


def fake_cli(directory: Path, name: str, marker: Path) -> None:
    path = write(directory / name, f'#!/bin/sh\ntouch "{marker}"\necho "{name} answers"\n')
    path.chmod(0o755)


# -- 4: the final output ------------------------------------------------------------------
SKIPPED_FINAL = """
[args.mode]
default = "short"

[[steps]]
name = "short"
type = "shell"
run = "echo the short report"

[[steps]]
name = "long"
type = "shell"
if = "args.mode == 'long'"
depends_on = ["short"]
run = "echo the long report"
"""


def test_a_skipped_final_step_gives_way_to_the_last_final_step_that_ran(
    cli, tmp_path: Path
) -> None:
    write(tmp_path / "wf.toml", SKIPPED_FINAL)
    result = cli("run", "wf.toml", cwd=tmp_path)
    assert (result.code, result.out) == (0, "the short report\n")
    assert cli("run", "wf.toml", "mode=long", cwd=tmp_path).out == "the long report\n"


def test_an_explicit_output_still_wins_even_when_skipped(cli, tmp_path: Path) -> None:
    write(tmp_path / "wf.toml", 'output = "long"\n' + SKIPPED_FINAL)
    result = cli("--output", "json", "run", "wf.toml", cwd=tmp_path)
    assert result.code == 0 and json.loads(result.out)["output"] == ""


# -- 5 and 6: an undefined backend, a missing role -------------------------------------------
UNDEFINED_BACKEND = """
[backends.real]
command = "real-cli"

[roles.default]
backends = ["real", "ghost"]
"""


def test_a_role_naming_an_undefined_backend_stops_the_run(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "called"
    fake_cli(tmp_path / "bin", "real-cli", marker)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    user_config(UNDEFINED_BACKEND)
    write(tmp_path / "wf.toml", '[[steps]]\nname = "ask"\ntype = "query"\nprompt = "hi"\n')
    result = cli("run", "wf.toml", cwd=tmp_path)
    assert result.code == 1, result.out + result.err
    assert "uses backend 'ghost', which is not defined [E402]" in result.err
    assert not marker.exists() and result.out == ""


def test_doctor_finds_an_undefined_backend(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cli(tmp_path / "bin", "real-cli", tmp_path / "called")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    user_config(UNDEFINED_BACKEND)
    result = cli("doctor", "--offline", cwd=tmp_path)
    assert result.code == 1, result.out
    assert "✗ role default: uses backend 'ghost', which is not defined" in result.out
    assert "✗ config config.toml: [roles.default] uses backend 'ghost'" in result.out
    assert "everything looks fine" not in result.out


def test_doctor_checks_the_builtin_review_and_points_at_init(cli, tmp_path: Path) -> None:
    user_config('[backends.x]\ncommand = "sh"\n')
    result = cli("--output", "json", "doctor", "--offline", cwd=tmp_path)
    assert result.code == 1
    checks = {(c["kind"], c["name"]): c for c in json.loads(result.out)["checks"]}
    review = checks[("workflow", "review")]
    assert review["status"] == "broken"
    assert "built in; " in review["detail"] and "'default'" in review["detail"]
    assert "run `llm-mux init`" in review["detail"]
    user_config('[backends.x]\ncommand = "sh"\n[roles.default]\nbackends = ["x"]\n')
    fixed = json.loads(cli("--output", "json", "doctor", "--offline", cwd=tmp_path).out)
    review = next(c for c in fixed["checks"] if c["name"] == "review")
    assert (review["status"], review["detail"]) == ("ok", "built in; validates")


# -- 9: steps.X.json ---------------------------------------------------------------------
def test_steps_json_is_the_parsed_output_of_a_shell_step(cli, tmp_path: Path) -> None:
    write(
        tmp_path / "wf.toml",
        """
[[steps]]
name = "data"
type = "shell"
run = "echo '{\\"a\\": {\\"b\\": 7}, \\"tags\\": [\\"x\\", \\"y\\"]}'"

[[steps]]
name = "use"
type = "shell"
run = "echo {{ steps.data.json.a.b }} {{ steps.data.json.tags | join(',') }}"

[[steps]]
name = "plain"
type = "shell"
run = "echo not json"
""",
    )
    result = cli("--output", "json", "run", "wf.toml", cwd=tmp_path)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["steps"]["use"]["output"] == "7 x,y"
    assert document["steps"]["data"]["json"] == {"a": {"b": 7}, "tags": ["x", "y"]}
    assert document["steps"]["plain"]["json"] is None


# -- 10: runs show -----------------------------------------------------------------------
def test_runs_show_shows_what_each_step_produced_and_run_id_everywhere(cli, tmp_path: Path) -> None:
    write(
        tmp_path / "wf.toml",
        '[[steps]]\nname = "many"\ntype = "shell"\nrun = "seq 1 10"\n'
        '[[steps]]\nname = "one"\ntype = "shell"\nrun = "echo done"\ndepends_on = ["many"]\n',
    )
    ran = json.loads(cli("--output", "json", "run", "wf.toml", cwd=tmp_path).out)
    run_id = ran["run_id"]
    listed = json.loads(cli("--output", "json", "runs", "list", cwd=tmp_path).out)
    assert listed[0]["run_id"] == run_id and "id" not in listed[0]
    shown = json.loads(cli("--output", "json", "runs", "show", run_id, cwd=tmp_path).out)
    assert shown["run_id"] == run_id
    steps = {s["name"]: s for s in shown["steps"]}
    assert steps["many"]["output"] == "\n".join(str(n) for n in range(1, 11))
    assert Path(steps["many"]["output_file"]).read_text().startswith("1\n2\n")
    text = cli("runs", "show", run_id, cwd=tmp_path).out
    outputs = text.split("outputs:\n", 1)[1]
    assert (
        f"  many ({steps['many']['output_file']}):\n    1\n    2\n    3\n    … 7 more lines"
        in outputs
    )
    assert f"  one ({steps['one']['output_file']}):\n    done" in outputs


# -- 12: memory properties ---------------------------------------------------------------
def test_a_string_property_is_stored_as_its_text_other_values_as_json(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    entity = {"entity_type": "service", "entity_name": "web", "source": "compose.yaml"}
    for properties, now in (({"port": "8080", "replicas": 2}, "t1"), ({"port": "9090"}, "t2")):
        batch: Batch = parse_batch(json.dumps({"entities": [dict(entity, properties=properties)]}))
        store_batch(path, batch, run_id=now, now=now)
    with sqlite3.connect(path) as connection:
        stored = connection.execute(
            "SELECT name, value, valid_from, valid_to FROM entity_properties ORDER BY id"
        ).fetchall()
    assert stored == [
        ("port", "8080", "t1", "t2"),
        ("replicas", "2", "t1", None),
        ("port", "9090", "t2", None),
    ]
    (read,) = read_entities(path, history=True)
    assert read["properties"] == {"port": "9090", "replicas": 2}  # types survive

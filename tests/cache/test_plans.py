"""The compiled-plan cache: a second `run` of unchanged files reads the plan back.

Real child processes (a fresh interpreter each, as a user's shell starts them), the real
state directory of the isolated home, real files edited between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Runs `llm-mux ARGS` and then prints, on its last stderr line, whether the compile's
# heavy modules were imported (they are not when the plan was read back).
_CHILD = """
import json, sys
from llm_mux.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("networkx", "llm_mux.compiler.pipeline") if m in sys.modules)
print(json.dumps(heavy), file=sys.stderr)
"""

CONFIG = """
[teams.rust]
detect = ["Cargo.toml"]
"""

WORKFLOW = """
name = "plans"

[[steps]]
name = "hello"
type = "shell"
run = "echo {word}"

[[steps]]
name = "team"
type = "shell"
if = "team == 'rust'"
run = "echo rust"

[[steps]]
name = "fix"
type = "apply"
source = "hello"
if = "false"
"""


def llm_mux(tmp_path: Path, *args: str) -> tuple[dict[str, object], list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, "--output", "json", "--trust", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ,
    )
    *messages, heavy = done.stderr.strip().splitlines()
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), json.loads(heavy), "\n".join(messages)


COMPILED = ["llm_mux.compiler.pipeline", "networkx"]  # what compiling imports


def hello(document: dict[str, object]) -> object:
    steps = document["steps"]
    assert isinstance(steps, dict)
    return steps["hello"]["output"]


def plans() -> list[Path]:
    return sorted((Path(os.environ["XDG_STATE_HOME"]) / "llm-mux" / "plans").glob("*.msgpack"))


def test_an_unchanged_workflow_is_not_compiled_again(tmp_path: Path) -> None:
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(CONFIG)
    (tmp_path / "wf.toml").write_text(WORKFLOW.format(word="one"))
    first, heavy, warnings = llm_mux(tmp_path, "run", "wf.toml")
    assert hello(first) == "one" and heavy == COMPILED
    assert "[W602]" in warnings  # the apply step has no verify
    assert len(plans()) == 1

    again, heavy, warnings_again = llm_mux(tmp_path, "run", "wf.toml")
    assert hello(again) == "one" and heavy == []  # read back, not compiled
    assert warnings_again == warnings  # its diagnostics are printed again

    (tmp_path / "wf.toml").write_text(WORKFLOW.format(word="two"))  # the workflow changed
    edited, heavy, _ = llm_mux(tmp_path, "run", "wf.toml")
    assert hello(edited) == "two" and heavy == COMPILED
    assert len(plans()) == 2


def test_the_config_and_the_detected_team_are_part_of_the_key(tmp_path: Path) -> None:
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(CONFIG)
    (tmp_path / "wf.toml").write_text(WORKFLOW.format(word="one"))
    plain, _, _ = llm_mux(tmp_path, "run", "wf.toml")
    steps = plain["steps"]
    assert isinstance(steps, dict) and steps["team"]["status"] == "skipped"

    (tmp_path / "Cargo.toml").write_text("[package]\n")  # the team is detected now
    rust, heavy, _ = llm_mux(tmp_path, "run", "wf.toml")
    steps = rust["steps"]
    assert isinstance(steps, dict) and steps["team"]["output"] == "rust"
    assert heavy == COMPILED  # the saved plan had no team: compiled again

    (tmp_path / ".llm-mux" / "config.toml").write_text(CONFIG + "\n# a comment\n")
    _, heavy, _ = llm_mux(tmp_path, "run", "wf.toml")
    assert heavy == COMPILED


def test_cache_clear_removes_the_plans_too(cli, tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(WORKFLOW.format(word="one"))
    llm_mux(tmp_path, "run", "wf.toml")
    assert plans()
    result = cli("cache", "clear", cwd=tmp_path)
    assert result.out == "removed 0 cached results and 1 compiled plan\n"
    assert plans() == []

"""Args (required, templated defaults, choices, --help), input steps, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WORKFLOW = """
description = "Greets people"

[args.name]
required = true
description = "who to greet"

[args.greeting]
default = "Hello, {{ args.name }}"

[args.mood]
default = "calm"
choices = ["calm", "loud"]

[[steps]]
name = "greet"
type = "shell"
run = "echo {{ args.greeting }} {{ args.mood }}"
"""


def write(tmp_path: Path, text: str = WORKFLOW) -> None:
    (tmp_path / "wf.toml").write_text(text)


def test_templated_default_uses_earlier_args(cli, tmp_path: Path) -> None:
    write(tmp_path)
    result = cli("run", "wf.toml", "name=Ada", "--output", "quiet", cwd=tmp_path)
    assert result.code == 0 and result.out == "Hello, Ada calm\n"


def test_missing_unknown_and_out_of_choice_args_exit_2_before_running(cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(tmp_path, WORKFLOW.replace('run = "echo', f'run = "touch {marker}; echo'))
    missing = cli("run", "wf.toml", cwd=tmp_path)
    assert missing.code == 2 and "missing required arg 'name'" in missing.err
    assert "args: name (required), greeting" in missing.err
    unknown = cli("run", "wf.toml", "name=x", "nmae=y", cwd=tmp_path)
    assert unknown.code == 2 and "unknown arg 'nmae'" in unknown.err
    choice = cli("run", "wf.toml", "name=x", "mood=angry", cwd=tmp_path)
    assert choice.code == 2 and "must be one of calm, loud" in choice.err
    assert not marker.exists()


def test_workflow_help_lists_its_args(cli, tmp_path: Path) -> None:
    write(tmp_path)
    result = cli("run", "wf.toml", "--help", cwd=tmp_path)
    assert result.code == 0
    assert "Greets people" in result.out
    assert "name — who to greet" in result.out and "mood (one of: calm, loud)" in result.out
    plain = cli("run", "--help", cwd=tmp_path)
    assert plain.code == 0 and "Run WORKFLOW" in plain.out


def test_implicit_args_are_required_when_unguarded(cli, tmp_path: Path) -> None:
    write(tmp_path, '[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo {{ args.file }}"\n')
    result = cli("run", "wf.toml", cwd=tmp_path)
    assert result.code == 2 and "missing required arg 'file'" in result.err
    assert cli("run", "wf.toml", "file=x", cwd=tmp_path).code == 0


INPUT = """
[[steps]]
name = "confirm"
type = "input"
prompt = "Deploy {{ args.target | default('prod') }}?"
options = ["yes", "no"]
{default}
[[steps]]
name = "after"
type = "shell"
run = "echo answer={{ steps.confirm.output }}"
"""


def test_input_from_the_command_line(cli, tmp_path: Path) -> None:
    write(tmp_path, INPUT.replace("{default}", ""))
    result = cli("run", "wf.toml", "--input", "confirm=yes", "--output", "quiet", cwd=tmp_path)
    assert result.code == 0 and result.out == "answer=yes\n"
    wrong = cli("--output", "json", "run", "wf.toml", "--input", "confirm=maybe", cwd=tmp_path)
    assert wrong.code == 1
    assert "not one of: yes, no" in json.loads(wrong.out)["steps"]["confirm"]["error"]
    unknown = cli("run", "wf.toml", "--input", "nope=yes", cwd=tmp_path)
    assert unknown.code == 2 and "not an input step" in unknown.err


def test_input_without_terminal_uses_default_or_fails_clearly(cli, tmp_path: Path) -> None:
    write(tmp_path, INPUT.replace("{default}", 'default = "no"'))
    result = cli("run", "wf.toml", "--output", "quiet", cwd=tmp_path)
    assert result.code == 0 and result.out == "answer=no\n"
    write(tmp_path, INPUT.replace("{default}", ""))
    failed = cli("--output", "json", "run", "wf.toml", cwd=tmp_path)
    assert failed.code == 1
    error = json.loads(failed.out)["steps"]["confirm"]["error"]
    assert "no terminal" in error and "--input confirm=VALUE" in error


def test_bad_input_never_prints_a_traceback(tmp_path: Path) -> None:
    """Real processes: every failure path answers with a message and an exit code."""
    cases = {
        "broken.toml": ('[[steps]\nname = "x"\n', 1),
        "unknown-step.toml": (
            '[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo {{ steps.b.output }}"\n',
            1,
        ),
        "fails.toml": ('[[steps]]\nname = "a"\ntype = "shell"\nrun = "exit 4"\n', 1),
        "binary.toml": ("\x00\x01\x02 = garbage", 1),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        done = subprocess.run(
            [sys.executable, "-c", "from llm_mux.cli import main; main()", "run", name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == expected, (name, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr, name
    usage = subprocess.run(
        [sys.executable, "-c", "from llm_mux.cli import main; main()", "run", "nope"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_preview_shows_apply_edits_without_writing(cli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("colour\n")
    marker = tmp_path / "verified"
    write(
        tmp_path,
        f"""
[[steps]]
name = "edits"
type = "shell"
run = "echo '{{{{ args.edit | raw }}}}'"
[[steps]]
name = "apply"
type = "apply"
source = "edits"
verify = "touch {marker}"
""",
    )
    edit = '{"path": "notes.txt", "old": "colour", "new": "color"}'
    result = cli("run", "wf.toml", f"edit={edit}", "--preview", "--output", "quiet", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "-colour" in result.out and "+color" in result.out
    assert (tmp_path / "notes.txt").read_text() == "colour\n" and not marker.exists()
    applied = cli("run", "wf.toml", f"edit={edit}", "--output", "quiet", cwd=tmp_path)
    assert applied.code == 0 and (tmp_path / "notes.txt").read_text() == "color\n"
    assert marker.exists()

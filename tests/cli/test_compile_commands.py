"""`llm-mux validate` and `llm-mux plan` from the command line: options, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


GOOD = 'name = "w"\n\n[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo hi"\n'


def test_validate_examples_is_clean(cli) -> None:
    result = cli("validate", "examples/")
    assert result.code == 0, result.out
    assert result.out.endswith("files checked: 0 errors, 0 warnings\n")


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_before_or_after_the_command(cli, where: str) -> None:
    args = ["-C", "examples", "--output", "json"]
    command = ["plan", "workflows/review.toml"]
    result = cli(*(args + command if where == "before" else command + args))
    assert result.code == 0, result.err
    assert json.loads(result.out)["stages"] == [["diff"], ["analyze"]]


def test_attached_short_option_and_equals_form(cli) -> None:
    result = cli("-Cexamples", "--output=json", "plan", "workflows/review.toml")
    assert result.code == 0, result.err
    assert json.loads(result.out)["workflow"] == "review"


def test_validate_exit_codes(cli, tmp_path: Path) -> None:
    good = write(tmp_path / "good.toml", GOOD)
    warn = write(tmp_path / "warn.toml", GOOD + "timeout = 30000\n")  # W502
    bad = write(tmp_path / "bad.toml", GOOD.replace("run =", "rn ="))
    assert cli("validate", str(good), cwd=tmp_path).code == 0
    assert cli("validate", str(warn), cwd=tmp_path).code == 0
    assert cli("validate", "--strict", str(warn), cwd=tmp_path).code == 1
    assert cli("validate", str(bad), cwd=tmp_path).code == 1
    missing = cli("validate", "nope/none.toml", cwd=tmp_path)
    assert missing.code == 2
    assert "no such file or directory: nope/none.toml" in missing.err
    unknown = cli("validate", "no-such-workflow", cwd=tmp_path)
    assert unknown.code == 2 and "no workflow named 'no-such-workflow'" in unknown.err


def test_validate_json_output_is_a_bare_list(cli, tmp_path: Path) -> None:
    write(tmp_path / "bad.toml", GOOD.replace("run =", "rn ="))
    result = cli("validate", "--output", "json", "bad.toml", cwd=tmp_path)
    assert result.code == 1
    items = json.loads(result.out)
    assert isinstance(items, list)
    codes = {(d["code"], d["line"], d["column"]) for d in items}
    assert ("E101", 6, 1) in codes and ("E103", 3, 1) in codes
    assert set(items[0]) == {"path", "line", "column", "severity", "code", "message", "hint"}


def test_validate_without_targets_checks_project_and_user_workflows(
    cli, tmp_path: Path, isolated_home: Path
) -> None:
    write(tmp_path / ".llm-mux" / "workflows" / "one.toml", GOOD)
    write(
        isolated_home / ".config" / "llm-mux" / "workflows" / "two.toml", GOOD.replace("run", "rn")
    )
    result = cli("validate", cwd=tmp_path / ".llm-mux")
    assert result.code == 1
    assert "two.toml:6:1: error: unknown key 'rn'" in result.out
    assert "2 files checked" in result.out


def test_validate_by_workflow_name(cli, tmp_path: Path) -> None:
    write(tmp_path / ".llm-mux" / "workflows" / "one.toml", GOOD)
    result = cli("validate", "one", cwd=tmp_path)
    assert result.code == 0 and "1 file checked" in result.out


def test_no_config_skips_role_checks(cli, tmp_path: Path) -> None:
    query = 'name = "q"\n[[steps]]\nname = "a"\ntype = "query"\nrole = "nobody"\nprompt = "hi"\n'
    write(tmp_path / "q.toml", query)
    assert cli("validate", "q.toml", cwd=tmp_path).code == 1
    assert cli("validate", "--no-config", "q.toml", cwd=tmp_path).code == 0


def test_not_utf8_is_a_diagnostic_not_a_traceback(cli, tmp_path: Path) -> None:
    (tmp_path / "bin.toml").write_bytes(b'name = "\xff\xfe"\n')
    result = cli("validate", "bin.toml", cwd=tmp_path)
    assert result.code == 1
    assert "bin.toml:1:9: error: the file is not UTF-8 text: byte 0xFF" in result.out
    assert "Traceback" not in result.out + result.err


def test_plan_usage_errors_exit_2(cli) -> None:
    unknown = cli("-C", "examples", "plan", "nothing-here")
    assert unknown.code == 2 and "no workflow named 'nothing-here'" in unknown.err
    team = cli("-C", "examples", "plan", "workflows/review.toml", "--team", "rusty")
    assert team.code == 2 and "did you mean 'rust'?" in team.err
    arg = cli("-C", "examples", "plan", "workflows/step-types.toml", "isue=3")
    assert arg.code == 2 and "unknown arg 'isue'" in arg.err and "did you mean 'issue'?" in arg.err
    word = cli("-C", "examples", "plan", "workflows/step-types.toml", "issue")
    assert word.code == 2 and "expected KEY=VALUE" in word.err


def test_plan_of_a_broken_workflow_prints_diagnostics_and_exits_1(cli, tmp_path: Path) -> None:
    write(tmp_path / "bad.toml", GOOD.replace('"echo hi"', '"echo {{ steps.b.output }}"'))
    result = cli("plan", "bad.toml", cwd=tmp_path)
    assert result.code == 1
    assert "bad.toml:6:16: error: step 'a' uses steps.b" in result.err
    assert result.out == ""


def test_plan_team_override_changes_backends(cli) -> None:
    plain = json.loads(
        cli(
            "-C",
            "examples",
            "--output",
            "json",
            "plan",
            "workflows/review.toml",
            "--format",
            "json",
        ).out
    )
    python = json.loads(
        cli(
            "-C",
            "examples",
            "plan",
            "workflows/review.toml",
            "--format",
            "json",
            "--team",
            "python",
        ).out
    )
    assert plain["steps"][1]["backends"] == ["claude", "codex"]
    assert python["steps"][1]["backends"] == ["claude", "gemini"]
    assert python["team"] == "python"


def test_output_file(cli, tmp_path: Path) -> None:
    target = tmp_path / "plan.dot"
    result = cli(
        "-C",
        "examples",
        "plan",
        "workflows/fix.toml",
        "--format",
        "dot",
        "--output-file",
        str(target),
    )
    assert result.code == 0
    assert target.read_text() == result.out and result.out.startswith('digraph "fix"')


def test_a_missing_directory_for_dash_c_is_a_usage_error(cli, tmp_path: Path) -> None:
    result = cli("-C", str(tmp_path / "nowhere"), "validate")
    assert result.code == 2, result.err
    assert "-C: not a directory:" in result.err


def test_version_and_help(cli) -> None:
    assert cli("--version").out.startswith("llm-mux, version")
    assert "validate" in cli("--help").out

"""Golden files: what `validate` says about examples/invalid/ and what `plan` prints for
examples/workflows/, word for word, through the real command line (in-process).

The expected outputs live in tests/golden/diagnostics/ and tests/golden/plan/. After a
deliberate change to a message or to a plan format, rewrite them with

    UPDATE_GOLDEN=1 python3 -m pytest tests/test_golden.py

then read `git diff tests/golden` before committing: a golden file is a reviewed answer,
not a recording. Each file in examples/invalid/ also states what it must produce in its
first lines (`# expect: CODE LINE:COL`, or `# expect: nothing`); those are checked against
`--output json` and are never rewritten.

The `cli` fixture (tests/conftest.py) runs `llm-mux` from the repository root with HOME and
XDG_CONFIG_HOME in a temporary directory, so a developer's own config never leaks in.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from support.sarif_schema import sarif_errors

from llm_mux.compiler.diagnostics import CODES

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
GOLDEN = REPO / "tests" / "golden"
INVALID = sorted((EXAMPLES / "invalid").glob("*.toml"))
WORKFLOWS = sorted((EXAMPLES / "workflows").glob("*.toml"))
FORMATS = ("text", "json", "dot", "mermaid")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# E002 needs bytes that are not UTF-8: made on the fly below, not kept in examples/.
MADE_ON_THE_FLY = {"E002"}
# Declared in CODES, but no pass reports it yet.
# Planned with a team, to show team overrides and `team` in conditions.
TEAMS = {"conditionals": "rust"}

_EXPECT = re.compile(r"# expect: (?:(nothing)|([EW]\d{3}) (\d+):(\d+))\s*$")


@pytest.fixture(autouse=True)
def _no_test_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # examples/invalid/unset-env.toml relies on this one being unset.
    monkeypatch.delenv("LLM_MUX_TEST_UNSET_KEY", raising=False)


def assert_golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.is_file(), f"no golden file {path.relative_to(REPO)}; run with UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


def expectations(path: Path) -> list[tuple[str, int, int]]:
    """The `# expect:` lines at the top of an example: (code, line, column)."""
    found: list[tuple[str, int, int]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _EXPECT.match(line)
        if match is None:
            break
        if not match.group(1):
            found.append((match.group(2), int(match.group(3)), int(match.group(4))))
    assert found or path.read_text().startswith("# expect: nothing"), f"{path}: no # expect:"
    return found


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


# -- diagnostics -------------------------------------------------------------------------
@pytest.mark.parametrize("example", INVALID, ids=lambda p: p.stem)
def test_validate_output_is_golden(cli, example: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", relative(example))
    assert result.err == ""
    assert_golden(GOLDEN / "diagnostics" / f"{example.stem}.txt", result.out)
    has_errors = any(code.startswith("E") for code, _, _ in expectations(example))
    assert result.code == (1 if has_errors else 0)


@pytest.mark.parametrize("example", INVALID, ids=lambda p: p.stem)
def test_expect_comments_match_the_json_output(cli, example: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--output", "json", relative(example))
    diagnostics = json.loads(result.out)
    found = Counter((d["code"], d["line"], d["column"]) for d in diagnostics)
    assert found == Counter(expectations(example))
    for diagnostic in diagnostics:
        assert diagnostic["path"] == relative(example)
        assert diagnostic["severity"] == ("error" if diagnostic["code"][0] == "E" else "warning")


@pytest.mark.parametrize(
    "example",
    [p for p in INVALID if expectations(p) and all(c[0] == "W" for c, _, _ in expectations(p))],
    ids=lambda p: p.stem,
)
def test_strict_fails_on_warnings(cli, example: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("validate", relative(example)).code == 0
    assert cli("validate", "--strict", relative(example)).code == 1


def test_a_silenced_warning_does_not_fail_strict(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--strict", "examples/invalid/ignored.toml")
    assert (result.code, result.out) == (0, "2 files checked: 0 errors, 0 warnings\n")


def test_json_output_is_golden(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--output", "json", "examples/invalid/unknown-name.toml")
    assert result.code == 1
    assert_golden(GOLDEN / "diagnostics" / "unknown-name.json", result.out)


def test_bytes_that_are_not_utf8(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    result = cli("validate", "latin1.toml", cwd=tmp_path)
    assert result.code == 1
    assert_golden(GOLDEN / "diagnostics" / "not-utf8.txt", result.out)


def test_every_code_has_an_example() -> None:
    shown = {code for path in INVALID for code, _, _ in expectations(path)}
    assert shown == set(CODES) - MADE_ON_THE_FLY


def test_every_golden_file_belongs_to_an_example() -> None:
    expected = {f"{p.stem}.txt" for p in INVALID} | {"unknown-name.json", "not-utf8.txt"}
    expected |= {f"{p.stem}.github" for p in INVALID} | {"invalid.sarif"}
    expected |= {f"{p.stem}.{fmt}" for p in WORKFLOWS for fmt in FORMATS}
    written = {p.name for p in GOLDEN.glob("*/*")}
    assert written == expected or UPDATE


# -- plan --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_plan_output_is_golden(cli, workflow: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    team = ["--team", TEAMS[workflow.stem]] if workflow.stem in TEAMS else []
    target = f"workflows/{workflow.name}"
    result = cli("-C", "examples", "plan", target, "--format", fmt, *team)
    assert (result.code, result.err) == (0, "")
    assert_golden(GOLDEN / "plan" / f"{workflow.stem}.{fmt}", result.out)


def test_the_team_changes_the_plan(cli) -> None:  # type: ignore[no-untyped-def]
    plain = cli("-C", "examples", "plan", "workflows/conditionals.toml", "--format", "json")
    assert json.loads(plain.out)["team"] is None
    golden = json.loads((GOLDEN / "plan" / "conditionals.json").read_text(encoding="utf-8"))
    assert golden["team"] == "rust"


# -- the examples themselves -------------------------------------------------------------
def test_validate_examples_prints_exactly_the_clean_summary(cli) -> None:  # type: ignore[no-untyped-def]
    patterns = [".llm-mux/config.toml", ".llm-mux/workflows/*.toml", "*.toml", "workflows/*.toml"]
    count = sum(len(list(EXAMPLES.glob(pattern))) for pattern in patterns)
    result = cli("validate", "examples/")
    assert (result.code, result.out, result.err) == (
        0,
        f"{count} files checked: 0 errors, 0 warnings\n",
        "",
    )


# -- validate for CI: GitHub annotations and SARIF ----------------------------------------
@pytest.mark.parametrize("example", INVALID, ids=lambda p: p.stem)
def test_github_annotations_are_golden(cli, example: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--format", "github", relative(example))
    assert result.err == ""
    assert_golden(GOLDEN / "diagnostics" / f"{example.stem}.github", result.out)
    annotations = [line for line in result.out.splitlines() if line.startswith("::")]
    assert len(annotations) == len(expectations(example))
    for (code, line, column), annotation in zip(
        sorted(expectations(example), key=lambda e: (e[1], e[2])), annotations, strict=True
    ):
        level = "error" if code.startswith("E") else "warning"
        where = f"file={relative(example)},line={line},col={column},title={code}::"
        assert annotation.startswith(f"::{level} {where}")


def test_sarif_over_examples_invalid_is_golden_and_valid(cli) -> None:  # type: ignore[no-untyped-def]
    """The whole directory in one SARIF log. The rules' help text comes from the
    diagnostics table and is checked in tests/report/; the golden file keeps their ids."""
    result = cli("validate", "--format", "sarif", "examples/invalid/")
    assert result.code == 1 and result.err == ""
    document = json.loads(result.out)
    assert sarif_errors(document) == []
    run = document["runs"][0]
    run["tool"]["driver"]["rules"] = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    run["tool"]["driver"]["version"] = run["tool"]["driver"]["semanticVersion"] = "VERSION"
    assert_golden(GOLDEN / "diagnostics" / "invalid.sarif", json.dumps(document, indent=2) + "\n")
    found = Counter(
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
        for r in run["results"]
    )
    expected = Counter((code, line) for p in INVALID for code, line, _ in expectations(p))
    assert found == expected

"""validate --format github|sarif: escaping laws, the rules' help, SARIF validity."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from support.sarif_schema import sarif_errors

from llm_mux.compiler.diagnostics import CODES, Diagnostic, Location, Severity
from llm_mux.compiler.explanations import EXPLANATIONS
from llm_mux.compiler.report.annotations import Annotation, render_annotations
from llm_mux.compiler.report.diagnostics import diagnostics_sarif, rules

_COMMAND = re.compile(r"^::(error|warning|notice) (.*?)::(.*)$")


def _unescape(text: str) -> str:
    for escaped, plain in (("%0A", "\n"), ("%0D", "\r"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, plain)
    return text


def parse_annotation(line: str) -> tuple[str, dict[str, str], str]:
    """Read a workflow command back as the Actions runner does."""
    match = _COMMAND.match(line)
    assert match, line
    properties = dict(item.split("=", 1) for item in match.group(2).split(","))
    return (
        match.group(1),
        {k: _unescape(v) for k, v in properties.items()},
        _unescape(match.group(3)),
    )


@given(st.text(), st.text(min_size=1), st.text(min_size=1))
def test_an_annotation_reads_back_whole_whatever_its_text(
    message: str, path: str, title: str
) -> None:
    annotation = Annotation(
        level="error", file=path, line=3, column=7, title=title, message=message
    )
    text = render_annotations([annotation])
    assert text.endswith("\n") and text.count("\n") == 1  # one command, one line
    level, properties, data = parse_annotation(text[:-1])
    assert (level, data) == ("error", message)
    assert properties == {"file": path, "line": "3", "col": "7", "title": title}


def test_every_code_is_a_rule_with_the_tables_help() -> None:
    found = rules()
    assert [rule.id for rule in found] == sorted(CODES, key=lambda c: (int(c[1:]), c))
    for rule in found:
        assert EXPLANATIONS[rule.id].fix in rule.help_text
        assert EXPLANATIONS[rule.id].fix in rule.help_markdown
        assert rule.short.lower() == CODES[rule.id].lower()
        assert rule.level == ("error" if rule.id.startswith("E") else "warning")


def test_sarif_with_odd_and_absolute_paths_is_valid() -> None:
    diagnostics = [
        Diagnostic(Location("dir with space/é #1.toml", 2, 3), Severity.ERROR, "E101", "x"),
        Diagnostic(
            Location("/home/me/.config/llm-mux/config.toml", 1, 1),
            Severity.WARNING,
            "W701",
            "y",
            hint="z",
        ),
    ]
    document = diagnostics_sarif(diagnostics)
    assert sarif_errors(document) == []
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in document["runs"][0]["results"]  # type: ignore[index]
    ]
    assert uris == [
        "dir%20with%20space/%C3%A9%20%231.toml",
        "file:///home/me/.config/llm-mux/config.toml",
    ]


def test_a_clean_run_is_valid_sarif_with_no_results(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.toml").write_text('[[steps]]\nname = "a"\ntype = "shell"\nrun = "true"\n')
    result = cli("validate", "--format", "sarif", "ok.toml", cwd=tmp_path)
    document = json.loads(result.out)
    assert (result.code, sarif_errors(document)) == (0, [])
    assert document["runs"][0]["results"] == []
    github = cli("validate", "--format", "github", "ok.toml", cwd=tmp_path)
    assert (github.code, github.out) == (0, "1 file checked: 0 errors, 0 warnings\n")


def test_format_json_is_the_json_output_and_format_wins(cli) -> None:  # type: ignore[no-untyped-def]
    target = "examples/invalid/unknown-key.toml"
    assert (
        cli("validate", "--format", "json", target).out
        == cli("validate", "--output", "json", target).out
    )
    sarif = cli("validate", "--output", "json", "--format", "sarif", target)
    assert json.loads(sarif.out)["version"] == "2.1.0"

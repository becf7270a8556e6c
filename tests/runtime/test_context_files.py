"""`run --context FILE`: the files, each under a header naming it, before every query prompt."""

from __future__ import annotations

import json
from pathlib import Path

from support.openai_server import ModelServer

WORKFLOW = """
[[steps]]
name = "first"
type = "query"
backend = "m0"
prompt = "Summarise the design."

[[steps]]
name = "second"
type = "query"
backend = "m0"
prompt = "And now: {{ steps.first.output | length }}"

[[steps]]
name = "list"
type = "shell"
run = "echo shell steps get no context"
"""


def project(tmp_path: Path, server: ModelServer) -> None:
    (tmp_path / ".llm-mux").mkdir()
    config = f'[backends.m0]\ncommand = "{server.url}"\nmodel = "m0"\n'
    (tmp_path / ".llm-mux" / "config.toml").write_text(config)
    (tmp_path / "wf.toml").write_text(WORKFLOW)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "design.md").write_text("# Design\nEverything is a plan.\n")
    (tmp_path / "notes.txt").write_text("remember the milk")


def test_every_query_prompt_starts_with_the_files_under_their_names(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server)
    args = ("--trust", "--output", "json", "run", "wf.toml")
    result = cli(*args, "--context", "docs/design.md", "--context", "notes.txt", cwd=tmp_path)
    assert result.code == 0, result.err
    preamble = (
        "=== context: docs/design.md ===\n# Design\nEverything is a plan.\n\n"
        "=== context: notes.txt ===\nremember the milk\n\n"
        "=== end of context ===\n\n"
    )
    first, second = openai_server.requests("m0")
    assert first.prompt == preamble + "Summarise the design."
    assert second.prompt.startswith(preamble + "And now: ")
    document = json.loads(result.out)
    assert document["steps"]["first"]["output"] == preamble + "Summarise the design."
    assert document["steps"]["list"]["output"] == "shell steps get no context"


def test_context_paths_are_relative_to_the_working_directory(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server)
    args = ("-C", str(tmp_path), "--trust", "run", "wf.toml", "--context", "notes.txt")
    result = cli(*args, cwd=tmp_path / "docs")
    assert result.code == 0, result.err
    assert openai_server.requests("m0")[0].prompt.startswith("=== context: notes.txt ===\n")


def test_a_missing_context_file_is_a_usage_error_before_anything_runs(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    project(tmp_path, openai_server)
    result = cli("--trust", "run", "wf.toml", "--context", "nope.md", cwd=tmp_path)
    assert result.code == 2
    assert "--context file not found: nope.md" in result.err
    result = cli("--trust", "run", "wf.toml", "--context", "docs", cwd=tmp_path)
    assert result.code == 2 and "is a directory" in result.err
    assert openai_server.requests() == []

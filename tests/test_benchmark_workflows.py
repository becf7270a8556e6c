"""The workflows the benchmark suite generates are valid, so `scripts/bench` cannot rot
silently (the suite itself is not part of the test run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks import backends, compile, for_each, shell

WORKFLOWS = {
    "compile": compile.workflow(50),
    "parallel": backends.parallel_workflow("http://127.0.0.1:9/v1"),
    "for_each_shell": for_each.shell_workflow(100),
    "for_each_query": for_each.query_workflow("http://127.0.0.1:9/v1", 100),
    "big_output": shell.big_output_workflow(1000),
    "many_steps": shell.many_steps_workflow(20),
}


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_generated_workflows_compile_cleanly(name: str, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.toml"
    path.write_text(WORKFLOWS[name], encoding="utf-8")
    result = cli("plan", str(path), "--debug", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "compiled in" in result.err

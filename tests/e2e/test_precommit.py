"""The pre-commit hook, through the real `pre-commit try-repo` in a real git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
name = "hello"

[[steps]]
name = "greet"
type = "shell"
run = "echo hello {{ args.who | default('world') }}"
"""

BAD = """\
name = "broken"

[[steps]]
name = "greet"
type = "shell"
run = "echo {{ steps.gret.output }}"
"""

pytestmark = pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit missing")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _try_repo(project: Path, home: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PRE_COMMIT_HOME=str(home / "pre-commit"),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
    )
    command = ["pre-commit", "try-repo", str(REPO), "llm-mux-validate", "--files", *files]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_hook_passes_good_workflow_and_fails_bad_one(tmp_path: Path) -> None:
    project = tmp_path / "project"
    workflows = project / ".llm-mux" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "hello.toml").write_text(GOOD)
    (workflows / "broken.toml").write_text(BAD)
    _git(project, "init", "-q")
    _git(project, "add", ".")

    good = _try_repo(project, tmp_path, ".llm-mux/workflows/hello.toml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "llm-mux validate" in good.stdout and "Passed" in good.stdout

    bad = _try_repo(project, tmp_path, ".llm-mux/workflows/broken.toml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    expected = (
        ".llm-mux/workflows/broken.toml:6:16: error: step 'greet' uses steps.gret, "
        "but no step is named 'gret' [E303]"
    )
    assert expected in bad.stdout
    assert "did you mean 'greet'?" in bad.stdout


def test_the_documented_local_hook_works_as_written(tmp_path: Path) -> None:
    """docs/commands.md's `repo: local` snippet, word for word, with llm-mux on PATH."""
    page = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    snippet = page.split("```yaml\n# .pre-commit-config.yaml of your project\n", 1)[1]
    project = tmp_path / "project"
    workflows = project / ".llm-mux" / "workflows"
    workflows.mkdir(parents=True)
    (project / ".pre-commit-config.yaml").write_text(snippet.split("```", 1)[0])
    (workflows / "hello.toml").write_text(GOOD)
    _git(project, "init", "-q")
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit"),
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )

    def hook() -> subprocess.CompletedProcess[str]:
        _git(project, "add", ".")
        command = ["pre-commit", "run", "--all-files"]
        return subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=300
        )

    good = hook()
    assert good.returncode == 0 and "Passed" in good.stdout, good.stdout + good.stderr
    (workflows / "broken.toml").write_text(BAD)
    bad = hook()
    assert bad.returncode == 1 and "Failed" in bad.stdout
    assert "broken.toml:6:16: error: step 'greet' uses steps.gret" in bad.stdout

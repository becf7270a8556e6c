"""The pre-commit hook, through the real `pre-commit try-repo` in a real git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
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

"""The pre-commit hooks, through the real `pre-commit try-repo` of this repository in a
real git repository: llm-mux-validate on workflow and config files only, llm-mux-review
against models served by the test server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.openai_server import ModelServer, Reply

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

# The test extra installs pre-commit next to this Python, which need not be on PATH.
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which(
    "pre-commit"
)
needs_pre_commit = pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit missing")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME for the module: the hooks' environment is installed once
    (for a clean clone, whose HEAD is the revision tried)."""
    return tmp_path_factory.mktemp("pre-commit")


def _try_repo(
    project: Path,
    home: Path,
    cache: Path,
    *files: str,
    hook: str = "llm-mux-validate",
    stage: str = "",
) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PRE_COMMIT_HOME=str(cache),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
    )
    assert PRE_COMMIT is not None
    command = [PRE_COMMIT, "try-repo", str(REPO), hook]
    command += ["--hook-stage", stage] if stage else []
    command += ["--files", *files] if files else ["--all-files"]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def _hooks() -> dict[str, dict[str, object]]:
    listed = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    return {hook["id"]: hook for hook in listed}


WORKFLOW_AND_CONFIG = [
    ".llm-mux/config.toml",
    ".llm-mux/workflows/review.toml",
    "services/api/.llm-mux/workflows/deploy.toml",
    "services/api/.llm-mux/config.toml",
]
OTHERS = [
    "pyproject.toml",
    "config.toml",
    "workflows/review.toml",
    ".llm-mux/trust.toml",
    ".llm-mux/workflows/notes.md",
    ".llm-mux/workflows/old/review.toml",
    ".llm-mux/config.toml.bak",
    "x.llm-mux/config.toml",
]


def test_the_validate_hook_matches_workflow_and_config_files_only() -> None:
    pattern = re.compile(str(_hooks()["llm-mux-validate"]["files"]))
    assert [p for p in WORKFLOW_AND_CONFIG if not pattern.search(p)] == []
    assert [p for p in OTHERS if pattern.search(p)] == []


@pytest.mark.slow
@needs_pre_commit
def test_hook_passes_good_workflow_and_fails_bad_one(tmp_path: Path, cache: Path) -> None:
    project = tmp_path / "project"
    workflows = project / ".llm-mux" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "hello.toml").write_text(GOOD)
    (workflows / "broken.toml").write_text(BAD)
    _git(project, "init", "-q")
    _git(project, "add", ".")

    good = _try_repo(project, tmp_path, cache, ".llm-mux/workflows/hello.toml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "llm-mux validate" in good.stdout and "Passed" in good.stdout

    bad = _try_repo(project, tmp_path, cache, ".llm-mux/workflows/broken.toml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    expected = (
        ".llm-mux/workflows/broken.toml:6:16: error: step 'greet' uses steps.gret, "
        "but no step is named 'gret' [E303]"
    )
    assert expected in bad.stdout
    assert "did you mean 'greet'?" in bad.stdout


@needs_pre_commit
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


@pytest.mark.slow
@needs_pre_commit
def test_hook_skips_files_that_are_not_workflows_or_config(tmp_path: Path, cache: Path) -> None:
    project = tmp_path / "project"
    (project / ".llm-mux").mkdir(parents=True)
    (project / "pyproject.toml").write_text("not = [toml")
    (project / ".llm-mux" / "trust.toml").write_text("not = [toml")
    (project / ".llm-mux" / "config.toml").write_text("[roles.r]\nbackend = ['x']\n")
    _git(project, "init", "-q")
    _git(project, "add", ".")
    skipped = _try_repo(project, tmp_path, cache, "pyproject.toml", ".llm-mux/trust.toml")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "(no files to check)Skipped" in skipped.stdout
    config = _try_repo(project, tmp_path, cache, ".llm-mux/config.toml")
    assert config.returncode == 1 and "unknown key 'backend'" in config.stdout


FINDINGS = {
    "findings": [
        {
            "file": "calc.py",
            "line": 2,
            "severity": "high",
            "title": "add() subtracts",
            "explanation": "add(2, 3) is -1",
        }
    ]
}


@pytest.mark.slow
@needs_pre_commit
def test_the_review_hook_fails_at_fail_on_high(tmp_path: Path, cache: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "calc")
    (project / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    _git(project, "add", ".")
    with ModelServer() as server:
        config = tmp_path / "config" / "llm-mux" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(
            f'[backends.m]\ncommand = "{server.url}"\nmodel = "m"\n'
            '[roles.default]\nbackends = ["m"]\n'
        )
        reconciled = {"findings": [{"id": "F1"}], "dropped": [], "verdict": "fix first"}
        server.script("m", Reply(json.dumps(FINDINGS)), Reply(json.dumps(reconciled)))
        failed = _try_repo(project, tmp_path, cache, hook="llm-mux-review", stage="manual")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "1. **high** `calc.py:2` — add() subtracts (1 of 1: m)" in failed.stdout
        assert "review: 1 finding(s) at or above high" in failed.stdout
        assert len(server.requests("m")) == 2
        # Not a pre-commit hook: a plain commit does not ask the models.
        commit = _try_repo(project, tmp_path, cache, hook="llm-mux-review")
        assert "Skipped" in commit.stdout or "llm-mux review" not in commit.stdout
        assert len(server.requests("m")) == 2

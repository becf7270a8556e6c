"""`llm-mux init`: fake `claude` and `ollama` executables on PATH, the real test server on
127.0.0.1 posing as an Ollama server (LLM_MUX_OLLAMA_URL), and the files it writes
checked by `llm-mux validate`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply

from llm_mux.init import OLLAMA_URL_VARIABLE


def user_config() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "config.toml"


def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connection refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH of its own: only the fakes a test puts there (plus sh, for the fakes)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.setenv(OLLAMA_URL_VARIABLE, closed_url())
    return directory


def fake(bin_dir: Path, name: str, body: str = 'echo "[fake] $*"') -> Path:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_init_writes_the_user_config_from_what_is_installed(
    cli, tmp_path: Path, bin_dir: Path, openai_server: ModelServer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    fake(bin_dir, "claude")
    fake(bin_dir, "ollama")
    openai_server.script("llama3.2:latest")  # the server lists this model (after "echo")
    monkeypatch.setenv(OLLAMA_URL_VARIABLE, openai_server.url)
    result = cli("init", cwd=tmp_path)
    assert result.code == 0, result.out + result.err
    assert f"✓ claude      {bin_dir / 'claude'}" in result.out
    assert "✗ codex       not on PATH — npm install -g @openai/codex" in result.out
    assert (
        f"✓ ollama-api  Ollama server at {openai_server.url} (models: echo, llama3.2:latest)"
        in (result.out)
    )
    assert f"wrote {user_config()} — role default: claude, ollama-api" in result.out

    checked = cli("validate", "--strict", str(user_config()), cwd=tmp_path)
    assert checked.code == 0, checked.out + checked.err
    assert "0 errors, 0 warnings" in checked.out
    backends = json.loads(cli("--output", "json", "backends", cwd=tmp_path).out)
    assert {b["name"] for b in backends} == {"claude", "ollama", "ollama-api"}
    roles = json.loads(cli("--output", "json", "roles", cwd=tmp_path).out)
    (default,) = [r for r in roles if r["name"] == "default"]
    assert default["backends"] == ["claude", "ollama-api"]
    text = user_config().read_text()
    assert f'command = "{openai_server.url}"\nmodel = "echo"' in text
    assert 'args = ["run", "echo"]' in text  # the CLI gets the server's first model
    assert "#   codex: npm install -g @openai/codex" in text


def test_init_never_overwrites_without_force(cli, tmp_path: Path, bin_dir: Path) -> None:  # type: ignore[no-untyped-def]
    fake(bin_dir, "gemini")
    user_config().parent.mkdir(parents=True)
    user_config().write_text("# mine\n")
    result = cli("init", cwd=tmp_path)
    assert result.code == 1
    assert "already exists; llm-mux init never overwrites without --force" in result.err
    assert user_config().read_text() == "# mine\n"
    result = cli("init", "--force", cwd=tmp_path)
    assert result.code == 0, result.err
    written = user_config().read_text()
    assert '[backends.gemini]\ncommand = "gemini"\nargs = ["--output-format", "json", ' in written
    assert (
        'prompt_mode = "flag"\nprompt_flag = "--prompt"\noutput_format = "gemini-json"' in written
    )


def test_init_with_nothing_installed_writes_nothing_and_says_what_to_install(
    cli, tmp_path: Path, bin_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", cwd=tmp_path)
    assert result.code == 1
    assert "Found no model backend, so nothing was written." in result.out
    assert "npm install -g @anthropic-ai/claude-code" in result.out
    assert "https://ollama.com/download" in result.out
    assert "no Ollama server at http://127.0.0.1:" in result.out
    assert not user_config().exists()
    as_json = json.loads(cli("--output", "json", "init", cwd=tmp_path).out)
    assert as_json["found"] == [] and as_json["written"] == []


def test_init_project_writes_a_trusted_config_and_a_starter_workflow_that_runs(
    cli, tmp_path: Path, bin_dir: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # Answers as `claude -p --output-format json` does, with the prompt (its last argument).
    answer = "import json, sys; print(json.dumps({'result': '[fake claude] ' + sys.argv[-1]}))"
    fake(bin_dir, "claude", f'exec {sys.executable} -c "{answer}" "$@"')
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# a project\n")
    result = cli("init", "--project", cwd=project)
    assert result.code == 0, result.out + result.err
    config = project / ".llm-mux" / "config.toml"
    workflow = project / ".llm-mux" / "workflows" / "hello.toml"
    assert f"wrote {config} — role default: claude" in result.out
    assert f"wrote {workflow}" in result.out and f"trusted {project / '.llm-mux'}" in result.out
    assert "`llm-mux trust --any-content` stops that" in result.out
    assert not user_config().exists()

    checked = cli("validate", "--strict", cwd=project)  # the project's config and workflows
    assert checked.code == 0, checked.out + checked.err
    assert "2 files checked: 0 errors, 0 warnings" in checked.out
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.defpath}")  # sh, git, head for the steps
    ran = cli("--output", "json", "run", "hello", cwd=project)  # trusted: no --trust needed
    assert ran.code == 0, ran.out + ran.err
    answer = json.loads(ran.out)["output"]
    assert answer.startswith("[fake claude] What is this project?") and "README.md" in answer

    again = cli("init", "--project", cwd=project)
    assert again.code == 1 and "already exist;" in again.err


def test_init_project_in_an_existing_llm_mux_dir_leaves_trust_to_the_user(
    cli, tmp_path: Path, bin_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    fake(bin_dir, "codex")
    (tmp_path / ".llm-mux" / "workflows").mkdir(parents=True)
    (tmp_path / ".llm-mux" / "workflows" / "theirs.toml").write_text("")
    result = cli("init", "--project", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "trusted" not in result.out
    assert f"run `llm-mux trust` in {tmp_path}" in result.out


def test_a_new_user_gets_a_working_review_from_init(
    cli, tmp_path: Path, bin_dir: Path, openai_server: ModelServer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """pip install, `llm-mux init`, `llm-mux run review` in a git repository."""
    monkeypatch.setenv(OLLAMA_URL_VARIABLE, openai_server.url)
    assert cli("init", cwd=tmp_path).code == 0  # only the "Ollama" server: ollama-api
    monkeypatch.setenv("PATH", os.defpath)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("print('hi')\n")
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "app.py").write_text("print('hello')\n")
    found = {
        "file": "app.py",
        "line": 1,
        "severity": "low",
        "title": "greeting changed",
        "explanation": "hi became hello",
    }
    reconciled = {"findings": [{"id": "F1"}], "dropped": [], "verdict": "ship it"}
    openai_server.script(
        "echo", Reply(json.dumps({"findings": [found]})), Reply(json.dumps(reconciled))
    )
    result = cli("run", "review", cwd=repo)
    assert result.code == 0, result.err
    assert "1. **low** `app.py:1` — greeting changed (1 of 1: ollama-api)" in result.out
    assert "cost 0" in result.err  # a local model, priced at 0: the cost is known
    assert len(openai_server.requests("echo")) == 2  # one reviewer, one reconcile

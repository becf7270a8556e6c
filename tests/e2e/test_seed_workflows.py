"""Every workflow of the seed README, end to end: real git repository, real subprocesses,
the real OpenAI-compatible test server standing in for claude, codex, gemini and ollama.

The example config is used as it is; a `--config` file merged last points each CLI
backend at the test server (deep merge: only `command`, `type` and `model` change),
and `gh` and `cargo` are small scripts on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("claude", "codex", "gemini", "ollama")
EDITS = json.dumps({"path": "src/lib.rs", "old": "a - b", "new": "a + b"})
FACTS = {
    "facts": [{"project": "api", "fact": "adds numbers", "source": "src/lib.rs", "confidence": 0.9}]
}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path, openai_server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "myapp-api"
    shutil.copytree(
        REPO / "examples", root, ignore=shutil.ignore_patterns("invalid", "fixme", "myapp")
    )
    (root / "src").mkdir()
    (root / "src" / "lib.rs").write_text("pub fn add(a: i32, b: i32) -> i32 { a - b }\n")
    git(root, "init", "-q")
    git(
        root,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "0",
    )
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "1")
    (root / "src" / "lib.rs").write_text("pub fn add(a: i32, b: i32) -> i32 { a - b } // wip\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, body in {
        "gh": "echo 'issue 7: add() subtracts'",
        "cargo": "grep -q 'a + b' src/lib.rs",
    }.items():
        (bin_dir / tool).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    override = "".join(
        f'[backends.{name}]\ncommand = "{openai_server.url}"\ntype = "openai"\nmodel = "{name}"\n'
        for name in BACKENDS
    )
    override += f'[ecosystems.myapp.projects.api]\npath = "{root}"\n'
    (tmp_path / "server.toml").write_text(override)
    return root


def run(cli, project: Path, *args: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    config = str(project.parent / "server.toml")
    result = cli("--trust", "--config", config, "--output", "json", "run", *args, cwd=project)
    assert result.code == 0, result.out + result.err
    document = json.loads(result.out)
    assert document["success"] is True
    return document  # type: ignore[no-any-return]


def answer_everyone(server: ModelServer, text: str, count: int = 3) -> None:
    for name in BACKENDS:
        server.script(name, *[Reply(text)] * count)


def test_review_and_simple_review(cli, project: Path, openai_server: ModelServer) -> None:
    answer_everyone(openai_server, "looks fine")
    review = run(cli, project, "workflows/review.toml")
    assert "=== claude ===\nlooks fine" in str(review["output"])
    prompt = openai_server.requests("claude")[0].prompt
    assert "Review these changes" in prompt and "a - b" in prompt  # git diff HEAD~1
    simple = run(cli, project, "workflows/simple-review.toml")
    assert "// wip" in openai_server.requests("codex")[-1].prompt  # git diff of the tree
    assert simple["steps"]["review"]["status"] == "succeeded"  # type: ignore[index]


def test_parallel_analysis(cli, project: Path, openai_server: ModelServer) -> None:
    document = run(cli, project, "workflows/parallel-analysis.toml", "file=src/lib.rs")
    assert document["steps"]["analyze"]["backends"] == ["claude", "codex", "gemini"]  # type: ignore[index]
    assert openai_server.requests("gemini")[0].prompt == "Find bugs in: src/lib.rs"


def test_fix_with_verification(cli, project: Path, openai_server: ModelServer) -> None:
    openai_server.script("claude", Reply("add() subtracts"), Reply(EDITS))  # identify, then fix
    openai_server.script("codex", Reply("add() subtracts"))
    document = run(cli, project, "workflows/fix.toml", "file=src/lib.rs")
    assert "a + b" in (project / "src" / "lib.rs").read_text()
    assert document["steps"]["apply"]["status"] == "succeeded"  # type: ignore[index]


def test_step_types_and_conditionals(cli, project: Path, openai_server: ModelServer) -> None:
    both = json.dumps({"edits": [json.loads(EDITS)], **FACTS})
    answer_everyone(openai_server, both)
    document = run(cli, project, "workflows/step-types.toml", "issue=7")
    steps = document["steps"]
    assert "issue 7" in openai_server.requests("claude")[0].prompt
    assert steps["fix"]["status"] == "succeeded"  # type: ignore[index]
    assert steps["save_facts"]["status"] == "succeeded"  # type: ignore[index]
    conditionals = run(cli, project, "workflows/conditionals.toml")
    assert conditionals["steps"]["rust-only"]["status"] == "skipped"  # type: ignore[index]
    assert conditionals["steps"]["check-files"]["outputs"] == ["1 src/lib.rs"]  # type: ignore[index]


def test_ecosystem_discovery_then_bug_hunt(cli, project: Path, openai_server: ModelServer) -> None:
    answer_everyone(openai_server, json.dumps(FACTS))
    discovered = run(cli, project, "workflows/discover.toml")
    assert discovered["steps"]["store"]["status"] == "succeeded"  # type: ignore[index]
    answer_everyone(openai_server, "no bugs")
    run(cli, project, "workflows/bug-hunt.toml")
    prompt = openai_server.requests("claude")[-1].prompt
    assert "Search for potential bugs in api." in prompt
    assert "API uses JWT tokens" in prompt and "- database" in prompt

"""Files written for the Rust llm-mux, in the shape its README documents, used unchanged:
its config (`[defaults]` with `command_wrapper`, `claude-api` with `api_key_env`, `env`
as pairs) and its workflows (millisecond timeouts, list-style `ecosystem.projects`).

The CLI backends are real scripts on PATH; `command_wrapper` is a real script that
records the argv it was given and then execs it; the Anthropic backend is the real
test server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply

UPSTREAM = Path(__file__).resolve().parent / "upstream"
HOSTILE = "$(touch pwned1) `touch pwned2` '; touch pwned3; ' \"; touch pwned4; \""

FAKE_CLI = """#!/bin/sh
echo "start $0" >> "$EVENTS"
sleep 0.2
for word; do last=$word; done
printf '%s heard (%s): %s\\n' "$(basename "$0")" "$CLAUDE_CODE_MODE" "$last"
echo "end $0" >> "$EVENTS"
"""
# `docker exec box` style: the command's words follow as arguments.
WORDS_WRAPPER = """#!/bin/sh
line=$(for word; do printf '[%s]' "$word"; done | tr '\\n' '|')
printf '%s\\n' "$line" >> "$WRAP_LOG"  # one write: wrapped calls run at once
exec "$@"
"""
# `nix-shell --run` style: the command comes as one string, for a shell.
STRING_WRAPPER = """#!/bin/sh
[ "$1" = "--run" ] || { echo "expected --run, got $1" >&2; exit 97; }
line=$(printf '[%s]' "$2" | tr '\\n' '|')
printf '%s\\n' "$line" >> "$WRAP_LOG"
exec sh -c "$2"
"""


def script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The upstream config installed as the user's, its CLIs on PATH; returns the
    project directory (the ecosystem's `api` project) to run in."""
    bin_dir = tmp_path / "bin"
    for name in ("claude", "codex"):
        script(bin_dir / name, FAKE_CLI)
    script(bin_dir / "wrap", WORDS_WRAPPER)
    script(bin_dir / "runwrap", STRING_WRAPPER)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EVENTS", str(tmp_path / "events"))
    monkeypatch.setenv("WRAP_LOG", str(tmp_path / "wrap.log"))
    install_config(tmp_path, "wrap")
    project = Path(os.environ["HOME"]) / "projects" / "myapp-api"
    (project / ".llm-mux").mkdir(parents=True)
    shutil.copytree(UPSTREAM / "workflows", project / ".llm-mux" / "workflows")
    return project


def install_config(tmp_path: Path, wrapper: str, **replace: str) -> None:
    text = (UPSTREAM / "config.toml").read_text().replace("WRAPPER", wrapper)
    for old, new in replace.items():
        text = text.replace(old, new)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "llm-mux" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)


def run_json(cli, project: Path, *args: str, code: int = 0) -> dict[str, object]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "--trust", "run", *args, cwd=project)
    assert result.code == code, result.out + result.err
    document: dict[str, object] = json.loads(result.out)
    return document


def test_the_upstream_config_and_workflows_validate(cli, upstream: Path) -> None:
    result = cli("validate", cwd=upstream)
    assert " 0 errors" in result.out, result.out


def test_command_wrapper_wraps_every_cli_backend_and_shell_command(
    cli, upstream: Path, tmp_path: Path
) -> None:
    document = run_json(cli, upstream, "discover-ecosystem")
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert steps["inventory"]["output"] == "discover-ecosystem: frontend=javascript api=rust"
    analysis = str(steps["analyze"]["output"])
    assert "=== claude ===\nclaude heard (review): " in analysis  # env pairs reach the CLI
    assert "=== codex ===\ncodex heard (): " in analysis
    assert "- frontend (javascript), depends on: api" in analysis  # the list-style loop
    assert f"lives at {upstream}." in analysis  # and the lookup by name
    calls = (tmp_path / "wrap.log").read_text().splitlines()
    assert len(calls) == 3, calls
    assert calls[0].startswith("[sh][-c][echo ")
    assert sorted(call.split("]")[0] for call in calls[1:]) == ["[claude", "[codex"]
    assert "[-p][" in next(call for call in calls if call.startswith("[claude"))


@pytest.mark.parametrize("wrapper", ["wrap", "runwrap --run"])
def test_a_wrapped_value_never_executes(cli, upstream: Path, tmp_path: Path, wrapper: str) -> None:
    install_config(tmp_path, wrapper)
    workflow = upstream / ".llm-mux" / "workflows" / "echo.toml"
    workflow.write_text(
        '[args.x]\nrequired = true\n[[steps]]\nname = "say"\ntype = "shell"\n'
        'run = "printf %s {{ args.x }}"\n'
        '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "claude"\n'
        'prompt = "{{ args.x }}"\n'
    )
    document = run_json(cli, upstream, "echo", f"x={HOSTILE}")
    steps = document["steps"]
    assert isinstance(steps, dict)
    assert steps["say"]["output"] == HOSTILE
    assert steps["ask"]["output"] == f"claude heard (review): {HOSTILE}"
    assert not list(upstream.glob("pwned*")) and not list(tmp_path.glob("**/pwned*"))
    assert len((tmp_path / "wrap.log").read_text().strip().splitlines()) == 2


def test_verify_commands_run_inside_the_wrapper(cli, upstream: Path, tmp_path: Path) -> None:
    (upstream / "notes.txt").write_text("old\n")
    workflow = upstream / ".llm-mux" / "workflows" / "edit.toml"
    edits = json.dumps([{"path": "notes.txt", "old": "old", "new": "new"}])
    workflow.write_text(
        f"[[steps]]\nname = 'edits'\ntype = 'shell'\nrun = '''echo '{edits}' '''\n"
        "[[steps]]\nname = 'apply'\ntype = 'apply'\nsource = 'edits'\n"
        "verify = 'grep -q new notes.txt'\n"
    )
    document = run_json(cli, upstream, "edit")
    assert document["success"] is True
    calls = (tmp_path / "wrap.log").read_text().splitlines()
    assert calls[-1] == "[sh][-c][grep -q new notes.txt]"


def test_a_missing_wrapper_makes_cli_backends_unavailable_and_says_so(
    cli, upstream: Path, tmp_path: Path
) -> None:
    install_config(tmp_path, "no-such-wrapper")
    listed = json.loads(cli("--output", "json", "backends", cwd=upstream).out)
    claude = next(row for row in listed if row["name"] == "claude")
    assert "command_wrapper 'no-such-wrapper' not found on PATH" in json.dumps(claude)
    doctor = cli("--output", "json", "doctor", "--offline", cwd=upstream)
    checks = {(c["kind"], c["name"]): c for c in json.loads(doctor.out)["checks"]}
    assert "command_wrapper 'no-such-wrapper' not found" in checks[("backend", "claude")]["detail"]
    install_config(tmp_path, "wrap")
    doctor = cli("--output", "json", "doctor", "--offline", cwd=upstream)
    checks = {(c["kind"], c["name"]): c for c in json.loads(doctor.out)["checks"]}
    assert checks[("backend", "claude")]["detail"] == "command_wrapper wrap found on PATH"


def test_defaults_parallel_and_max_concurrent(cli, upstream: Path, tmp_path: Path) -> None:
    install_config(
        tmp_path,
        "wrap",
        **{"parallel = false": "parallel = true", "max_concurrent = 4": "max_concurrent = 1"},
    )
    workflow = upstream / ".llm-mux" / "workflows" / "both.toml"
    workflow.write_text(
        '[roles.pair]\nbackends = ["claude", "codex"]\n'
        '[[steps]]\nname = "ask"\ntype = "query"\nrole = "pair"\nprompt = "hi"\n'
    )
    document = run_json(cli, upstream, "both")
    assert document["steps"]["ask"]["backends"] == ["claude", "codex"]  # type: ignore[index]
    events = [line.split()[0] for line in (tmp_path / "events").read_text().splitlines()]
    assert events == ["start", "end", "start", "end"]  # one call at a time


def test_claude_api_with_api_key_env(
    cli, upstream: Path, tmp_path: Path, openai_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_config(
        tmp_path, "wrap", **{'command = "claude-api"': f'command = "{openai_server.url}"'}
    )
    monkeypatch.setenv("UPSTREAM_TEST_ANTHROPIC_KEY", "sk-upstream-secret")
    openai_server.script("claude-sonnet-4-20250514", Reply("files look fine"))
    (upstream / "a.txt").write_text("a\n")
    document = run_json(cli, upstream, "quick-check")
    assert document["output"] == "files look fine"
    (request,) = openai_server.requests()
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "sk-upstream-secret"
    assert "sk-upstream-secret" not in json.dumps(document)

"""`doctor` checks an HTTP backend's model against the server's list; `doctor --probe` asks."""

from __future__ import annotations

import json
from pathlib import Path

from support.backends import write_script
from support.openai_server import ModelServer, Reply


def project(tmp_path: Path, config: str, cli=None) -> Path:  # type: ignore[no-untyped-def]
    """A project with this config; trusted when `cli` is given (doctor needs it to call)."""
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(config)
    if cli is not None:
        assert cli("trust", cwd=tmp_path).code == 0
    return tmp_path


def test_a_model_the_server_does_not_serve_is_broken_with_the_closest_name(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:  # type: ignore[no-untyped-def]
    openai_server.script("mock-gpt")  # the server now lists it
    config = f'[backends.typo]\ncommand = "{openai_server.url}"\nmodel = "mock-gtp"\n'
    config += f'[backends.right]\ncommand = "{openai_server.url}"\nmodel = "mock-gpt"\n'
    result = cli("--trust", "doctor", cwd=project(tmp_path, config, cli))
    assert result.code == 1
    assert (
        f"✗ backend typo: {openai_server.url}/models does not serve the model 'mock-gtp'; "
        "did you mean 'mock-gpt'?" in result.out
    )
    assert f"✓ backend right: {openai_server.url} answers" in result.out


def test_probe_asks_every_backend_and_reports_answer_latency_or_the_tools_error(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:  # type: ignore[no-untyped-def]
    openai_server.script("m", Reply("ok"))
    tools = tmp_path / "tools"
    tools.mkdir()
    good = write_script(tools, "good", 'echo "ok, you said: $2"\n')
    bad = write_script(tools, "bad", "echo 'Not logged in · Please run /login'; exit 1\n")
    config = (
        f'[backends.api]\ncommand = "{openai_server.url}"\nmodel = "m"\n'
        f'[backends.good]\ncommand = "{good}"\n[backends.bad]\ncommand = "{bad}"\n'
        # doctor also checks the built-in review, which needs role default
        '[roles.default]\nbackends = ["good"]\n'
    )
    root = project(tmp_path, config, cli)
    result = cli("--trust", "doctor", "--probe", cwd=root)
    assert result.code == 1
    lines = result.out.splitlines()
    assert any(line.startswith("✓ probe api: answered in ") and "'ok'" in line for line in lines)
    assert any(
        line.startswith("✓ probe good: answered in ")
        and "'ok, you said: Reply with the single word: ok'" in line
        for line in lines
    )
    assert f"✗ probe bad: {bad} exited with code 1: Not logged in · Please run /login" in lines
    assert [r.prompt for r in openai_server.requests("m")] == ["Reply with the single word: ok"]

    only = cli("--trust", "--output", "json", "doctor", "--probe", "good", cwd=root)
    probed = [c["name"] for c in json.loads(only.out)["checks"] if c["kind"] == "probe"]
    assert only.code == 0 and probed == ["good"]


def test_probe_refuses_what_it_cannot_do(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = project(tmp_path, '[backends.x]\ncommand = "true"\n', cli)
    assert "needs --probe" in cli("--trust", "doctor", "x", cwd=root).err
    assert "no backend named nope" in cli("--trust", "doctor", "--probe", "nope", cwd=root).err
    assert "--offline" in cli("--trust", "doctor", "--probe", "--offline", cwd=root).err


def test_an_untrusted_projects_backend_is_not_run(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "ran"
    root = project(tmp_path, f'[backends.x]\ncommand = "sh"\nargs = ["-c", "touch {marker}"]\n')
    result = cli("doctor", "--probe", cwd=root)
    assert "· probe x: not run: defined by an untrusted project" in result.out
    assert not marker.exists()

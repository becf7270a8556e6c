"""The real agents — Claude Code, Codex CLI, Gemini CLI, llm — as `llm-mux init` configures them.

Each runs for real against the model server on 127.0.0.1 (`support.agents`): prompts
that look like options or name a subcommand arrive as prompts; tokens and cost are
read from the agents' JSON; a failure says why; a timeout or Ctrl-C while Claude Code's
Bash tool runs a long command (in a session of its own) leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.agents import MODEL, AgentEnvironment, require
from support.openai_server import ModelServer, Reply

# A prompt that looks like an option, one naming a subcommand of the tool, a Markdown list.
SUBCOMMAND = {"claude": "doctor", "codex": "help", "gemini": "mcp", "llm": "models"}
REPORTS_USAGE = {"claude", "codex", "gemini"}


@pytest.fixture
def agents(
    openai_server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AgentEnvironment]:
    environment = AgentEnvironment(openai_server, tmp_path / "agents")
    for name, value in environment.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LLM_MUX_OLLAMA_URL", "http://127.0.0.1:9/v1")  # no Ollama server
    yield environment


def init_project(cli, directory: Path) -> Path:  # type: ignore[no-untyped-def]
    """`llm-mux init --project` in a plain directory (no git): the configs under test."""
    directory.mkdir()
    result = cli("init", "--project", cwd=directory)
    assert result.code == 0, result.out + result.err
    return directory


def workflow(directory: Path, backend: str, prompts: list[str]) -> None:
    steps = "".join(
        f'[[steps]]\nname = "s{i}"\ntype = "query"\nbackend = "{backend}"\n'
        f"prompt = {json.dumps(prompt)}\n"
        for i, prompt in enumerate(prompts)
    )
    (directory / "wf.toml").write_text(steps)


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini", "llm"])
def test_every_prompt_reaches_the_agent_as_a_prompt(cli, agents, tmp_path: Path, tool: str) -> None:  # type: ignore[no-untyped-def]
    require(tool)
    project = init_project(cli, tmp_path / "plain")
    prompts = ["-v is verbose?", SUBCOMMAND[tool], "- item one\n- item two"]
    workflow(project, tool, prompts)
    result = cli("--output", "json", "run", "wf.toml", cwd=project)
    assert result.code == 0, result.out + result.err
    document = json.loads(result.out)
    steps = document["steps"]
    assert [steps[f"s{i}"]["output"] for i in range(3)] == prompts  # the server echoes
    assert sorted(r.prompt for r in agents.server.requests() if r.prompt in prompts) == sorted(
        prompts
    )
    if tool in REPORTS_USAGE:
        assert all(steps[f"s{i}"]["usage"]["total_tokens"] == 15 for i in range(3)), steps
    if tool == "claude":  # Claude Code reports its cost: the run's cost is known
        assert document["cost"] is not None and document["cost"] > 0


def test_the_starter_workflow_runs_on_the_config_init_writes(cli, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("claude")
    project = init_project(cli, tmp_path / "plain")
    result = cli("--output", "json", "run", "hello", cwd=project)
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out)["success"] is True


@pytest.mark.parametrize(
    ("tool", "reason"),
    [
        ("claude", "API Error: 400"),
        ("codex", "model mock-gtp does not exist"),
    ],
)
def test_a_failing_agent_says_why(cli, agents, tmp_path: Path, tool: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    require(tool)
    agents.server.default = Reply.fail(400, "model mock-gtp does not exist")
    project = init_project(cli, tmp_path / "plain")
    workflow(project, tool, ["hello"])
    result = cli("run", "wf.toml", cwd=project)
    assert result.code == 1
    assert reason in result.err and "model mock-gtp does not exist" in result.err, result.err
    assert "OpenAI Codex v" not in result.err and "--------" not in result.err


# -- nothing survives -------------------------------------------------------------------
BASH_CONFIG = """
[backends.claude]
command = "claude"
args = ["-p", "--output-format", "json", "--allowedTools", "Bash"]
output_format = "claude-json"
timeout = "{timeout}"
max_retries = 0
"""


def long_command(agents: AgentEnvironment, pidfile: Path) -> None:
    """Claude Code is told to run a command that records its session's id, then sleeps."""
    command = f"sh -c 'echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; exec sleep 60'"
    agents.server.default = Reply(text="", tool=("Bash", {"command": command, "description": "x"}))


def bash_project(tmp_path: Path, timeout: str) -> Path:
    project = tmp_path / "p"
    (project / ".llm-mux").mkdir(parents=True)
    (project / ".llm-mux" / "config.toml").write_text(BASH_CONFIG.format(timeout=timeout))
    workflow(project, "claude", ["run the tests"])
    return project


def left_in(session: int, home: Path) -> list[int]:
    """Processes of that session, or started under the agents' home: none may remain."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if fields[0] != "Z" and (int(fields[4]) == session or str(home).encode() in environ):
            found.append(int(entry))
    return found


def gone_within(session: int, home: Path, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := left_in(session, home)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:  # leave nothing for the next test, whatever this one says
        os.kill(pid, signal.SIGKILL)
    return left


def test_a_timeout_while_the_agents_tool_runs_leaves_no_process(
    cli, agents, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    require("claude")
    pidfile = tmp_path / "session"
    long_command(agents, pidfile)
    project = bash_project(tmp_path, "20s")
    result = cli("--trust", "run", "wf.toml", cwd=project)
    assert result.code == 1 and "timed out after 20s" in result.err, result.err
    assert pidfile.exists(), "Claude Code never ran its Bash tool"
    assert gone_within(int(pidfile.read_text()), agents.home, 1.0) == []


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_while_the_agents_tool_runs_leaves_no_process(
    agents, tmp_path: Path, number: int
) -> None:  # type: ignore[no-untyped-def]
    require("claude")
    pidfile = tmp_path / "session"
    long_command(agents, pidfile)
    project = bash_project(tmp_path, "5m")
    command = [sys.executable, "-c", "from llm_mux.cli import main; main()", "--trust", "run"]
    command.append("wf.toml")
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    run = subprocess.Popen(command, cwd=project, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists():
            assert time.monotonic() < deadline and run.poll() is None, "the tool never started"
            time.sleep(0.05)
        run.send_signal(number)
        assert run.wait(timeout=10) == 130
    finally:
        run.kill()
        run.communicate()
    assert gone_within(int(pidfile.read_text()), agents.home, 1.0) == []


def test_doctor_probe_asks_the_real_agents(cli, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("claude"), require("codex")
    project = init_project(cli, tmp_path / "plain")
    agents.server.script(MODEL, Reply.fail(400, "model mock-gtp does not exist"))
    result = cli("doctor", "--probe", "claude", "codex", cwd=project)
    lines = result.out.splitlines()
    assert any(
        line.startswith("✓ probe claude: answered in ")
        and "'Reply with the single word: ok'" in line
        for line in lines
    ), result.out
    assert any(
        line.startswith("✗ probe codex: codex exited with code 1: ") and "mock-gtp" in line
        for line in lines
    ), result.out

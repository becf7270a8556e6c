"""CliTransport against real scripts: argv vs stdin, env, cwd, failures, limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.backends import alive, cli_spec, environ, run, write_script

from llm_mux.backends import BackendError, CliTransport, Request
from llm_mux.backends.cli import ARG_PROMPT_LIMIT


def complete(transport: CliTransport, prompt: str, system: str | None = None) -> str:
    return run(transport.complete(Request(prompt, system))).text


def failure(transport: CliTransport, prompt: str = "hi") -> BackendError:
    with pytest.raises(BackendError) as caught:
        run(transport.complete(Request(prompt)))
    return caught.value


def test_arg_mode_passes_args_then_the_prompt_last_after_the_end_of_options(
    tmp_path: Path,
) -> None:
    script = write_script(tmp_path, "argv", 'for a in "$@"; do echo "[$a]"; done\n')
    spec = cli_spec(script, args=("-p", "--quiet"))
    transport = CliTransport(spec, root=tmp_path, env=environ())
    assert complete(transport, "two words") == "[-p]\n[--quiet]\n[--]\n[two words]"
    already = CliTransport(cli_spec(script, args=("-p", "--")), root=tmp_path, env=environ())
    assert complete(already, "-v") == "[-p]\n[--]\n[-v]"
    bare = CliTransport(cli_spec(script, end_of_options=False), root=tmp_path, env=environ())
    assert complete(bare, "-v") == "[-v]"


def test_flag_mode_passes_the_prompt_as_the_value_of_its_option(tmp_path: Path) -> None:
    script = write_script(tmp_path, "argv", 'for a in "$@"; do echo "[$a]"; done\n')
    spec = cli_spec(script, args=("-m", "x"), prompt_mode="flag", prompt_flag="--prompt")
    transport = CliTransport(spec, root=tmp_path, env=environ())
    assert complete(transport, "-v\n- item") == "[-m]\n[x]\n[--prompt=-v\n- item]"


def test_stdin_mode_writes_the_prompt_to_stdin(tmp_path: Path) -> None:
    script = write_script(tmp_path, "cat", 'echo "args=$#"; cat\n')
    transport = CliTransport(cli_spec(script, prompt_mode="stdin"), root=tmp_path, env=environ())
    assert complete(transport, "line one\nline two") == "args=0\nline one\nline two"


def test_a_system_prompt_is_prepended_to_the_prompt(tmp_path: Path) -> None:
    script = write_script(tmp_path, "cat", "cat\n")
    spec = cli_spec(script, prompt_mode="stdin", system="backend system")
    transport = CliTransport(spec, root=tmp_path, env=environ())
    assert complete(transport, "question", system="step system") == "step system\n\nquestion"
    assert complete(transport, "question") == "backend system\n\nquestion"


def test_env_table_is_added_to_the_inherited_environment(tmp_path: Path) -> None:
    script = write_script(tmp_path, "env", 'echo "$GREETING $INHERITED"\n')
    spec = cli_spec(script, env=(("GREETING", "hello ${WHO}"),))
    env = environ(WHO="world", INHERITED="kept")
    assert complete(CliTransport(spec, root=tmp_path, env=env), "x") == "hello world kept"


def test_command_and_args_are_expanded(tmp_path: Path) -> None:
    write_script(tmp_path, "tool", 'echo "$1 $3"\n')  # $2 is --
    spec = cli_spec("${TOOLS}/tool", args=("${FLAG}",))
    env = environ(TOOLS=str(tmp_path), FLAG="--fast")
    assert complete(CliTransport(spec, root=tmp_path, env=env), "go") == "--fast go"


def test_runs_in_the_project_root(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    script = write_script(tmp_path, "pwd", "pwd\n")
    assert complete(CliTransport(cli_spec(script), root=root, env=environ()), "x") == str(root)


def test_output_that_is_not_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    script = write_script(tmp_path, "bytes", r"printf 'ok \377\376 end\n\n'" + "\n")
    text = complete(CliTransport(cli_spec(script), root=tmp_path, env=environ()), "x")
    assert text == "ok \ufffd\ufffd end"


def test_non_zero_exit_reports_the_code_and_the_end_of_stderr(tmp_path: Path) -> None:
    body = 'i=0; while [ $i -lt 500 ]; do echo "noise $i" >&2; i=$((i+1)); done\n'
    body += "echo 'model quota exhausted' >&2; echo partial; exit 3\n"
    script = write_script(tmp_path, "fails", body)
    error = failure(CliTransport(cli_spec(script, name="claude"), root=tmp_path, env=environ()))
    assert error.kind == "exit" and not error.retryable
    assert "backend 'claude'" in error.message and "exited with code 3" in error.message
    assert error.message.endswith("model quota exhausted")
    assert "noise 0\n" not in error.message  # only the end of stderr


def test_command_not_found(tmp_path: Path) -> None:
    spec = cli_spec("llm-mux-test-no-such-command")
    error = failure(CliTransport(spec, root=tmp_path, env=environ()))
    assert error.kind == "not_found" and not error.retryable
    assert "llm-mux-test-no-such-command" in error.message


def test_a_prompt_too_large_for_argv_asks_for_stdin_mode(tmp_path: Path) -> None:
    script = write_script(tmp_path, "count", 'printf %s "$2" | wc -c\n')  # $1 is --
    transport = CliTransport(cli_spec(script, name="big"), root=tmp_path, env=environ())
    largest = "x" * (ARG_PROMPT_LIMIT - 1)
    assert complete(transport, largest).strip() == str(ARG_PROMPT_LIMIT - 1)
    error = failure(transport, largest + "x")
    assert error.kind == "too_large" and not error.retryable
    assert 'prompt_mode = "stdin"' in error.message and "[backends.big]" in error.message


def test_stdin_mode_takes_a_prompt_of_any_size(tmp_path: Path) -> None:
    script = write_script(tmp_path, "count", "wc -c\n")
    transport = CliTransport(cli_spec(script, prompt_mode="stdin"), root=tmp_path, env=environ())
    assert complete(transport, "y" * 1_000_000).strip() == "1000000"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    body = f"sleep 60 &\necho $! > {pid_file}\nwait\n"
    script = write_script(tmp_path, "hangs", body)
    spec = cli_spec(script, timeout=0.5, retry_timeout=True)
    started = time.monotonic()
    error = failure(CliTransport(spec, root=tmp_path, env=environ()))
    assert error.kind == "timeout" and error.retryable  # retryable because retry_timeout
    assert time.monotonic() - started < 4
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(grandchild)


def test_timeout_is_not_retryable_unless_retry_timeout(tmp_path: Path) -> None:
    script = write_script(tmp_path, "slow", "sleep 5\n")
    error = failure(CliTransport(cli_spec(script, timeout=0.2), root=tmp_path, env=environ()))
    assert error.kind == "timeout" and not error.retryable

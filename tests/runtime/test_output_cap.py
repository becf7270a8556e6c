"""Issue 12, case 12: a CLI backend's answer is capped by `max_response_bytes`.

A real child writes 50 MB to standard output; llm-mux keeps at most the limit, stops
the child's whole process group as a timeout does, and fails the call with a message
naming the backend and the key. In fallback mode the next backend answers instead.
Memory is shown bounded by counting the bytes kept (`OutputTooLarge.kept`), not by
timing or RSS.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support.backends import cli_spec, environ, run, write_script

from llm_mux.backends import BackendError, CliTransport, Request
from llm_mux.processes.process import OutputTooLarge, run_process

FIFTY_MB = "head -c 50000000 /dev/zero | tr '\\0' x"
LIMIT = 1024 * 1024


def test_a_child_writing_50_mb_keeps_at_most_the_limit_and_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    # A background job in its group must die too, as on a timeout.
    command = f"(sleep 2; touch {marker}) & {FIFTY_MB}; wait"
    with pytest.raises(OutputTooLarge) as caught:
        asyncio.run(run_process(["sh", "-c", command], cwd=tmp_path, max_output=LIMIT))
    assert caught.value.limit == LIMIT
    assert 0 < caught.value.kept <= LIMIT  # never more than the limit held
    assert "more than 1,048,576 bytes" in str(caught.value)
    time.sleep(2.5)
    assert not marker.exists()


def test_output_up_to_the_limit_is_kept_whole(tmp_path: Path) -> None:
    command = f"head -c {LIMIT} /dev/zero | tr '\\0' y"
    done = asyncio.run(run_process(["sh", "-c", command], cwd=tmp_path, max_output=LIMIT))
    assert done.stdout == "y" * LIMIT
    with pytest.raises(OutputTooLarge):
        asyncio.run(run_process(["sh", "-c", command], cwd=tmp_path, max_output=LIMIT - 1))


def test_a_cli_backend_over_max_response_bytes_fails_naming_the_key(tmp_path: Path) -> None:
    script = write_script(tmp_path, "flood", f"{FIFTY_MB}\n")
    spec = cli_spec(script, name="flood", max_response_bytes=LIMIT)
    transport = CliTransport(spec, root=tmp_path, env=environ())
    with pytest.raises(BackendError) as caught:
        run(transport.complete(Request("hi")))
    error = caught.value
    assert error.kind == "oversized" and not error.retryable
    assert error.message == (
        "backend 'flood': the output is larger than max_response_bytes (1,048,576 bytes), "
        f"so {script} was stopped; raise backends.flood.max_response_bytes if it is expected"
    )


def test_run_shows_the_message_and_falls_back_to_the_next_backend(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    flood = write_script(tmp_path, "flood", f"{FIFTY_MB}\n")
    good = write_script(tmp_path, "good", 'echo "fine: $2"\n')
    (tmp_path / "wf.toml").write_text(
        f'[backends.flood]\ncommand = "{flood}"\nmax_retries = 0\nmax_response_bytes = 1000000\n'
        f'[backends.good]\ncommand = "{good}"\nmax_retries = 0\n'
        '[roles.ask]\nbackends = ["flood", "good"]\nexecution = "fallback"\n'
        '[[steps]]\nname = "ask"\ntype = "query"\nrole = "ask"\nprompt = "hi"\n'
        '[[steps]]\nname = "show"\ntype = "shell"\nrun = "echo {{ steps.ask.output }}"\n'
    )
    result = cli("--trust", "run", "wf.toml", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "internal error" not in result.err
    assert (
        "flood ✗ the output is larger than max_response_bytes (1,000,000 bytes), "
        f"so {flood} was stopped" in result.err
    )
    assert "raise backends.flood.max_response_bytes if it is expected" in result.err
    assert "good ✓" in result.err
    assert result.out.strip().endswith("fine: hi")


def test_the_default_limit_is_16_mib_for_cli_backends_too(tmp_path: Path) -> None:
    script = write_script(tmp_path, "big", "head -c 17000000 /dev/zero | tr '\\0' z\n")
    transport = CliTransport(cli_spec(script, name="big"), root=tmp_path, env=environ())
    with pytest.raises(BackendError) as caught:
        run(transport.complete(Request("hi")))
    assert "(16,777,216 bytes)" in caught.value.message

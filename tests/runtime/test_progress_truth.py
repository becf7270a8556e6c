"""Progress tells the truth, on a real terminal (a pty) and in plain lines elsewhere:
`k/N` from the moment N is known, a spinner and elapsed time for steps without a count,
role → backends and each backend's fate for query steps, and a summary naming the steps
that failed or were skipped."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

WORKFLOW = """\
name = "truth"
output = "ask"

[backends.standin]
command = "sh"
args = ["-c", "echo answered", "standin"]

[backends.absent]
command = "llm-mux-test-no-such-tool"

[roles.default]
backends = ["absent", "standin"]
execution = "fallback"

[[steps]]
name = "prep"
type = "shell"
run = "sleep 0.6"

[[steps]]
name = "each"
type = "shell"
run = "sleep 0.5; echo {{ item }}"
for_each = "[1, 2, 3, 4, 5, 6, 7, 8]"
concurrency = 4
depends_on = ["prep"]

[[steps]]
name = "ask"
type = "query"
prompt = "Items: {{ steps.each.output }}"

[[steps]]
name = "boom"
type = "shell"
run = "exit 3"
continue_on_error = true

[[steps]]
name = "later"
type = "shell"
run = "echo never"
if = "steps.boom.succeeded"
"""
COMMAND = [sys.executable, "-c", "from llm_mux.cli import main; main()", "run", "wf.toml"]
COLOURS = re.compile(r"\x1b\[[0-9;]*m")
MOVES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")  # cursor moves and erases: a new line


def environment(home: Path) -> dict[str, str]:
    return dict(
        os.environ,
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".state"),
        TERM="xterm-256color",
        COLUMNS="120",
    )


def run_in_a_terminal(tmp_path: Path) -> tuple[int, str, str]:
    """The run with stderr on a pty, read while it runs (a full pty would block it)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        COMMAND,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=environment(tmp_path),
    )
    os.close(follower)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out, _ = process.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(leader)
    return process.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


def test_the_live_display_tells_the_truth(tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(WORKFLOW)
    code, out, drawn = run_in_a_terminal(tmp_path)
    assert code == 0, drawn
    assert out == "answered\n"
    assert "\x1b[" in drawn, "a terminal gets the live display"
    screen = MOVES.sub("\n", COLOURS.sub("", drawn))
    # the count is shown from the moment it is known, before any item finished
    assert re.search(r"each \[shell\].*\b0/8\b", screen), screen
    assert "0/0" not in screen and "/?" not in screen
    # a step without a count: its spinner and elapsed time, no empty bar
    prep = [line for line in screen.splitlines() if "prep [shell]" in line]
    assert prep and all(re.search(r"prep \[shell\]\s+0:00:0\d", line) for line in prep)
    # a query step names its role and backends, and how each one fared
    assert "ask [query: default → absent, standin, fallback]" in screen
    assert re.search(r"✓ ask \(\d+\.\ds; absent ✗ not available: [^;]*, standin ✓\)", screen)
    # the summary names the failed and the skipped steps
    assert re.search(r"run succeeded in \d+\.\ds · failed: boom · skipped: later", screen)


def test_plain_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(WORKFLOW)
    done = subprocess.run(
        COMMAND,
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stderr
    lines = done.stderr.splitlines()
    assert "→ each [shell]" in lines and "  each: 0/8 items" in lines
    assert lines.index("  each: 0/8 items") == lines.index("→ each [shell]") + 1
    assert any(re.fullmatch(r"✓ each \(\d+\.\ds; 8 items\)", line) for line in lines)
    assert "→ ask [query: default → absent, standin, fallback]" in lines
    assert any(line.startswith("✗ boom (") and "exit code 3" in line for line in lines)
    assert "- later skipped" in lines
    assert re.fullmatch(
        r"run succeeded in \d+\.\ds · failed: boom · skipped: later · cost unknown", lines[-1]
    )

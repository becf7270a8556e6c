"""On a terminal, progress is drawn live with rich; the result still goes to stdout once."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path


def test_live_progress_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(
        '[[steps]]\nname = "each"\ntype = "shell"\nrun = "sleep 0.1; echo {{ item }}"\n'
        'for_each = "[1, 2, 3, 4]"\n'
    )
    leader, follower = pty.openpty()
    env = dict(os.environ, HOME=str(tmp_path), TERM="xterm-256color", COLUMNS="100")
    command = [sys.executable, "-c", "from llm_mux.cli import main; main()", "run", "wf.toml"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    out, _ = process.communicate(timeout=30)
    drawn = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert process.returncode == 0
    assert out == b"1\n2\n3\n4\n"
    screen = drawn.decode(errors="replace")
    assert "\x1b[" in screen, "a terminal gets a live (escape-code) display"
    assert "✓ each" in screen and "4 items" in screen

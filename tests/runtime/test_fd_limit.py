"""Issue 12, case 10: more runnable steps than the descriptor limit can hold wait their turn.

400 independent steps under a soft RLIMIT_NOFILE of 256 used to end in "Too many open
files" (an internal error); now children beyond `process.child_slots()` queue.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path

from support.subprocesses import isolated_env, mux

from llm_mux.process import child_slots


def _limit_descriptors() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


def test_400_independent_steps_under_a_low_descriptor_limit_all_run(tmp_path: Path) -> None:
    steps = "".join(
        f'[[steps]]\nname = "s{i}"\ntype = "shell"\nrun = "sleep 0.2; echo {i}"\n'
        for i in range(400)
    )
    (tmp_path / "wf.toml").write_text(steps)
    done = mux(
        "--output", "json", "run", "wf.toml",
        cwd=tmp_path, env=isolated_env(tmp_path), timeout=300, preexec_fn=_limit_descriptors,
    )  # fmt: skip
    assert "internal error" not in done.stderr and "Too many open files" not in done.stderr
    document = json.loads(done.stdout)
    assert document["success"] is True
    assert {s["output"] for s in document["steps"].values()} == {str(i) for i in range(400)}


def test_the_slots_follow_the_descriptor_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert 1 <= child_slots() <= (256 - 128) // 6
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

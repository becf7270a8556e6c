"""The console names every backend's fate in a parallel or fallback step, with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.backends import write_script


@pytest.mark.parametrize("execution", ["parallel", "fallback"])
def test_every_backend_of_a_step_is_accounted_for(cli, tmp_path: Path, execution: str) -> None:  # type: ignore[no-untyped-def]
    bad = write_script(tmp_path, "bad", "echo 'API Error: 400 no such model'; exit 1\n")
    slow = write_script(tmp_path, "slow", "exec sleep 30\n")
    good = write_script(tmp_path, "good", 'echo "fine: $2"\n')
    order = ["bad", "slow", "good"]
    tables = "".join(
        f'[backends.{name}]\ncommand = "{path}"\ntimeout = "1s"\nmax_retries = 0\n'
        for name, path in (("bad", bad), ("slow", slow), ("good", good))
    )
    (tmp_path / "wf.toml").write_text(
        f'{tables}[roles.ask]\nbackends = {order}\nexecution = "{execution}"\n'.replace("'", '"')
        + '[[steps]]\nname = "ask"\ntype = "query"\nrole = "ask"\nprompt = "hi"\n'
    )
    result = cli("--trust", "run", "wf.toml", cwd=tmp_path)
    assert result.code == 0, result.err
    finish = next(line for line in result.err.splitlines() if line.startswith("✓ ask"))
    assert "bad ✗ " in finish and "exited with code 1: API Error: 400 no such model" in finish
    assert "slow ✗ timed out after 1s" in finish
    assert "good ✓" in finish

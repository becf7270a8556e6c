"""The offline "Fix with Verification" example really finds and fixes its planted bug,
trying both stand-in coders' patches (best of N) and keeping the one that passes.

It runs on a copy of examples/ (the real files must stay buggy for the next
reader), through the command line, with the stand-in backends of offline.toml.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
FIXED = "    return total(values) / len(values)\n"


def test_the_offline_fix_example_fixes_the_bug_then_finds_nothing_to_fix(
    cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    original = (EXAMPLES / "fixme" / "stats.py").read_bytes()
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    args = ("-C", str(copy), "--config", "offline.toml", "--trust", "--output", "json", "run")
    result = cli(*args, "workflows/fix-offline.toml", cwd=copy)
    assert result.code == 0, result.out + result.err
    document = json.loads(result.out)
    apply = document["steps"]["apply"]
    assert apply["files_changed"] == ["fixme/stats.py"]
    assert apply["diff"].endswith(
        "-    return total(values) / (len(values) - 1)\n+    return total(values) / len(values)\n"
    )
    assert "Ran 3 tests" in apply["verify_output"] and "OK" in apply["verify_output"]
    # Best of N: the hasty stand-in's patch failed in its own copy; the fixer's won.
    candidates = {c["backend"]: c for c in apply["candidates"]}
    assert candidates["hasty-fixer"]["status"] == "failed"
    assert "+    return total(values) / (len(values) + 1)" in candidates["hasty-fixer"]["diff"]
    assert len(candidates["hasty-fixer"]["attempts"]) == 2  # asked again, once
    assert candidates["fixer"]["status"] == "won" and apply["winner"] == "fixer"
    assert document["output"].startswith("modified fixme/stats.py\nverified with")
    assert (copy / "fixme" / "stats.py").read_text().endswith(FIXED)

    again = cli(*args, "workflows/fix-offline.toml", cwd=copy)
    assert again.code == 0
    assert json.loads(again.out)["output"] == "the tests pass already: nothing to fix"
    assert (EXAMPLES / "fixme" / "stats.py").read_bytes() == original

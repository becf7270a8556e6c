"""Best-of-N test helpers: a repository with a bug, three scripted backends, a workflow.

Three backends of one parallel role answer the same fix request: m0 with a
failing patch, m1 with a passing one, m2 with a passing one that also adds a
test (so it scores better by the metric `TESTS_RUN`, the number of tests run).
`VERIFY` fails unless the user's uncommitted change and untracked file are in
the tree it runs in.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from llm_mux.candidates.workspaces import PREFIX

from .openai_server import ModelServer, Reply
from .trees import git, git_project

CALC = "def add(a, b):\n    return a - b\n"
TESTS = (
    "import unittest\n\nfrom calc import add\n\n\n"
    "class CalcTest(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n"
    "    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n"
)
MORE = (
    "import unittest\n\nfrom calc import add\n\n\n"
    "class MoreTest(unittest.TestCase):\n"
    "    def test_negative(self):\n        self.assertEqual(add(-1, -2), -3)\n"
)
FAILING = json.dumps({"path": "calc.py", "old": "return a - b", "new": "return a * b"})
PASSING = json.dumps({"path": "calc.py", "old": "return a - b", "new": "return a + b"})
BETTER = json.dumps([json.loads(PASSING), {"path": "test_more.py", "content": MORE}])
FIXED = CALC.replace("a - b", "a + b")
# The user's unfinished work must be in every candidate's tree: verify insists on it.
VERIFY = "grep -q unfinished README.md && test -f scratch.txt && python3 -B -m unittest -q"
TESTS_RUN = "python3 -B -m unittest 2>&1 | sed -n 's/^Ran \\([0-9]*\\) tests*.*/\\1/p'"


def bug_project(tmp_path: Path, server: ModelServer) -> Path:
    """A git repository whose add() subtracts, with a user's unfinished work on top."""
    root = git_project(
        tmp_path / "project",
        {"calc.py": CALC, "test_calc.py": TESTS, "README.md": "# calc\n"},
        uncommitted={"README.md": "# calc\n\nmy unfinished notes\n"},
        untracked={"scratch.txt": "todo  \n"},
    )
    configure(root, server)
    return root


def configure(root: Path, server: ModelServer) -> None:
    (root / ".llm-mux").mkdir()
    backends = "".join(
        f'[backends.{m}]\ncommand = "{server.url}"\nmodel = "{m}"\nmax_retries = 0\n'
        for m in ("m0", "m1", "m2")
    )
    roles = '[roles.coder]\nbackends = ["m0", "m1", "m2"]\nexecution = "parallel"\n'
    (root / ".llm-mux" / "config.toml").write_text(backends + roles)


def script(server: ModelServer, *answers: str) -> None:
    for model, answer in zip(("m0", "m1", "m2"), answers, strict=True):
        server.script(model, Reply(answer))


def workflow(**keys: object) -> str:
    lines = [
        '[[steps]]\nname = "fix"\ntype = "query"\nrole = "coder"',
        'prompt = "Fix calc.py so that add adds."\n',
        '[[steps]]\nname = "apply"\ntype = "apply"\nsource = "fix"\ncandidates = "each"',
        f"verify = {json.dumps(VERIFY)}",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def run(cli, root: Path, text: str, *options: str) -> tuple[int, dict[str, object]]:  # type: ignore[no-untyped-def]
    path = root.parent / "wf.toml"
    path.write_text(text)
    result = cli("--output", "json", "--trust", "run", *options, str(path), cwd=root)
    assert result.out, result.err
    return result.code, json.loads(result.out)


def apply_of(document: dict[str, object]) -> dict[str, object]:
    return document["steps"]["apply"]  # type: ignore[index, no-any-return]


def by_backend(document: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["backend"]: c for c in apply_of(document)["candidates"]}  # type: ignore[attr-defined]


def leftovers(pid: int | None = None) -> list[Path]:
    """The workspace directories of process `pid` (default: this one) still there."""
    owner = os.getpid() if pid is None else pid
    return list(Path(tempfile.gettempdir()).glob(f"{PREFIX}{owner}-*"))


def worktrees(root: Path) -> int:
    """How many worktrees git knows for the repository at `root` (1: the main one)."""
    return git(root, "worktree", "list", "--porcelain").count("worktree ")


def assert_no_workspace_left(root: Path) -> None:
    assert worktrees(root) == 1, git(root, "worktree", "list")
    assert leftovers() == []


def assert_user_work_intact(root: Path) -> None:
    assert (root / "README.md").read_text() == "# calc\n\nmy unfinished notes\n"
    assert (root / "scratch.txt").read_text() == "todo  \n"

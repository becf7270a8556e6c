"""`llm-mux run` with apply steps, on real git repositories, real subprocesses and the test server.

Every failure path is checked the same way: `TreeState` (every file's bytes and
mode, every directory, `git status --porcelain`) before and after must be
equal — with a user's uncommitted change and an untracked file present.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply
from support.trees import TreeState, git_project

from llm_mux.backends import BackendPool
from llm_mux.compiler.plan import Apply, Plan, Shell, StepPlan, WorkflowInfo
from llm_mux.running.results import StepResult, StepsView
from llm_mux.running.runtime import Backends, Runtime
from llm_mux.steps.apply import run_apply

CALC = "def add(a, b):\n    return a - b\n\n\ndef double(x):\n    return x * 2\n"
TESTS = (
    "import unittest\n\nfrom calc import add, double\n\n\n"
    "class CalcTest(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n"
    "    def test_double(self):\n        self.assertEqual(double(4), 8)\n"
)
VERIFY = "python3 -B -m unittest -q"
RIGHT = json.dumps({"path": "calc.py", "old": "return a - b", "new": "return a + b"})
WRONG = json.dumps({"path": "calc.py", "old": "return a - b", "new": "return a * b"})
RIGHT_DIFF = (
    "Found it: the operator is wrong.\n\n```diff\n--- a/calc.py\n+++ b/calc.py\n"
    "@@ -7,2 +7,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n```\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_project(
        tmp_path / "project",
        {"calc.py": CALC, "test_calc.py": TESTS, "README.md": "# calc\n"},
        uncommitted={"README.md": "# calc\n\nmy unfinished notes\n"},
        untracked={"scratch.txt": "todo  \n"},
    )


def run(cli, root: Path, workflow: str, *args: str) -> tuple[int, dict[str, object]]:  # type: ignore[no-untyped-def]
    path = root.parent / "wf.toml"
    path.write_text(workflow)
    result = cli("--output", "json", "--trust", "run", str(path), *args, cwd=root)
    assert result.out, result.err
    return result.code, json.loads(result.out)


def step(document: dict[str, object], name: str = "apply") -> dict[str, object]:
    return document["steps"][name]  # type: ignore[index, no-any-return]


def edits_file(root: Path, text: str, name: str = "edits.txt") -> Path:
    """Edits as a shell source step will print them (kept outside the repository)."""
    path = root.parent / name
    path.write_text(text)
    return path


SHELL_SOURCE = """
[[steps]]
name = "fix"
type = "shell"
run = "cat {{ args.edits }}"

[[steps]]
name = "apply"
type = "apply"
source = "steps.fix"
"""


def shell_workflow(verify: str | None = VERIFY, **keys: object) -> str:
    lines = [SHELL_SOURCE]
    if verify is not None:
        lines.append(f"verify = {json.dumps(verify)}")
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


# -- applying and verifying -------------------------------------------------------------
def test_json_edits_applied_and_verified(cli, repo: Path) -> None:
    code, document = run(cli, repo, shell_workflow(), f"edits={edits_file(repo, RIGHT)}")
    assert code == 0, step(document)["error"]
    apply = step(document)
    assert apply["status"] == "succeeded" and apply["exit_code"] == 0
    assert apply["output"] == f"modified calc.py\nverified with `{VERIFY}` (attempt 1)"
    assert apply["files_changed"] == ["calc.py"]
    assert apply["files_created"] == apply["files_deleted"] == []
    assert apply["diff"] == (
        "--- a/calc.py\n+++ b/calc.py\n@@ -1,5 +1,5 @@\n def add(a, b):\n"
        "-    return a - b\n+    return a + b\n \n \n def double(x):\n"
    )
    assert apply["attempts"] == [
        {
            "attempt": 1,
            "files_changed": ["calc.py"],
            "files_created": [],
            "files_deleted": [],
            "error": None,
            "exit_code": 0,
        }
    ]
    assert "Ran 2 tests" in str(apply["verify_output"])
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert (repo / "README.md").read_text() == "# calc\n\nmy unfinished notes\n"


def test_templates_see_the_files_and_the_verify_output(cli, repo: Path) -> None:
    workflow = shell_workflow() + (
        '[[steps]]\nname = "report"\ntype = "shell"\n'
        "run = \"echo {{ steps.apply.files_changed | join(',') }} "
        "{{ 'Ran 2 tests' in steps.apply.verify_output }}\"\n"
    )
    code, document = run(cli, repo, workflow, f"edits={edits_file(repo, RIGHT)}")
    assert code == 0, document["error"]
    assert document["output"] == "calc.py True"


def test_without_verify_the_edits_are_kept(cli, repo: Path) -> None:
    code, document = run(cli, repo, shell_workflow(None), f"edits={edits_file(repo, WRONG)}")
    assert code == 0
    assert step(document)["output"] == (
        "modified calc.py\nnot verified: the step has no verify command"
    )
    assert step(document)["exit_code"] is None
    assert "return a * b" in (repo / "calc.py").read_text()


def test_a_verify_failure_restores_the_tree_exactly(cli, repo: Path) -> None:
    edits = [
        {"path": "calc.py", "old": "return a - b", "new": "return a * b"},
        {"path": "README.md", "delete": True},  # holds the user's uncommitted change
        {"path": "scratch.txt", "content": "overwritten\n"},  # untracked
        {"path": "pkg/sub/new.py", "content": "NEW = 1\n"},
    ]
    before = TreeState.of(repo)
    code, document = run(
        cli, repo, shell_workflow(), f"edits={edits_file(repo, json.dumps(edits))}"
    )
    assert code == 1
    apply = step(document)
    assert apply["status"] == "failed" and apply["exit_code"] == 1
    error = str(apply["error"])
    assert error.startswith(f"verify failed: `{VERIFY}` exited with code 1:\n")
    assert "AssertionError: 6 != 5" in error
    assert error.endswith("(attempt 1 of 1; the files were restored)")
    assert apply["rolled_back"] is True
    assert apply["files_changed"] == apply["files_created"] == apply["files_deleted"] == []
    assert apply["attempts"][0]["files_deleted"] == ["README.md"]  # type: ignore[index]
    assert "+NEW = 1" in str(apply["diff"]), "the diff shows what the attempt wrote"
    assert TreeState.of(repo) == before


def test_rollback_on_failure_false_keeps_the_failed_attempt(cli, repo: Path) -> None:
    before = TreeState.of(repo)
    workflow = shell_workflow(rollback_on_failure=False)
    code, document = run(cli, repo, workflow, f"edits={edits_file(repo, WRONG)}")
    assert code == 1
    assert "rollback_on_failure = false" in str(step(document)["error"])
    assert step(document)["files_changed"] == ["calc.py"]
    after = TreeState.of(repo)
    assert after.files["calc.py"][0] == CALC.replace("a - b", "a * b").encode()
    assert {k: v for k, v in after.files.items() if k != "calc.py"} == {
        k: v for k, v in before.files.items() if k != "calc.py"
    }


@pytest.mark.parametrize("bad", ["../x", "ABSOLUTE", ".git/config", "out/x"])
def test_refused_paths_fail_the_step_and_write_nothing(
    cli, repo: Path, tmp_path: Path, bad: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "out").symlink_to(outside)
    bad = str(tmp_path / "abs-target") if bad == "ABSOLUTE" else bad
    edits = [{"path": "calc.py", "content": "pwned = 1\n"}, {"path": bad, "content": "pwned\n"}]
    before, git_config = TreeState.of(repo), (repo / ".git" / "config").read_bytes()
    code, document = run(
        cli, repo, shell_workflow(), f"edits={edits_file(repo, json.dumps(edits))}"
    )
    assert code == 1
    assert str(step(document)["error"]).startswith(f"the edits cannot be applied: {bad}: refused")
    assert TreeState.of(repo) == before
    assert (repo / ".git" / "config").read_bytes() == git_config
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "x").exists() and not (tmp_path / "abs-target").exists()


def test_a_hunk_that_matches_nowhere_fails_naming_file_and_hunk(cli, repo: Path) -> None:
    diff = (
        "--- a/calc.py\n+++ b/calc.py\n"
        "@@ -1,2 +1,2 @@\n def sub(a, b):\n-    return 0\n+    return 1\n"
    )
    before = TreeState.of(repo)
    code, document = run(cli, repo, shell_workflow(), f"edits={edits_file(repo, diff)}")
    assert code == 1
    assert str(step(document)["error"]).startswith(
        "the edits cannot be applied: calc.py: hunk 1 of 1 (@@ -1,2 +1,2 @@) does not match"
    )
    assert TreeState.of(repo) == before


def test_a_skipped_source_skips_the_apply(cli, repo: Path) -> None:
    workflow = (
        SHELL_SOURCE.replace('run = "cat', 'if = "false"\nrun = "cat') + f'verify = "{VERIFY}"\n'
    )
    code, document = run(cli, repo, workflow, "edits=none")
    assert code == 0
    assert step(document)["status"] == "skipped"


def test_a_source_that_is_not_a_query_cannot_be_asked_again(cli, repo: Path) -> None:
    before = TreeState.of(repo)
    workflow = shell_workflow(verify_retries=2)
    code, document = run(cli, repo, workflow, f"edits={edits_file(repo, WRONG)}")
    assert code == 1
    assert str(step(document)["error"]).endswith(
        "(attempt 1 of 3; the files were restored); "
        "cannot ask again: the source step 'fix' is not a query step"
    )
    assert TreeState.of(repo) == before


def test_apply_steps_take_turns(cli, repo: Path) -> None:
    one = edits_file(repo, json.dumps({"path": "a.txt", "content": "a\n"}), "one.json")
    two = edits_file(repo, json.dumps({"path": "b.txt", "content": "b\n"}), "two.json")
    # Independent steps: two's edits arrive while one verifies, and must wait their turn.
    unchanged_while_verifying = """'seen=$(ls); sleep 0.3; test "$seen" = "$(ls)"'"""
    workflow = f"""
[[steps]]
name = "one"
type = "shell"
run = "cat {one}"
[[steps]]
name = "two"
type = "shell"
run = "sleep 0.15; cat {two}"
[[steps]]
name = "apply_one"
type = "apply"
source = "one"
verify = {unchanged_while_verifying}
[[steps]]
name = "apply_two"
type = "apply"
source = "two"
verify = {unchanged_while_verifying}
"""
    code, document = run(cli, repo, workflow)
    assert code == 0, document["error"]
    assert (repo / "a.txt").exists() and (repo / "b.txt").exists()


# -- asking the model again ---------------------------------------------------------------
def model_project(root: Path, server: ModelServer) -> None:
    (root / ".llm-mux").mkdir()
    (root / ".llm-mux" / "config.toml").write_text(
        f'[backends.m0]\ncommand = "{server.url}"\nmodel = "m0"\nmax_retries = 0\n'
        '[roles.coder]\nbackends = ["m0"]\n'
    )


QUERY_SOURCE = f"""
[[steps]]
name = "fix"
type = "query"
role = "coder"
system = "You fix bugs."
prompt = "Fix calc.py so that add adds."

[[steps]]
name = "apply"
type = "apply"
source = "fix"
verify = "{VERIFY}"
"""


def test_a_failed_verify_asks_the_source_again_and_the_second_answer_wins(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    model_project(repo, openai_server)
    openai_server.script("m0", Reply(WRONG, usage=(10, 5)), Reply(RIGHT_DIFF, usage=(20, 7)))
    workflow = QUERY_SOURCE + (
        "verify_retries = 2\n"
        'verify_retry_prompt = """{{ original }}\nFAILED:\n{{ error }}\nYOU SENT:\n{{ edits }}"""\n'
    )
    code, document = run(cli, repo, workflow)
    assert code == 0, step(document)["error"]
    requests = openai_server.requests("m0")
    assert len(requests) == 2
    again = requests[1]
    assert again.prompt.startswith("Fix calc.py so that add adds.\nFAILED:\n")
    assert "AssertionError: 6 != 5" in again.prompt and "FAILED (failures=1)" in again.prompt
    assert again.prompt.endswith(f"YOU SENT:\n{WRONG}")
    assert again.body["messages"][0] == {"role": "system", "content": "You fix bugs."}  # type: ignore[index]
    apply = step(document)
    assert [a["error"] is None for a in apply["attempts"]] == [False, True]  # type: ignore[union-attr]
    assert "verify failed" in str(apply["attempts"][0]["error"])  # type: ignore[index]
    assert apply["output"] == f"modified calc.py\nverified with `{VERIFY}` (attempt 2)"
    assert apply["usage"] == {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27}
    assert apply["backend"] == "m0"
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_the_default_retry_prompt_carries_the_error_and_the_edits(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    model_project(repo, openai_server)
    openai_server.script("m0", Reply(WRONG), Reply(RIGHT))
    code, _ = run(cli, repo, QUERY_SOURCE + "verify_retries = 1\n")
    assert code == 0
    prompt = openai_server.requests("m0")[1].prompt
    assert prompt.startswith("Fix calc.py so that add adds.\n\nYour previous answer was:\n")
    assert WRONG in prompt and "AssertionError: 6 != 5" in prompt
    assert f"the verification command `{VERIFY}` failed" in prompt
    assert "restored" in prompt


def test_edits_that_cannot_be_applied_are_asked_again_too(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    model_project(repo, openai_server)
    openai_server.script("m0", Reply("Looks fine to me!"), Reply(RIGHT))
    code, document = run(cli, repo, QUERY_SOURCE + "verify_retries = 1\n")
    assert code == 0
    assert "no edits found" in openai_server.requests("m0")[1].prompt
    assert "no edits found" in str(step(document)["attempts"][0]["error"])  # type: ignore[index]


def test_when_retries_run_out_the_step_fails_and_the_tree_is_restored(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    model_project(repo, openai_server)
    before = TreeState.of(repo)
    openai_server.script("m0", Reply(WRONG), Reply(WRONG), Reply(RIGHT))
    code, document = run(cli, repo, QUERY_SOURCE + "verify_retries = 1\n")
    assert code == 1
    assert len(openai_server.requests("m0")) == 2
    assert str(step(document)["error"]).endswith("(attempt 2 of 2; the files were restored)")
    assert len(step(document)["attempts"]) == 2  # type: ignore[arg-type]
    assert TreeState.of(repo) == before


def test_a_failed_re_ask_fails_the_step(cli, repo: Path, openai_server: ModelServer) -> None:
    model_project(repo, openai_server)
    before = TreeState.of(repo)
    openai_server.script("m0", Reply(WRONG), Reply.fail(401, "bad key"))
    code, document = run(cli, repo, QUERY_SOURCE + "verify_retries = 3\n")
    assert code == 1
    assert "asking 'fix' again failed" in str(step(document)["error"])
    assert TreeState.of(repo) == before


def test_the_seed_fix_workflow_end_to_end(cli, repo: Path, openai_server: ModelServer) -> None:
    """identify → fix (JSON edits) → apply with verification, as the seed README shows it."""
    model_project(repo, openai_server)
    openai_server.script("m0", Reply("add() subtracts: `return a - b` should be `a + b`."))
    openai_server.script("m0", Reply(f"Here is the fix:\n```json\n{RIGHT}\n```"))
    workflow = f"""
name = "fix"
[args.file]
required = true

[[steps]]
name = "identify"
type = "query"
role = "coder"
prompt = "Find the bug in {{{{ args.file }}}}"

[[steps]]
name = "fix"
type = "query"
role = "coder"
prompt = '''
Fix this bug: {{{{ steps.identify.output }}}}
Return edits as JSON: {{"path": "...", "old": "...", "new": "..."}}
'''
depends_on = ["identify"]

[[steps]]
name = "apply"
type = "apply"
source = "steps.fix"
verify = "{VERIFY}"
verify_retries = 2
depends_on = ["fix"]
"""
    code, document = run(cli, repo, workflow, "file=calc.py")
    assert code == 0, document["error"]
    assert document["output"] == f"modified calc.py\nverified with `{VERIFY}` (attempt 1)"
    assert "should be `a + b`" in openai_server.requests("m0")[1].prompt
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


# -- interruption -------------------------------------------------------------------------
def test_a_step_timeout_during_verify_restores_everything(cli, repo: Path) -> None:
    before = TreeState.of(repo)
    workflow = shell_workflow("sleep 5", timeout="500ms")
    started = time.perf_counter()
    code, document = run(cli, repo, workflow, f"edits={edits_file(repo, RIGHT)}")
    assert time.perf_counter() - started < 4
    assert code == 1
    assert "timed out after 0.5s" in str(step(document)["error"])
    assert TreeState.of(repo) == before


def apply_runtime(root: Path, edits: str, verify: str, *, preview: bool = False):  # type: ignore[no-untyped-def]
    """A plan of two steps, the source's result, and a runtime: run_apply called directly."""
    source = StepPlan(name="fix", action=Shell(run="true"))
    apply = StepPlan(name="apply", action=Apply(source="fix", verify=verify))
    plan = Plan(
        workflow=WorkflowInfo(name="t", path="t.toml"),
        steps=(source, apply),
        stages=(("fix",), ("apply",)),
        edges=(),
        output="apply",
    )
    results = {"fix": StepResult("fix", "shell", "succeeded", output=edits)}
    context = {"steps": StepsView(results)}
    runtime = Runtime(
        plan, root, dict(os.environ), Backends(lambda: BackendPool({}, root=root, env={}))
    )
    runtime.preview_edits = preview
    assert isinstance(apply.action, Apply)
    return apply, apply.action, context, runtime


def test_cancelling_the_task_while_verify_runs_leaves_no_partial_state(
    repo: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "verify-started"
    edits = json.dumps([{"path": "calc.py", "content": "x\n"}, {"path": "new.txt", "content": "n"}])
    before = TreeState.of(repo)

    async def go() -> None:
        task = asyncio.create_task(
            run_apply(*apply_runtime(repo, edits, f"touch {marker}; sleep 5"))
        )
        while not marker.exists():
            await asyncio.sleep(0.02)
        assert (repo / "new.txt").exists(), "the edits are written while verify runs"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.perf_counter()
    asyncio.run(asyncio.wait_for(go(), 10))
    assert time.perf_counter() - started < 4
    assert TreeState.of(repo) == before


def test_ctrl_c_during_verify_rolls_back_and_exits_130(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "verify-started"
    (tmp_path / "wf.toml").write_text(shell_workflow(f"touch {marker}; sleep 5"))
    edits = edits_file(repo, json.dumps([RIGHT_EDIT, {"path": "made/new.txt", "content": "n"}]))
    before = TreeState.of(repo)
    command = [sys.executable, "-c", "from llm_mux.cli import main; main()"]
    command += ["--output", "json", "run", str(tmp_path / "wf.toml"), f"edits={edits}"]
    env = dict(os.environ, HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "state"))
    process = subprocess.Popen(
        command, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 15
    while not marker.exists():
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)
    assert (repo / "made" / "new.txt").exists()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 130, err
    assert json.loads(out)["steps"]["apply"]["status"] == "cancelled"
    assert TreeState.of(repo) == before


RIGHT_EDIT = json.loads(RIGHT)


# -- preview -----------------------------------------------------------------------------
def test_preview_shows_the_diff_and_writes_nothing(repo: Path, tmp_path: Path) -> None:
    before = TreeState.of(repo)
    marker = tmp_path / "verified"
    edits = json.dumps([RIGHT_EDIT, {"path": "docs/new.md", "content": "hi\n"}])
    result = asyncio.run(run_apply(*apply_runtime(repo, edits, f"touch {marker}", preview=True)))
    assert result.status == "succeeded"
    assert result.output.startswith("--- a/calc.py\n+++ b/calc.py\n")
    assert "--- /dev/null\n+++ b/docs/new.md\n@@ -0,0 +1 @@\n+hi" in result.output
    assert result.details["files_changed"] == ["calc.py"]
    assert result.details["files_created"] == ["docs/new.md"]
    assert result.details["preview"] is True
    assert not marker.exists(), "a preview runs no verify"
    assert TreeState.of(repo) == before


def test_preview_of_bad_edits_fails(repo: Path) -> None:
    bad = json.dumps({"path": "calc.py", "old": "nope", "new": "x"})
    result = asyncio.run(run_apply(*apply_runtime(repo, bad, "true", preview=True)))
    assert result.status == "failed"
    assert str(result.error).startswith(
        'the edits cannot be applied: calc.py: "old" does not match'
    )

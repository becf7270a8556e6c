"""Best of N end to end: `llm-mux run` on real git repositories against the test server.

Three backends of one parallel role answer the same fix request: m0 with a
failing patch, m1 with a passing one, m2 with a passing one that also adds a
test (so it scores better by the metric, the number of tests run). Every test
checks that the user's uncommitted change and untracked file were in each
candidate's worktree (the verify command requires them) and are intact after,
and that no worktree or temporary directory is left behind.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.best_of_n import (
    BETTER,
    CALC,
    FAILING,
    FIXED,
    MORE,
    PASSING,
    TESTS,
    TESTS_RUN,
    VERIFY,
    apply_of,
    assert_no_workspace_left,
    assert_user_work_intact,
    by_backend,
    configure,
    leftovers,
    run,
    script,
    workflow,
)
from support.openai_server import ModelServer, Reply
from support.trees import TreeState, git, git_project


# -- choosing ---------------------------------------------------------------------------
def test_the_first_candidate_to_pass_wins_and_only_it_touches_the_tree(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    script(openai_server, FAILING, PASSING, BETTER)
    code, document = run(cli, repo, workflow(max_parallel=1))
    apply = apply_of(document)
    assert code == 0, apply["error"]
    assert apply["winner"] == "m1" and apply["select"] == "first"
    assert apply["workspace"] == "git worktree"
    statuses = {name: c["status"] for name, c in by_backend(document).items()}
    assert statuses == {"m0": "failed", "m1": "won", "m2": "skipped"}
    m0 = by_backend(document)["m0"]
    assert "AssertionError: 6 != 5" in str(m0["verify_output"]) and m0["exit_code"] == 1
    assert str(m0["error"]).startswith("verify failed:")
    assert "-    return a - b\n+    return a * b" in str(m0["diff"])
    assert apply["files_changed"] == ["calc.py"]
    assert apply["diff"] == by_backend(document)["m1"]["diff"]
    assert apply["output"].startswith("modified calc.py\nverified with")  # type: ignore[union-attr]
    assert "chosen: candidate 2 of 3, m1 (attempt 1, the first to pass)" in str(apply["output"])
    assert (repo / "calc.py").read_text() == FIXED
    assert not (repo / "test_more.py").exists()
    assert_user_work_intact(repo)
    assert_no_workspace_left(repo)


def test_the_best_metric_wins(cli, repo: Path, openai_server: ModelServer) -> None:
    script(openai_server, FAILING, PASSING, BETTER)
    code, document = run(cli, repo, workflow(metric=TESTS_RUN))
    apply = apply_of(document)
    assert code == 0, apply["error"]
    assert apply["winner"] == "m2" and apply["select"] == "best"
    candidates = by_backend(document)
    assert [candidates[m]["status"] for m in ("m0", "m1", "m2")] == ["failed", "passed", "won"]
    assert [candidates[m]["metric"] for m in ("m0", "m1", "m2")] == [None, 2, 3]
    assert "metric 3, the best of 2 passing" in str(apply["output"])
    assert apply["files_changed"] == ["calc.py"] and apply["files_created"] == ["test_more.py"]
    assert (repo / "calc.py").read_text() == FIXED
    assert (repo / "test_more.py").read_text() == MORE
    assert_user_work_intact(repo)
    assert_no_workspace_left(repo)


def test_equal_metrics_go_to_the_earlier_backend_in_role_order(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    script(openai_server, FAILING, PASSING, BETTER)
    code, document = run(cli, repo, workflow(metric="echo 7", prefer="lower"))
    assert code == 0
    assert apply_of(document)["winner"] == "m1"
    assert not (repo / "test_more.py").exists()


def test_each_failing_candidate_is_asked_again_with_its_own_error(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply(FAILING), Reply(PASSING))
    openai_server.script("m1", Reply("Looks fine to me!"), Reply("Still fine."))
    openai_server.script("m2", Reply(BETTER))
    code, document = run(cli, repo, workflow(metric=TESTS_RUN, verify_retries=1))
    apply = apply_of(document)
    assert code == 0, apply["error"]
    m0, m1, m2 = (openai_server.requests(m) for m in ("m0", "m1", "m2"))
    assert (len(m0), len(m1), len(m2)) == (2, 2, 1)
    assert "AssertionError: 6 != 5" in m0[1].prompt and FAILING in m0[1].prompt
    assert "no edits found" not in m0[1].prompt
    assert "no edits found" in m1[1].prompt and "AssertionError" not in m1[1].prompt
    candidates = by_backend(document)
    assert [a["error"] is None for a in candidates["m0"]["attempts"]] == [False, True]  # type: ignore[union-attr]
    assert candidates["m0"]["status"] == "passed" and candidates["m0"]["metric"] == 2
    assert candidates["m1"]["status"] == "failed" and len(candidates["m1"]["attempts"]) == 2  # type: ignore[arg-type]
    assert apply["winner"] == "m2"
    assert sorted(c["backend"] for c in apply["calls"]) == ["m0", "m1"]  # type: ignore[union-attr]
    assert_user_work_intact(repo)
    assert_no_workspace_left(repo)


def test_when_no_candidate_passes_the_tree_is_untouched(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    before = TreeState.of(repo)
    script(openai_server, FAILING, FAILING, "no edits here")
    code, document = run(cli, repo, workflow())
    apply = apply_of(document)
    assert code == 1
    assert str(apply["error"]).startswith("no candidate passed (the working tree was not touched)")
    assert "m2: the edits cannot be applied: no edits found" in str(apply["error"])
    assert [c["status"] for c in apply["candidates"]] == ["failed"] * 3  # type: ignore[union-attr]
    assert TreeState.of(repo) == before
    assert_no_workspace_left(repo)


def test_a_project_outside_git_is_copied(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    for name, text in {
        "calc.py": CALC,
        "test_calc.py": TESTS,
        "README.md": "# calc\n\nmy unfinished notes\n",
        "scratch.txt": "todo  \n",
    }.items():
        (root / name).write_text(text)
    configure(root, openai_server)
    script(openai_server, FAILING, PASSING, BETTER)
    code, document = run(cli, root, workflow(metric=TESTS_RUN))
    apply = apply_of(document)
    assert code == 0, apply["error"]
    assert apply["workspace"] == "copy" and apply["winner"] == "m2"
    assert (root / "calc.py").read_text() == FIXED and (root / "test_more.py").exists()
    assert_user_work_intact(root)
    assert leftovers() == []


def test_preview_shows_every_candidate_and_writes_nothing(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    before = TreeState.of(repo)
    script(openai_server, FAILING, PASSING, "no edits here")
    code, document = run(cli, repo, workflow(), "--preview")
    apply = apply_of(document)
    assert code == 0
    output = str(apply["output"])
    assert output.startswith("=== m0 ===\n--- a/calc.py\n+++ b/calc.py\n")
    assert "=== m1 ===" in output and "+    return a + b" in output
    assert "=== m2 ===\n(the edits cannot be applied: no edits found" in output
    assert [c["status"] for c in apply["candidates"]] == ["preview", "preview", "failed"]  # type: ignore[union-attr]
    assert TreeState.of(repo) == before
    assert_no_workspace_left(repo)


def test_dry_run_names_the_candidates_and_runs_nothing(cli, repo: Path) -> None:
    path = repo.parent / "wf.toml"
    path.write_text(workflow(metric=TESTS_RUN, max_parallel=2))
    result = cli("--trust", "run", "--dry-run", str(path), cwd=repo)
    assert result.code == 0, result.err
    assert "role coder → m0, m1, m2 (parallel)" in result.out
    assert (
        "candidates: each backend's answer in its own worktree; the highest metric wins, "
        "ties by role order (2 at a time)"
    ) in result.out
    assert f"metric: {TESTS_RUN}" in result.out


# -- results a person can review ----------------------------------------------------------
def test_the_ledger_and_runs_show_keep_every_candidate_and_its_diff(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    script(openai_server, FAILING, PASSING, BETTER)
    code, _ = run(cli, repo, workflow(metric=TESTS_RUN))
    assert code == 0
    shown = cli("--output", "json", "runs", "show", "last", cwd=repo)
    assert shown.code == 0, shown.err
    (apply,) = [s for s in json.loads(shown.out)["steps"] if s["name"] == "apply"]
    rows = {c["backend"]: c for c in apply["candidates"]}
    assert [rows[m]["status"] for m in ("m0", "m1", "m2")] == ["failed", "passed", "won"]
    assert [rows[m]["metric"] for m in ("m0", "m1", "m2")] == [None, 2, 3]
    assert rows["m0"]["exit_code"] == 1 and rows["m0"]["attempts"] == 1
    assert "verify failed" in rows["m0"]["error"]
    assert "AssertionError: 6 != 5" in rows["m0"]["verify_output"]
    assert "Ran 3 tests" in rows["m2"]["verify_output"]
    losing = Path(rows["m0"]["diff_file"])
    assert losing.name == "1-m0.diff" and losing.parent.name == "apply.candidates"
    assert "+    return a * b" in losing.read_text()
    assert "+++ b/test_more.py" in Path(rows["m2"]["diff_file"]).read_text()
    text = cli("runs", "show", "last", cwd=repo).out
    assert "candidates:" in text
    line = next(line for line in text.splitlines() if " m2 " in line and "won" in line)
    assert line.split() == ["apply", "3", "m2", "won", "3", "1", "apply.candidates/3-m2.diff"]
    lost = text.split("candidates that lost:\n")[1]
    assert lost.startswith("  apply candidate 1 (m0): verify failed: `grep -q unfinished")


def test_an_edit_that_keeps_the_size_right_after_a_commit_is_in_every_worktree(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    """git's stat cache cannot tell this edit from the commit: the snapshot must re-read it."""
    root = git_project(tmp_path / "racy", {"calc.py": FIXED, "test_calc.py": TESTS})
    (root / "calc.py").write_text(CALC)  # same size, same second: "racily clean"
    (root / "README.md").write_text("# calc\n\nmy unfinished notes\n")
    (root / "scratch.txt").write_text("todo  \n")
    configure(root, openai_server)
    script(openai_server, FAILING, PASSING, BETTER)
    code, document = run(cli, root, workflow(metric=TESTS_RUN))
    assert code == 0, apply_of(document)["error"]
    assert (root / "calc.py").read_text() == FIXED


def test_the_step_names_the_winner_as_its_backend_even_after_re_asks(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply(FAILING), Reply(FAILING))
    openai_server.script("m1", Reply(PASSING))
    openai_server.script("m2", Reply(BETTER))
    code, document = run(cli, repo, workflow(metric=TESTS_RUN, verify_retries=1))
    apply = apply_of(document)
    assert code == 0, apply["error"]
    assert apply["backend"] == "m2" and apply["backends"] == ["m0", "m1", "m2"]
    assert [c["backend"] for c in apply["calls"]] == ["m0"]  # type: ignore[union-attr]
    assert apply["usage"] is not None  # the re-ask's tokens


def test_a_project_below_the_top_of_its_repository(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    top = git_project(
        tmp_path / "mono",
        {"sub/calc.py": CALC, "sub/test_calc.py": TESTS, "sub/README.md": "# calc\n"},
        uncommitted={"sub/README.md": "# calc\n\nmy unfinished notes\n"},
        untracked={"sub/scratch.txt": "todo  \n", "elsewhere.txt": "x\n"},
    )
    root = top / "sub"
    configure(root, openai_server)
    script(openai_server, FAILING, PASSING, BETTER)
    code, document = run(cli, root, workflow(metric=TESTS_RUN))
    apply = apply_of(document)
    assert code == 0, apply["error"]
    assert apply["winner"] == "m2" and apply["files_created"] == ["test_more.py"]
    assert (root / "calc.py").read_text() == FIXED and (root / "test_more.py").exists()
    assert not (top / "test_more.py").exists()
    assert_user_work_intact(root)
    assert_no_workspace_left(top)


def test_a_repository_without_commits(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    for name, text in {"calc.py": CALC, "test_calc.py": TESTS}.items():
        (root / name).write_text(text)
    configure(root, openai_server)
    script(openai_server, FAILING, PASSING, BETTER)
    # One candidate at a time: m1 wins, whichever of m1 and m2 a busy machine would finish first.
    text = workflow(max_parallel=1)
    text = text.replace(json.dumps(VERIFY), json.dumps("python3 -B -m unittest -q"))
    code, document = run(cli, root, text)
    assert code == 0, apply_of(document)["error"]
    assert apply_of(document)["workspace"] == "git worktree"
    assert (root / "calc.py").read_text() == FIXED
    status = git(root, "status", "--porcelain")  # nothing committed, nothing staged
    assert status == "?? .llm-mux/\n?? calc.py\n?? test_calc.py\n"


def test_a_backend_that_did_not_answer_is_a_failed_candidate(
    cli, repo: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply.fail(500, "overloaded"))
    openai_server.script("m1", Reply(PASSING))
    openai_server.script("m2", Reply(FAILING))
    code, document = run(cli, repo, workflow())
    assert code == 0, apply_of(document)["error"]
    m0 = by_backend(document)["m0"]
    assert m0["status"] == "failed" and m0["attempts"] == []
    assert str(m0["error"]).startswith("did not answer the source step:")
    assert [c["candidate"] for c in apply_of(document)["candidates"]] == [1, 2, 3]  # type: ignore[union-attr]
    assert apply_of(document)["winner"] == "m1"

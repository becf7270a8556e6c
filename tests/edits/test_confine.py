"""Confinement: edits never reach outside the project root or into .git/, and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.trees import TreeState, git_project

from llm_mux.edits import EditError, Transaction, confine, parse_edits, plan_changes


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = git_project(tmp_path / "repo", {"ok.txt": "fine\n", "src/a.py": "A = 1\n"})
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret\n")
    (root / "out").symlink_to(tmp_path / "outside")
    (root / "secret-link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (root / "git-link").symlink_to(root / ".git")
    (root / "inner-link.py").symlink_to("src/a.py")
    return root


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../x", "'..' may not leave the project root"),
        ("src/../../x", "'..' may not leave the project root"),
        ("/etc/x", "absolute paths are not allowed"),
        ("C:\\x", "absolute paths are not allowed"),
        ("~/.bashrc", "not to a home directory"),
        (".git/config", "files under .git/ are never edited"),
        ("sub/.GIT/hooks/pre-commit", "files under .git/ are never edited"),
        ("out/evil.txt", "a symlink takes it outside the project root"),
        ("secret-link.txt", "a symlink takes it outside the project root"),
        ("git-link/config", "a symlink takes it into .git/"),
    ],
)
def test_refused_paths_are_named_and_nothing_is_written(
    repo: Path, tmp_path: Path, path: str, why: str
) -> None:
    before, outside = TreeState.of(repo), TreeState.of(tmp_path / "outside")
    git_config = (repo / ".git" / "config").read_bytes()
    # A good edit first: all-or-nothing means it must not be written either.
    edits = [{"path": "ok.txt", "content": "changed\n"}, {"path": path, "content": "pwned\n"}]
    with pytest.raises(EditError) as caught:
        Transaction().apply(plan_changes(parse_edits(json.dumps(edits)), repo))
    assert str(caught.value) == f"{path}: refused: {why}" or why in str(caught.value)
    assert str(caught.value).startswith(path)
    assert TreeState.of(repo) == before
    assert TreeState.of(tmp_path / "outside") == outside
    assert (repo / ".git" / "config").read_bytes() == git_config
    assert not (tmp_path / "x").exists() and not Path("/etc/x").exists()


def test_the_same_refusals_hold_for_diffs(repo: Path) -> None:
    before = TreeState.of(repo)
    diff = (
        "--- a/ok.txt\n+++ b/ok.txt\n@@ -1 +1 @@\n-fine\n+x\n"
        "--- /dev/null\n+++ b/../x\n@@ -0,0 +1 @@\n+x\n"
    )
    with pytest.raises(EditError, match=r"^\.\./x: refused"):
        plan_changes(parse_edits(diff), repo)
    assert TreeState.of(repo) == before


def test_an_inner_symlink_edits_its_target_and_stays_a_link(repo: Path) -> None:
    transaction = Transaction()
    edit = {"path": "inner-link.py", "old": "A = 1", "new": "A = 2"}
    transaction.apply(plan_changes(parse_edits(json.dumps(edit)), repo))
    assert (repo / "inner-link.py").is_symlink()
    assert (repo / "src" / "a.py").read_text() == "A = 2\n"


def test_names_are_cleaned(repo: Path) -> None:
    confined = confine(repo, "./src//a.py")
    assert confined.name == "src/a.py"
    assert confined.target == (repo / "src" / "a.py").resolve()


@pytest.mark.parametrize("path", ["", " ", ".", "src"])
def test_the_root_and_directories_are_not_files(repo: Path, path: str) -> None:
    with pytest.raises(EditError):
        confine(repo, path)

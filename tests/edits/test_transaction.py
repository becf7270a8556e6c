"""Transactions: atomic writes that keep permissions, and rollback byte for byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from support.trees import TreeState, git_project

from llm_mux.edits import Change, EditError, Transaction, write_atomic


def change(root: Path, name: str, after: bytes | None) -> Change:
    target = (root / name).resolve()
    before = target.read_bytes() if target.is_file() else None
    return Change(name, target, before, after)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = git_project(
        tmp_path / "repo",
        {"run.sh": "#!/bin/sh\necho hi\n", "data.txt": "committed\n", "gone.txt": "old\n"},
        uncommitted={"data.txt": "committed\nplus my uncommitted line\r\n"},
        untracked={"scratch.txt": "untracked notes \t\n"},
    )
    (root / "run.sh").chmod(0o755)
    (root / "gone.txt").chmod(0o640)
    return root


def test_rollback_restores_everything_exactly(repo: Path) -> None:
    before = TreeState.of(repo)
    transaction = Transaction()
    transaction.apply(
        [
            change(repo, "run.sh", b"#!/bin/sh\necho bye\n"),
            change(repo, "data.txt", b"rewritten"),
            change(repo, "scratch.txt", b""),
            change(repo, "gone.txt", None),
            change(repo, "new/deep/file.txt", b"created\n"),
        ]
    )
    assert (repo / "new" / "deep" / "file.txt").read_bytes() == b"created\n"
    assert not (repo / "gone.txt").exists()
    assert stat.S_IMODE((repo / "run.sh").stat().st_mode) == 0o755, "permissions are kept"
    assert transaction.rollback() == []
    assert TreeState.of(repo) == before
    assert not transaction.pending


def test_keep_forgets_the_snapshots(repo: Path) -> None:
    transaction = Transaction()
    transaction.apply([change(repo, "data.txt", b"kept\n")])
    transaction.keep()
    assert transaction.rollback() == []
    assert (repo / "data.txt").read_bytes() == b"kept\n"


def test_a_failed_write_undoes_the_earlier_ones(repo: Path) -> None:
    planned = [change(repo, "data.txt", b"first\n"), change(repo, "later.txt", b"x")]
    (repo / "later.txt").mkdir()  # appears between the check and the write: replace fails
    before = TreeState.of(repo)
    with pytest.raises(EditError) as caught:
        Transaction().apply(planned)
    assert str(caught.value) == "later.txt: could not be written: Is a directory"
    assert TreeState.of(repo) == before


def test_atomic_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("a")
    target.chmod(0o600)
    write_atomic(target, b"b", 0o600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
    assert target.read_bytes() == b"b"


def test_new_files_get_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.txt", b"x", None)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640

"""Reading /proc: a whole file however it comes in pieces, and a file kept open that
shows what is true now at every read."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_mux.processes import procfs


@settings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=0, max_value=300_000))
def test_read_gives_the_whole_file(tmp_path_factory, size: int) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("procfs") / "file"
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path.write_bytes(data)
    assert procfs.read(str(path)) == data


def test_a_proc_file_of_several_pages_is_read_whole() -> None:
    # A /proc file comes about a page of records per read (11 KB here, in three).
    expected = Path("/proc/crypto").read_bytes()
    assert procfs.read("/proc/crypto") == expected


def test_a_kept_file_shows_our_children_as_they_come_and_go() -> None:
    children = procfs.Kept("/proc/{pid}/task/{pid}/children")
    before = set(children.read().split())
    sleepers = [subprocess.Popen(["sleep", "30"]) for _ in range(3)]
    try:
        now = set(children.read().split())
        assert now - before == {str(p.pid).encode() for p in sleepers}
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
    assert set(children.read().split()) == before

"""Unified diffs as models write them, applied to real git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.trees import TreeState, git_project

from llm_mux.edits import (
    Change,
    EditError,
    Transaction,
    parse_diff,
    parse_edits,
    plan_changes,
    render_diff,
)

CALC = """\
def add(a, b):
    return a - b


def mean(values):
    return sum(values) / (len(values) - 1)
"""


def applied(root: Path, text: str) -> tuple[Change, ...]:
    changes = plan_changes(parse_edits(text), root)
    transaction = Transaction()
    transaction.apply(changes)
    transaction.keep()
    return changes


def refused(root: Path, text: str) -> str:
    before = TreeState.of(root)
    with pytest.raises(EditError) as caught:
        applied(root, text)
    assert TreeState.of(root) == before, "a refused edit must write nothing"
    return str(caught.value)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_project(
        tmp_path / "repo",
        {"calc.py": CALC, "README.md": "# calc\n\nAdds numbers.\n", "old.txt": "bye\n"},
    )


def test_git_style_diff_with_several_files_new_and_deleted(repo: Path) -> None:
    changes = applied(
        repo,
        """\
diff --git a/calc.py b/calc.py
index 1111111..2222222 100644
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
diff --git a/docs/usage.md b/docs/usage.md
new file mode 100644
--- /dev/null
+++ b/docs/usage.md
@@ -0,0 +1,2 @@
+# Usage
+add(1, 2)
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
""",
    )
    assert {(c.name, c.kind) for c in changes} == {
        ("calc.py", "modified"),
        ("docs/usage.md", "created"),
        ("old.txt", "deleted"),
    }
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert (repo / "docs" / "usage.md").read_text() == "# Usage\nadd(1, 2)\n"
    assert not (repo / "old.txt").exists()


def test_plain_paths_without_prefixes(repo: Path) -> None:
    applied(
        repo, "--- README.md\n+++ README.md\n@@ -3 +3 @@\n-Adds numbers.\n+Adds numbers well.\n"
    )
    assert (repo / "README.md").read_text() == "# calc\n\nAdds numbers well.\n"


def test_blank_context_lines_that_lost_their_space(repo: Path) -> None:
    # Editors and chat UIs strip the lone space of an empty context line.
    applied(
        repo,
        "--- a/calc.py\n+++ b/calc.py\n@@ -2,5 +2,5 @@\n     return a - b\n\n\n"
        " def mean(values):\n-    return sum(values) / (len(values) - 1)\n"
        "+    return sum(values) / len(values)\n",
    )
    assert (repo / "calc.py").read_text() == CALC.replace("(len(values) - 1)", "len(values)")


def test_drifted_line_numbers_are_matched_by_context(repo: Path) -> None:
    applied(
        repo,
        "--- a/calc.py\n+++ b/calc.py\n"
        "@@ -40,2 +40,3 @@\n def add(a, b):\n+    # fixed\n-    return a - b\n+    return a + b\n"
        "@@ -1,2 +1,2 @@\n def mean(values):\n-    return sum(values) / (len(values) - 1)\n"
        "+    return sum(values) / len(values)\n",
    )
    assert (repo / "calc.py").read_text() == (
        "def add(a, b):\n    # fixed\n    return a + b\n\n\n"
        "def mean(values):\n    return sum(values) / len(values)\n"
    )


def test_the_nearest_of_several_matches_wins(tmp_path: Path) -> None:
    root = git_project(tmp_path / "r", {"a.txt": "x\ny\nx\ny\nx\ny\n"})
    applied(root, "--- a/a.txt\n+++ b/a.txt\n@@ -5,2 +5,2 @@\n x\n-y\n+z\n")
    assert (root / "a.txt").read_text() == "x\ny\nx\ny\nx\nz\n"


def test_a_diff_in_a_fence_inside_prose(repo: Path) -> None:
    applied(
        repo,
        "The subtraction should be an addition.\n\n```diff\n--- a/calc.py\n+++ b/calc.py\n"
        "@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n```\n\n"
        "- This fixes add.\n",
    )
    assert "return a + b" in (repo / "calc.py").read_text()


def test_prose_right_after_an_unfenced_diff_is_not_part_of_it(repo: Path) -> None:
    applied(
        repo,
        "Here:\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
        "-    return a - b\n+    return a + b\n\nThat should do it.\n",
    )
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_no_newline_at_end_of_file_markers(tmp_path: Path) -> None:
    root = git_project(tmp_path / "r", {"v.txt": "1\n2"})
    applied(
        root,
        "--- a/v.txt\n+++ b/v.txt\n@@ -1,2 +1,2 @@\n 1\n-2\n\\ No newline at end of file\n+3\n"
        "\\ No newline at end of file\n",
    )
    assert (root / "v.txt").read_bytes() == b"1\n3"


def test_added_lines_take_the_files_line_endings(tmp_path: Path) -> None:
    root = git_project(tmp_path / "r", {})
    (root / "w.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    applied(root, "--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n")
    assert (root / "w.txt").read_bytes() == b"one\r\nTWO\r\nthree\r\n"


def test_a_hunk_that_matches_nowhere_names_the_file_and_the_hunk(repo: Path) -> None:
    message = refused(
        repo,
        "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# calc\n+# Calc\n"
        "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
        "+    return a + b\n@@ -5,2 +5,2 @@\n def mean(values):\n-    return sum(values) / len(v)\n"
        "+    return 0\n",
    )
    assert message.startswith("calc.py: hunk 2 of 2 (@@ -5,2 +5,2 @@) does not match the file")
    assert "'return sum(values) / len(v)'" in message


def test_lines_present_but_out_of_order(repo: Path) -> None:
    message = refused(
        repo, "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n-    return a - b\n def add(a, b):\n"
    )
    assert "not together in this order" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@@ -1 +1 @@\n-a\n+b\n", "before any '--- a/FILE' / '+++ b/FILE' header"),
        ("--- a/calc.py\n+++ b/calc.py\nno hunk here\n", "calc.py: the diff has a header"),
        ("--- /dev/null\n+++ /dev/null\n@@ -0,0 +1 @@\n+x\n", "/dev/null on both sides"),
        (
            "--- /dev/null\n+++ b/calc.py\n@@ -0,0 +1 @@\n+x\n",
            "calc.py: the diff creates it (--- /dev/null), but it exists",
        ),
        (
            "--- a/nothing.py\n+++ b/nothing.py\n@@ -1 +1 @@\n-a\n+b\n",
            "nothing.py: the diff changes it, but it does not exist",
        ),
        ("--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-hello\n", "old.txt: hunk 1 of 1"),
    ],
)
def test_malformed_diffs(repo: Path, text: str, expected: str) -> None:
    assert expected in refused(repo, text)


def test_a_diff_is_all_or_nothing(repo: Path) -> None:
    refused(
        repo,
        "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# calc\n+# Calc\n"
        "--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-nothing like this\n+x\n",
    )


def test_rename_with_changes(repo: Path) -> None:
    applied(repo, "--- a/old.txt\n+++ b/new.txt\n@@ -1 +1 @@\n-bye\n+hello\n")
    assert not (repo / "old.txt").exists()
    assert (repo / "new.txt").read_text() == "hello\n"


# -- laws ---------------------------------------------------------------------------------
_LINES = st.lists(
    st.sampled_from(["a", "b", "", "    return x", "x = 1", "-x", "+y", "@x", "  "]), max_size=12
)


@settings(max_examples=150, deadline=None)
@given(before=_LINES, after=_LINES, final_newline=st.booleans())
def test_applying_the_rendered_diff_gives_the_new_text(
    tmp_path_factory: pytest.TempPathFactory,
    before: list[str],
    after: list[str],
    final_newline: bool,
) -> None:
    """parse ∘ render is the identity on changes, whatever the lines."""
    old = "\n".join(before) + ("\n" if before and final_newline else "")
    new = "\n".join(after) + ("\n" if after else "")
    if old == new:
        return
    root = tmp_path_factory.mktemp("law")
    (root / "f.txt").write_text(old)
    change = Change("f.txt", root / "f.txt", old.encode(), new.encode())
    diff = render_diff([change])
    assert plan_changes(parse_diff(diff), root) == (
        Change("f.txt", (root / "f.txt").resolve(), old.encode(), new.encode()),
    )


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(5, 40),
    edits=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["", "changed", "two\nlines"]))),
    drift=st.integers(-30, 30),
)
def test_drifted_numbers_and_lost_spaces_change_nothing(
    tmp_path_factory: pytest.TempPathFactory, size: int, edits: list[tuple[int, str]], drift: int
) -> None:
    """With distinct lines, wrong line numbers and stripped blank context still apply exactly."""
    before = [f"line {i}" if i % 4 else "" for i in range(size)]
    after = list(before)
    for index, text in sorted(edits, reverse=True):
        if index < len(after) and before[index]:
            after[index : index + 1] = text.splitlines() if text else []
    old, new = "\n".join(before) + "\n", "\n".join(after) + "\n"
    if old == new:
        return
    root = tmp_path_factory.mktemp("drift")
    (root / "f.txt").write_text(old)
    diff = render_diff([Change("f.txt", root / "f.txt", old.encode(), new.encode())])
    sloppy = "\n".join(_drifted(line, drift).rstrip() for line in diff.splitlines()) + "\n"
    [change] = plan_changes(parse_diff(sloppy), root)
    assert change.after == new.encode()


def _drifted(line: str, drift: int) -> str:
    if not line.startswith("@@"):
        return line
    _, old, new, _ = line.split(" ", 3)
    start = int(old[1:].split(",")[0])
    rest = old[1:].split(",")[1:]
    moved = ",".join([str(max(start + drift, 1)), *rest])
    return f"@@ -{moved} {new} @@"

"""JSON edits as models write them: shapes, prose around them, and every way they go wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.trees import TreeState, git_project

from llm_mux.edits import (
    DeleteFile,
    EditError,
    Replace,
    Transaction,
    WriteFile,
    parse_edits,
    plan_changes,
)

CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_project(tmp_path / "repo", {"calc.py": CALC, "notes.txt": "keep\n"})


def applied(root: Path, text: str) -> None:
    transaction = Transaction()
    transaction.apply(plan_changes(parse_edits(text), root))
    transaction.keep()


def refused(root: Path, text: str) -> str:
    before = TreeState.of(root)
    with pytest.raises(EditError) as caught:
        applied(root, text)
    assert TreeState.of(root) == before, "a refused edit must write nothing"
    return str(caught.value)


ONE = {
    "path": "calc.py",
    "old": "def add(a, b):\n    return a - b",
    "new": "def add(a, b):\n    return a + b",
}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(ONE),
        json.dumps([ONE]),
        json.dumps({"edits": [ONE]}),
        json.dumps({"file": ONE["path"], "old": ONE["old"], "new": ONE["new"]}),
        f"Sure! Here is the fix:\n\n```json\n{json.dumps(ONE, indent=2)}\n```\n\nIt adds.",
        f"Here you go: {json.dumps([ONE])} — let me know.",
        f"```\n{json.dumps({'edits': [ONE], 'explanation': 'wrong operator'})}\n```",
    ],
    ids=["object", "array", "edits", "file-key", "fenced-in-prose", "embedded", "plain-fence"],
)
def test_every_json_shape_gives_the_same_edit(text: str) -> None:
    assert parse_edits(text) == [Replace("calc.py", ONE["old"], ONE["new"])]


def test_content_delete_and_replace_in_one_answer(repo: Path) -> None:
    applied(
        repo,
        json.dumps(
            [
                {"path": "pkg/new.py", "content": "X = 1\n"},
                {"path": "notes.txt", "delete": True},
                {"path": "calc.py", "old": "def sub(a, b):\n    return a - b", "new": ""},
            ]
        ),
    )
    assert (repo / "pkg" / "new.py").read_text() == "X = 1\n"
    assert not (repo / "notes.txt").exists()
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n\n\n\n"


def test_two_edits_to_one_file_compose_in_order(repo: Path) -> None:
    applied(
        repo,
        json.dumps(
            [
                {
                    "path": "calc.py",
                    "old": "def add(a, b):\n    return a - b",
                    "new": "def add(a, b):\n    return a + b",
                },
                {"path": "./calc.py", "old": "return a + b", "new": "return b + a"},
            ]
        ),
    )
    assert (repo / "calc.py").read_text().startswith("def add(a, b):\n    return b + a\n")


def test_old_is_trailing_whitespace_insensitive_both_ways(tmp_path: Path) -> None:
    root = git_project(tmp_path / "r", {"s.py": "x = 1   \ny = 2\r\nz = 3\n"})
    applied(
        root, json.dumps({"path": "s.py", "old": "x = 1\ny = 2  \n", "new": "x = 10\ny = 20\n"})
    )
    assert (root / "s.py").read_bytes() == b"x = 10\ny = 20\nz = 3\n"


def test_a_replaced_line_takes_its_trailing_whitespace_with_it(tmp_path: Path) -> None:
    root = git_project(tmp_path / "r", {"s.py": "a = 1  \nb = 2\n"})
    applied(root, json.dumps({"path": "s.py", "old": "a = 1", "new": "a = 100"}))
    assert (root / "s.py").read_text() == "a = 100\nb = 2\n"


def test_old_ending_in_a_newline_matches_a_last_line_without_one(tmp_path: Path) -> None:
    root = git_project(tmp_path / "r", {"s.py": "a = 1\nb = 2"})
    applied(root, json.dumps({"path": "s.py", "old": "b = 2\n", "new": "b = 3\n"}))
    assert (root / "s.py").read_text() == "a = 1\nb = 3\n"


def test_new_text_in_a_crlf_file_gets_crlf(tmp_path: Path) -> None:
    root = git_project(tmp_path / "r", {})
    (root / "w.txt").write_bytes(b"one\r\ntwo\r\n")
    applied(root, json.dumps({"path": "w.txt", "old": "two\n", "new": "2\n2.5\n"}))
    assert (root / "w.txt").read_bytes() == b"one\r\n2\r\n2.5\r\n"


def test_old_matching_twice_is_ambiguous(repo: Path) -> None:
    message = refused(repo, json.dumps({"path": "calc.py", "old": "return a - b", "new": "x"}))
    assert message == (
        'calc.py: "old" matches 2 places (lines 2, 6): '
        "include more surrounding lines so that it matches exactly one"
    )


def test_old_matching_nowhere(repo: Path) -> None:
    message = refused(repo, json.dumps({"path": "calc.py", "old": "return a * b", "new": "x"}))
    assert message.startswith(
        "calc.py: \"old\" does not match the file: 'return a * b' is not in it"
    )


def test_one_bad_edit_means_no_edit_is_written(repo: Path) -> None:
    refused(
        repo,
        json.dumps(
            [
                {"path": "notes.txt", "content": "changed\n"},
                {"path": "fresh.txt", "content": "new\n"},
                {"path": "calc.py", "old": "not there", "new": "x"},
            ]
        ),
    )


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ({"path": "calc.py", "old": "a - b"}, 'edit 1 (calc.py): has "old" but no "new"'),
        ({"path": "calc.py", "mode": "fix"}, "edit 1 (calc.py): says neither what to change"),
        ({"old": "a", "new": "b"}, 'edit 1 names no file: give it a "path"'),
        (
            {"path": "a", "file": "b", "content": ""},
            "edit 1 names two files: \"path\" 'a', \"file\" 'b'",
        ),
        ({"path": 3, "content": ""}, 'edit 1: "path" must be a non-empty string'),
        (
            {"path": "calc.py", "content": ["x"]},
            'edit 1 (calc.py): "content" must be a string, not a list',
        ),
        ({"edits": {"path": "calc.py"}}, '"edits" must be a list of edits, not an object'),
        ([{"path": "x", "content": ""}, "y"], 'edit 2 is the text "y", not an object with a path'),
        ({"path": "calc.py", "old": "", "new": "x"}, 'calc.py: "old" is empty'),
        ({"path": "gone.py", "old": "x", "new": "y"}, 'gone.py: does not exist, so its "old" text'),
        ({"path": "gone.py", "delete": True}, "gone.py: cannot be deleted: it does not exist"),
        (
            {"path": "calc.py/x", "content": ""},
            "calc.py/x: cannot be created: calc.py is not a directory",
        ),
    ],
)
def test_malformed_edits_say_which_and_why(repo: Path, edits: object, expected: str) -> None:
    assert expected in refused(repo, json.dumps(edits))


def test_a_broken_json_fence_is_reported_as_such(repo: Path) -> None:
    message = refused(repo, 'Fix:\n```json\n{"path": "calc.py", "old": "a" "new": "b"}\n```\n')
    assert message.startswith("the ```json block is not valid JSON: Expecting ',' delimiter")


@pytest.mark.parametrize(
    "text", ["", "   \n", "I could not find a bug.", "It returns [] when empty."]
)
def test_no_edits_at_all(repo: Path, text: str) -> None:
    message = refused(repo, text)
    assert "expected a unified diff" in message and '{"path", "old", "new"}' in message


@pytest.mark.parametrize("text", ["[]", '{"edits": []}', "```json\n[]\n```"])
def test_an_explicit_empty_list_changes_nothing(repo: Path, text: str) -> None:
    assert plan_changes(parse_edits(text), repo) == ()


def test_writing_identical_content_is_no_change(repo: Path) -> None:
    assert parse_edits(json.dumps({"path": "notes.txt", "content": "keep\n"})) == [
        WriteFile("notes.txt", "keep\n")
    ]
    assert (
        plan_changes(parse_edits(json.dumps({"path": "notes.txt", "content": "keep\n"})), repo)
        == ()
    )
    assert parse_edits('{"path": "notes.txt", "delete": true}') == [DeleteFile("notes.txt")]


def test_binary_files_are_not_edited(tmp_path: Path) -> None:
    root = git_project(tmp_path / "r", {})
    (root / "blob.bin").write_bytes(b"\xff\xfe\x00")
    message = refused(root, json.dumps({"path": "blob.bin", "old": "x", "new": "y"}))
    assert message == "blob.bin: is not UTF-8 text; binary files are not edited"

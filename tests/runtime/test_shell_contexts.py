"""`llm-mux run`: a value never becomes code, whatever shell position it lands in.

One test per case of issue 12 (here-documents, arithmetic, comments, quotes, joined
lists): a first step prints a hostile value, a second puts it into that position, and the
run leaves no canary file and the value arrives whole — or the step fails saying why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PAYLOAD = "$(touch PWNED) `touch PWNED` ' \" \\ ; touch PWNED\ntouch PWNED\nEOF\n\tEOF\nend"


def run(cli, tmp_path: Path, command: str, value: str = PAYLOAD) -> dict[str, object]:  # type: ignore[no-untyped-def]
    (tmp_path / "value.txt").write_text(value)
    (tmp_path / "wf.toml").write_text(
        "[[steps]]\nname = 'answer'\ntype = 'shell'\nrun = 'cat value.txt'\n"
        f"[[steps]]\nname = 'use'\ntype = 'shell'\nrun = {json.dumps(command)}\n"
    )
    result = cli("--output", "json", "run", "wf.toml", cwd=tmp_path)
    assert not (tmp_path / "PWNED").exists(), "the value was executed"
    document: dict[str, object] = json.loads(result.out)
    return document


def use(document: dict[str, object]) -> dict[str, object]:
    return document["steps"]["use"]  # type: ignore[index,no-any-return]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("cat > out <<EOF\n{{ steps.answer.output }}\nEOF", PAYLOAD + "\n"),
        ("cat > out <<-EOF\n\t{{ steps.answer.output }}\n\tEOF", PAYLOAD + "\n"),
        ("cat > out <<EOF\n> {{ steps.answer.output }} <\nEOF", f"> {PAYLOAD} <\n"),
    ],
)
def test_unquoted_here_documents_keep_the_value_as_text(
    cli, tmp_path: Path, command: str, expected: str
) -> None:
    document = run(cli, tmp_path, command)
    assert document["success"] is True, use(document)
    assert (tmp_path / "out").read_text() == expected


def test_a_quoted_here_document_refuses_a_value_holding_its_end_line(cli, tmp_path: Path) -> None:
    document = run(cli, tmp_path, "cat > out <<'EOF'\n{{ steps.answer.output }}\nEOF\necho ran")
    assert document["success"] is False
    assert "would end the here-document early" in str(use(document)["error"])


def test_arithmetic_takes_integers_only(cli, tmp_path: Path) -> None:
    document = run(cli, tmp_path, "echo $(( {{ steps.answer.output }} + 1 ))", "a[$(touch PWNED)]")
    assert document["success"] is False
    assert "must be an integer" in str(use(document)["error"])
    document = run(cli, tmp_path, "echo $(( {{ steps.answer.output }} + 1 ))", "41\n")
    assert use(document)["output"] == "42"


def test_a_line_break_does_not_end_a_comment(cli, tmp_path: Path) -> None:
    document = run(cli, tmp_path, "printf ok # note {{ steps.answer.output }}")
    assert use(document)["output"] == "ok"


@pytest.mark.parametrize(
    "command",
    [
        "printf '%s' '{{ steps.answer.output }}' > out",
        'printf "%s" "{{ steps.answer.output }}" > out',
        "printf '%s' \"$(printf '%s' '{{ steps.answer.output }}')\" > out",
    ],
)
def test_values_inside_quotes_arrive_whole(cli, tmp_path: Path, command: str) -> None:
    document = run(cli, tmp_path, command)
    assert document["success"] is True, use(document)
    assert (tmp_path / "out").read_text() == PAYLOAD


def test_a_list_joined_with_line_breaks_is_one_value(cli, tmp_path: Path) -> None:
    command = (
        "printf '%s' {{ steps.answer.output | lines | map('shell_escape') | join('\\n') }} > out"
    )
    document = run(cli, tmp_path, command, "touch PWNED\nrm\n")
    assert document["success"] is True, use(document)
    assert (tmp_path / "out").read_text() == "'touch PWNED'\nrm"  # text, not two commands


def test_a_list_joined_with_spaces_stays_one_word_per_item(cli, tmp_path: Path) -> None:
    command = "printf '<%s>' {{ steps.answer.output | lines | map('shell_escape') | join(' ') }}"
    document = run(cli, tmp_path, command, "a b\n$(touch PWNED)\n")
    assert use(document)["output"] == "<a b><$(touch PWNED)>"

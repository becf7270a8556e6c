"""Values × shell positions, run by the real `sh` (dash) and `bash`.

Law: wherever a shell command puts a `{{ }}` value, the value never executes (a canary
file never appears) and, where the position shows it, arrives byte for byte — or the
rendering refuses it with a clear message, only where no shell text could hold it
(a here-document end line inside a quoted here-document, a non-integer in arithmetic).

CI runs a bounded number of examples; a larger run:
    LLM_MUX_SHELL_EXAMPLES=2000 pytest tests/property/test_shell_positions.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from llm_mux.running.rendering import RenderError, render

EXAMPLES = int(os.environ.get("LLM_MUX_SHELL_EXAMPLES", "25"))
CANARY = "PWNED"

PAYLOADS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"; touch {CANARY}",
    f"\ntouch {CANARY}\n",
    f"'$(touch {CANARY})'",
    f'"$(touch {CANARY})"',
    f"' ; touch {CANARY} ; '",
    f'" ; touch {CANARY} ; "',
    f"$((a[$(touch {CANARY})]))",
    f"a[$(touch {CANARY})]",
    f"${{x:-$(touch {CANARY})}}",
    "\nEOF\n",
    "EOF",
    "\tEOF",
    "${-%%*}",
    "\\",
    "\\\n",
    "'",
    '"',
    "`",
    "$",
    "$'",
    "\t",
    "\n",
    " ",
    "#",
    "*",
    "~",
    "!",
    "&|;<>(){}",
    "\r",
    "é",
    "🙂",
    "-n",
    "%s",
]
_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=6)
values = st.lists(st.one_of(st.sampled_from(PAYLOADS), _text), max_size=8).map("".join)


def _exact(value: str) -> str:
    return value


def _line(value: str) -> str:
    return value + "\n"


def _ends(line: str) -> bool:
    """The line would end a body (or dash would garble it: EOF then a non-ASCII byte)."""
    return line == "EOF" or (line.startswith("EOF") and not line[3:4].isascii())


def _has_line(value: str) -> bool:
    return any(_ends(each) for each in value.split("\n"))


def _inner_eof(value: str) -> bool:
    """A line of the value between text on both sides would end the body."""
    lines = value.split("\n")
    last = lines[-1] if len(lines) > 1 else ""  # text follows it on its line
    return any(_ends(line) for line in lines[1:-1]) or (_ends(last) and last != "EOF")


@dataclass(frozen=True)
class Position:
    name: str
    template: str
    expected: Callable[[str], str] | None  # None: only "nothing executes"
    refuses: Callable[[str], bool] = lambda value: False
    shells: tuple[str, ...] = ("sh", "bash")


_INTEGER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)")

POSITIONS = [
    Position("word", "printf '%s' {{ v }}", _exact),
    Position("single quotes", "printf '%s' '{{ v }}'", _exact),
    Position("double quotes", "printf '%s' \"{{ v }}\"", _exact),
    Position("inside a quoted word", "printf '%s' \"<{{ v }}>\"'[{{ v }}]'", None),
    Position("assignment", "x={{ v }}; printf '%s' \"$x\"", _exact),
    Position(
        "command substitution", "x=$(printf '%s' {{ v }}; echo .); printf '%s' \"${x%.}\"", _exact
    ),
    Position(
        "quoted command substitution",
        'x="$(printf \'%s\' "{{ v }}"; echo .)"; printf \'%s\' "${x%.}"',
        _exact,
    ),
    Position("here-document", "cat <<EOF\n{{ v }}\nEOF", _line),
    Position("here-document, mid-line", "cat <<EOF\n[{{ v }}]\nEOF", lambda v: f"[{v}]\n"),
    Position("here-document, two values", "cat <<EOF\n{{ v }}{{ v }}\nEOF", lambda v: v + v + "\n"),
    Position("here-document <<-", "cat <<-EOF\n\t{{ v }}\n\tEOF", _line),
    Position(
        "here-document, substitution",
        "cat <<EOF\n$(printf '%s.' {{ v }})\nEOF",
        lambda v: v + ".\n",
        refuses=_inner_eof,  # the shell reads the body line by line
    ),
    Position(
        "quoted here-document",
        "cat <<'EOF'\n{{ v }}\nEOF",
        _line,
        refuses=_has_line,
    ),
    Position(
        "quoted here-document <<-",
        "cat <<-'EOF'\n{{ v }}\n\tEOF",
        None,
        refuses=lambda v: any(_ends(line.lstrip("\t")) for line in v.split("\n")),
    ),
    Position(
        "here-document, quoted substitution",
        "cat <<EOF\n$(printf '%s.' '{{ v }}' \"{{ v }}\")\nEOF",
        lambda v: f"{v}.{v}.\n",
        refuses=_inner_eof,
    ),
    Position("comment", "printf ok # note {{ v }}", lambda v: "ok"),
    Position("case", "case {{ v }} in *) printf '%s' {{ v }};; esac", _exact),
    Position(
        "arithmetic",
        "printf '%s' $(( {{ v }} + 0 ))",
        None,
        refuses=lambda v: _INTEGER.fullmatch(v.strip()) is None,
    ),
    Position("here-string", "cat <<< {{ v }}", _line, shells=("bash",)),
    Position(
        "arithmetic command",
        "(( {{ v }} )); printf ok",
        None,
        refuses=lambda v: _INTEGER.fullmatch(v.strip()) is None,
        shells=("bash",),
    ),
]


def _run(shell: str, value: str, where: Path) -> None:
    script, expected = [], {}
    for n, position in enumerate(POSITIONS):
        if shell not in position.shells:
            continue
        try:
            command = render(position.template, {"v": value}, key="run", shell=True)
        except RenderError as refused:
            assert position.refuses(value), f"{position.name}: {refused}"
            continue
        assert not position.refuses(value), f"{position.name} should have refused"
        script.append(f"{{ {command}\n}} > out{n} 2>&1")
        if position.expected is not None:
            expected[n] = (position.name, position.expected(value))
    subprocess.run([shell, "-c", "\n".join(script)], cwd=where, timeout=30, check=False)
    assert not (where / CANARY).exists(), f"a value executed under {shell}"
    for n, (name, text) in expected.items():
        arrived = (where / f"out{n}").read_bytes()
        assert arrived == text.encode("utf-8", "surrogateescape"), (shell, name)


@pytest.mark.parametrize("shell", ["sh", "bash"])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(value=values)
@example(value=f"$(touch {CANARY})\nEOF\n`touch {CANARY}`")
@example(value="a\n\tEOF\n\tb")
@example(value='it\'s "quoted" \\ $HOME `x`')
@example(value="42")
@example(value="EOF\x80")
@example(value="a\nEOFé\nb")
@example(value="a\nEOF")
@example(value="a\nEOFé")
def test_no_position_executes_a_value_and_every_value_arrives_whole(shell: str, value: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    with tempfile.TemporaryDirectory() as where:
        _run(shell, value, Path(where))

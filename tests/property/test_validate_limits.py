"""Recursion and size fuzz of `validate`: nesting, length and width never end in a crash.

`validate` is the pre-commit hook, run on repositories nobody vetted. Whatever a file
nests (TOML arrays and inline tables, brackets in `{{ }}`, filter chains, `not` chains,
`{% if %}` blocks), however long its strings or however many steps it has, the answer is
diagnostics — with a position — never an exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_mux.compiler.diagnostics import Sink
from llm_mux.compiler.pipeline import check_workflow
from llm_mux.compiler.source import SourceFile

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _step(run: str, extra: str = "") -> str:
    return f'[[steps]]\nname = "a"\ntype = "shell"\n{extra}run = """{run}"""\n'


NESTINGS = {
    "toml arrays": lambda n: f"x = {'[' * n}{']' * n}\n" + _step("echo"),
    "toml inline tables": lambda n: f"x = {'{a=' * n}1{'}' * n}\n" + _step("echo"),
    "mixed toml": lambda n: f"x = {'[{a=' * n}1{'}]' * n}\n" + _step("echo"),
    "template parentheses": lambda n: _step(f"echo {{{{ {'(' * n}1{')' * n} }}}}"),
    "template lists": lambda n: _step(f"echo {{{{ {'[' * n}1{']' * n} }}}}"),
    "filter chain": lambda n: _step("echo {{ 1" + " | string" * n + " }}"),
    "attribute chain": lambda n: _step("echo {{ args" + ".a" * n + " | default(1) }}"),
    "concatenation": lambda n: _step("echo {{ 1" + " ~ 1" * n + " }}"),
    "not chain in a template": lambda n: _step("echo {{ " + "not " * n + "true }}"),
    "not chain in an expression": lambda n: _step("echo", f'if = "{"not " * n}true"\n'),
    "for_each brackets": lambda n: _step("echo", f'for_each = "{"[" * n}{"]" * n}"\n'),
    "if blocks": lambda n: _step("{% if true %}" * n + "x" + "{% endif %}" * n),
}


def validate(text: str) -> list[str]:
    sink = Sink()
    check_workflow(SourceFile("fuzz.toml", text), sink, config=None, env={})
    for diagnostic in sink:
        assert diagnostic.location.line >= 1 and diagnostic.location.column >= 1
    return [d.code for d in sink]


@FUZZ
@given(kind=st.sampled_from(sorted(NESTINGS)), depth=st.integers(min_value=0, max_value=6000))
def test_any_nesting_is_a_diagnostic_not_a_crash(kind: str, depth: int) -> None:
    validate(NESTINGS[kind](depth))


@FUZZ
@given(length=st.integers(min_value=0, max_value=2_000_000), char=st.sampled_from("a{[(|\\\"'"))
def test_long_values_are_checked(length: int, char: str) -> None:
    text = _step("echo", f"description = {'x' * length!r}\n".replace("'", '"'))
    validate(text.replace("echo", "echo " + char * min(length, 5000)))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(width=st.integers(min_value=0, max_value=3000))
def test_wide_files_are_checked(width: int) -> None:
    steps = "".join(
        f'[[steps]]\nname = "s{i}"\ntype = "shell"\nrun = "echo {{{{ args.a{i} | default(1) }}}}"\n'
        for i in range(width)
    )
    keys = "".join(f"k{i} = {i}\n" for i in range(width))
    validate(f"[x]\n{keys}\n{steps}")


# The sizes the issue names, through the real commands.
CASES = {
    "80 parentheses": NESTINGS["template parentheses"](80),
    "500 arrays": NESTINGS["toml arrays"](500),
    "500 tables": NESTINGS["toml inline tables"](500),
    "5000 filters": NESTINGS["filter chain"](5000),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_validate_plan_and_run_answer_with_a_positioned_error(
    cli, tmp_path: Path, name: str, command: str
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "wf.toml").write_text(CASES[name])
    result = cli(command, "wf.toml", cwd=tmp_path)
    assert result.code != 0
    assert "internal error" not in result.err + result.out
    assert "wf.toml:" in result.err + result.out
    assert "nest" in result.err + result.out or "more than" in result.err + result.out

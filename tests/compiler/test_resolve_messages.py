"""Resolve and scope passes: the sentence, place and hint of each name and syntax error."""

from __future__ import annotations

import pytest

from llm_mux.compiler.diagnostics import Diagnostic, Sink
from llm_mux.compiler.pipeline import check_workflow
from llm_mux.compiler.source import SourceFile


def diagnose(steps: str, head: str = "") -> list[Diagnostic]:
    sink = Sink()
    check_workflow(SourceFile("w.toml", head + steps), sink, config=None, env={})
    return sink.sorted()


def one(steps: str, head: str = "") -> Diagnostic:
    found = diagnose(steps, head)
    assert len(found) == 1, [d.render() for d in found]
    return found[0]


def shell(name: str, run: str, extra: str = "") -> str:
    return f'[[steps]]\nname = "{name}"\ntype = "shell"\nrun = """{run}"""\n{extra}'


def at(diagnostic: Diagnostic) -> tuple[int, int]:
    return diagnostic.location.line, diagnostic.location.column


# -- E301 template syntax -----------------------------------------------------------------
def test_an_unknown_closing_tag_points_at_the_tag_and_names_the_right_one() -> None:
    found = one(shell("a", "\nfor f in x:\n  {% for f in y %}{{ f }}\n  {% endfo %}\n"))
    assert found.message == "template syntax error: unknown tag 'endfo'"
    assert (found.hint, at(found)) == ("did you mean {% endfor %}?", (7, 3))


def test_a_block_left_open() -> None:
    found = one(shell("a", "\necho\n {% if x %}\nyes\n"))
    assert found.message == "template syntax error: the template ends inside a {% if %} block"
    assert (found.hint, at(found)) == ("close it with {% endif %}", (6, 2))


def test_other_jinja_errors_are_one_lower_case_sentence() -> None:
    found = one(shell("a", "echo {{ x y }}"))
    assert found.message == (
        "template syntax error: expected token 'end of print statement', got 'y'"
    )
    assert found.hint is None


# -- E305, E306, E307 --------------------------------------------------------------------
def test_an_unknown_filter_names_the_step() -> None:
    found = one(shell("a", "echo {{ 'x' | uper }}"))
    assert (found.code, found.message) == (
        "E305",
        "step 'a' uses the filter 'uper', which does not exist",
    )
    assert found.hint == "did you mean 'upper'?"


def test_an_unknown_test_names_the_step() -> None:
    found = one(shell("a", "echo {{ 1 if env.X is defind else 2 }}", 'if = "true"\n'))
    assert found.message == "step 'a' uses the test 'defind', which does not exist"


def test_a_bare_arg_name_suggests_args_dot() -> None:
    found = one(shell("a", "echo {{ base }}"), head="[args.base]\ndefault = 'main'\n")
    assert (found.code, found.hint) == ("E306", "did you mean args.base?")


def test_a_bare_step_name_suggests_steps_dot() -> None:
    found = one(shell("c", "echo {{ build }}") + shell("build", "make"))
    assert found.hint == "did you mean steps.build?"


def test_a_name_with_nothing_close_lists_what_templates_can_use() -> None:
    found = one(shell("a", "echo {{ zzz }}"))
    assert (
        found.hint == "templates can use: args, ecosystem, env, project, run, steps, team, workflow"
    )


def test_a_result_field_of_a_hyphenated_step_is_spelt_as_written() -> None:
    found = one(shell("rust-only", "true") + shell("b", "echo {{ steps['rust-only'].outptu }}"))
    assert found.message == (
        "step 'b' uses steps['rust-only'].outptu, but step results have no field 'outptu'"
    )


def test_an_unknown_hyphenated_step() -> None:
    found = one(shell("b", "echo {{ steps['rust-onyl'].output }}") + shell("rust-only", "true"))
    assert found.message == "step 'b' uses steps['rust-onyl'], but no step is named 'rust-onyl'"
    assert found.hint == "did you mean steps['rust-only']?"


# -- E204, E603 ---------------------------------------------------------------------------
def test_a_step_that_uses_its_own_output() -> None:
    found = one(shell("a", "echo\n{{ steps.a.output }}"))
    assert (found.code, found.message, at(found)) == ("E204", "step 'a' depends on itself", (5, 4))
    assert found.hint == "a step cannot use its own result; remove this reference"


@pytest.mark.parametrize(
    ("for_each", "shown"), [('"42"', "42"), ('"none"', "none"), ("\"'abc'\"", '"abc"')]
)
def test_for_each_over_a_literal_that_is_not_a_list(for_each: str, shown: str) -> None:
    found = one(shell("a", "echo {{ item }}", f"for_each = {for_each}\n"))
    assert (found.code, found.message) == (
        "E603",
        f"for_each in step 'a' is {shown}, which is not a list",
    )


def test_for_each_over_a_json_array_in_a_string_is_fine() -> None:
    assert diagnose(shell("a", "echo {{ item }}", "for_each = \"'[1, 2]'\"\n")) == []


# -- E201 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "example"),
    [("run tests", "run-tests"), ("2fast", "_2fast"), ("a.b", "a-b"), ("-x", "x")],
)
def test_a_bad_step_name_gets_a_valid_spelling(name: str, example: str) -> None:
    found = one(shell(name, "true"))
    assert found.code == "E201"
    assert found.hint == (
        f"start with a letter or _, then letters, digits, _ or -: '{example}', for example"
    )


# -- E605 ---------------------------------------------------------------------------------
def test_a_value_inside_quotes_is_made_safe_there_so_nothing_is_said() -> None:
    assert diagnose(shell("a", "echo \"{{ env.HOME }}\" '{{ env.HOME }}'")) == []
    assert diagnose(shell("a", "cat <<EOF\n{{ env.HOME }}\nEOF\n# {{ env.HOME }}")) == []


@pytest.mark.parametrize(
    ("run", "fix"),
    [
        ("echo `cat {{ env.HOME }}`", "use $( … ) instead of backticks"),
        ('echo "${X:-{{ env.HOME }}}"', "set a variable first"),
        ("echo $'{{ env.HOME }}'", "drop the $'…' quotes"),
        ("cat <<{{ env.HOME }}", "write the delimiter out"),
        ("echo ${{ env.HOME }}", "drop the $"),
        ("echo \\\\{{ env.HOME }}", "drop the backslash"),
    ],
)
def test_a_position_no_value_can_be_safe_in_is_an_error_naming_the_fix(run: str, fix: str) -> None:
    found = one(shell("a", run))
    column = len('run = """') + run.index("{{") + 1
    assert (found.code, found.severity, at(found)) == ("E605", "error", (4, column))
    assert found.message.startswith("step 'a' puts a template value ")
    assert found.hint is not None and found.hint.startswith(fix)


def test_raw_is_the_authors_own_code() -> None:
    assert diagnose(shell("a", "echo `{{ env.HOME | raw }}`")) == []

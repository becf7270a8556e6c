"""Decode pass: unknown keys, wrong types and missing keys, each where the user wrote it."""

from __future__ import annotations

import tomllib

import msgspec
import pytest

from llm_mux.compiler.diagnostics import Diagnostic, Sink
from llm_mux.compiler.passes.decode import check_tree, convert, describe_type
from llm_mux.compiler.schema import Backend, Config, Duration, QueryStep, Scalar, Workflow
from llm_mux.compiler.source import KeyPath, SourceFile

STEP = '[[steps]]\nname = "s"\ntype = "shell"\nrun = "make"\n'


def decode(text: str, cls: type[msgspec.Struct] = Workflow) -> list[Diagnostic]:
    source = SourceFile("w.toml", text)
    sink = Sink()

    def locate(path: KeyPath, key: bool) -> object:
        return source.key(path) if key else source.value(path)

    check_tree(tomllib.loads(text), cls, locate, sink)  # type: ignore[arg-type]
    return sink.items


def one(text: str, cls: type[msgspec.Struct] = Workflow) -> Diagnostic:
    found = decode(text, cls)
    assert len(found) == 1, [d.render() for d in found]
    return found[0]


def where(diagnostic: Diagnostic) -> tuple[int, int]:
    return diagnostic.location.line, diagnostic.location.column


def test_a_valid_workflow_has_no_diagnostics_and_converts() -> None:
    assert decode(STEP) == []
    sink = Sink()
    workflow = convert(tomllib.loads(STEP), Workflow, lambda p, k: None, sink)  # type: ignore[arg-type, return-value]
    assert workflow is not None and workflow.steps[0].name == "s"


# -- unknown keys ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("timout", "timeout"), ("depends-on", "depends_on"), ("Run", "run"), ("retry", "retries")],
)
def test_unknown_step_key_suggests_the_close_one(key: str, suggestion: str) -> None:
    found = one(STEP + f"{key} = 1\n")
    assert found.code == "E101"
    assert found.message == f"unknown key '{key}' in step 's'"
    assert found.hint == f"did you mean '{suggestion}'?"
    assert where(found) == (5, 1)


def test_unknown_key_with_nothing_close_has_no_hint() -> None:
    found = one(STEP + "colour = 'blue'\n")
    assert found.code == "E101" and found.hint is None


def test_unknown_top_level_key_points_at_the_key() -> None:
    found = one('descripton = "x"\n' + STEP)
    assert (found.code, where(found), found.hint) == ("E101", (1, 1), "did you mean 'description'?")
    assert found.message == "unknown key 'descripton' in the top level"


@pytest.mark.parametrize(
    ("key", "kind", "owners"),
    [
        ("prompt", "shell", "query, store and input"),
        ("verify", "shell", "apply"),
        ("role", "shell", "query"),
    ],
)
def test_a_key_of_another_step_type_says_whose_it_is(key: str, kind: str, owners: str) -> None:
    found = one(STEP + f'{key} = "x"\n')
    assert found.code == "E101"
    assert found.hint == f"'{key}' belongs to {owners} steps, and this is a {kind} step"


def test_run_in_a_query_step_belongs_to_shell_steps() -> None:
    text = '[[steps]]\nname = "q"\ntype = "query"\nprompt = "hi"\nrun = "make"\n'
    assert one(text).hint == "'run' belongs to shell steps, and this is a query step"


def test_keys_of_each_step_type_are_accepted() -> None:
    apply = '[[steps]]\nname = "a"\ntype = "apply"\nsource = "steps.q"\nverify = true\n'
    store = '[[steps]]\nname = "m"\ntype = "store"\ninput = "{}"\necosystem = "e"\n'
    asked = '[[steps]]\nname = "i"\ntype = "input"\nprompt = "ok?"\noptions = ["y", "n"]\n'
    assert decode(apply + store + asked) == []


def test_unknown_key_in_a_nested_table() -> None:
    text = '[args.base]\ndefualt = "main"\n' + STEP
    found = one(text)
    assert found.message == "unknown key 'defualt' in [args.base]"
    assert (where(found), found.hint) == ((2, 1), "did you mean 'default'?")


# -- wrong types -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("retries = true", "'retries' in step 's' must be an integer, not the boolean true"),
        ("retries = 1.5", "'retries' in step 's' must be an integer, not the number 1.5"),
        ("concurrency = '4'", "'concurrency' in step 's' must be an integer, not the string '4'"),
        (
            "continue_on_error = 1",
            "'continue_on_error' in step 's' must be true or false, not the number 1",
        ),
        (
            "continue_on_error = 'yes'",
            "'continue_on_error' in step 's' must be true or false, not the string 'yes'",
        ),
        (
            "timeout = true",
            "'timeout' in step 's' must be a number or a string, not the boolean true",
        ),
        ("timeout = [5]", "'timeout' in step 's' must be a number or a string, not a list"),
        (
            "depends_on = 'a'",
            "'depends_on' in step 's' must be a list of strings, not the string 'a'",
        ),
        (
            "for_each = 3",
            "'for_each' in step 's' must be a string or a list of strings, numbers or booleans, "
            "not the number 3",
        ),
    ],
)
def test_wrong_types_name_the_key_the_step_and_both_types(line: str, message: str) -> None:
    found = one(STEP + line + "\n")
    assert (found.code, found.message) == ("E102", message)
    assert where(found) == (5, line.index("=") + 3)  # at the value


def test_a_wrong_item_in_a_list_points_at_the_item() -> None:
    found = one(STEP + 'depends_on = ["a", 2]\n')
    assert found.message == "'depends_on' in step 's' must be a string, not the number 2"
    assert where(found) == (5, 20)


def test_booleans_are_not_integers_and_integers_are_numbers() -> None:
    assert decode("[backends.x]\ncommand = 'x'\ntemperature = 1\n", Config) == []
    found = one("[backends.x]\ncommand = 'x'\nmax_retries = false\n", Config)
    assert (
        found.message == "'max_retries' in [backends.x] must be an integer, not the boolean false"
    )
    found = one("[backends.x]\ncommand = 'x'\nenabled = 0\n", Config)
    assert found.message == "'enabled' in [backends.x] must be true or false, not the number 0"


def test_a_table_where_a_value_belongs() -> None:
    found = one(STEP.replace('"make"', "{ x = 1 }"))
    assert found.message == "'run' in step 's' must be a string, not a table"


@pytest.mark.parametrize(
    ("tp", "text"),
    [
        (str, "a string"),
        (bool, "true or false"),
        (bool | None, "true or false"),
        (Duration, "a number or a string"),
        (str | int | float | None, "a string or a number"),
        (Scalar, "a string, a number or a boolean"),
        (list[Scalar], "a list of strings, numbers or booleans"),
        (list[list[str]], "a list of lists of strings"),
        (dict[str, str] | list[list[str]], "a table or a list of lists of strings"),
        (Backend, "a table"),
    ],
)
def test_describe_type(tp: object, text: str) -> None:
    assert describe_type(tp) == text


# -- missing keys and step types -----------------------------------------------------
def test_missing_key_points_at_the_table_header() -> None:
    text = 'name = "w"\n\n[[steps]]\nname = "s"\ntype = "shell"\n'
    found = one(text)
    assert (found.code, found.message) == ("E103", "step 's' is missing the required key 'run'")
    assert (where(found), found.hint) == ((3, 1), 'add run = "<shell command>"')


def test_a_workflow_without_steps_says_how_to_add_one() -> None:
    found = one('name = "w"\n')
    assert (found.message, found.hint) == (
        "the top level is missing the required key 'steps'",
        "add a [[steps]] table",
    )


def test_missing_key_in_a_config_table_points_at_its_header() -> None:
    found = one('[roles.fast]\ndescription = "quick answers"\n', Config)
    assert found.message == "[roles.fast] is missing the required key 'backends'"
    assert where(found) == (1, 1)


def test_a_step_without_a_name_is_named_by_position() -> None:
    found = one(STEP + '[[steps]]\ntype = "shell"\nrun = "x"\n')
    assert found.message == "step #2 is missing the required key 'name'"
    assert where(found) == (5, 1)


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        ('run = "make"', "it has 'run', so add type = \"shell\""),
        ('role = "quick"\nprompt = "hi"', "it has 'role', so add type = \"query\""),
        ('prompt = "hi"', "it has 'prompt', so add type = \"query\""),
        ('source = "steps.fix"', "it has 'source', so add type = \"apply\""),
        ('options = ["a"]\nprompt = "pick"', "it has 'options', so add type = \"input\""),
        ("", "step types are: shell, query, apply, store, input"),
    ],
)
def test_a_step_without_type_gets_a_guess(body: str, hint: str) -> None:
    found = one(f'[[steps]]\nname = "s"\n{body}\n')
    assert (found.code, found.message) == ("E103", "step 's' is missing the required key 'type'")
    assert (found.hint, where(found)) == (hint, (1, 1))


def test_an_unknown_step_type_suggests_the_close_one() -> None:
    found = one('[[steps]]\nname = "s"\ntype = "querry"\nprompt = "x"\n')
    assert (found.code, found.message) == (
        "E104",
        "step 's' has type 'querry', which is not a step type",
    )
    assert (found.hint, where(found)) == ("did you mean 'query'?", (3, 8))


def test_a_value_outside_a_literal_choice() -> None:
    found = one('[roles.r]\nbackends = ["a"]\nexecution = "paralel"\n', Config)
    assert found.code == "E104"
    assert found.message == (
        "'execution' in [roles.r] must be one of 'first', 'parallel', 'fallback', not 'paralel'"
    )
    assert (found.hint, where(found)) == ("did you mean 'parallel'?", (3, 13))


def test_workflow_overlays_are_partial_but_checked_key_by_key() -> None:
    text = '[backends.claude]\ntimeout = 60\n[roles.r]\nexecution = "first"\nbakends = []\n' + STEP
    found = one(text)  # neither table needs its required keys here: the config has them
    assert (found.code, found.hint) == ("E101", "did you mean 'backends'?")


def test_every_problem_is_reported_not_only_the_first() -> None:
    text = STEP + "timout = 5\nretries = 'x'\n[[steps]]\nname = 't'\n"
    assert [d.code for d in decode(text)] == ["E101", "E102", "E103"]


def test_query_step_fields_mirror_the_spec() -> None:
    names = {f.encode_name for f in msgspec.structs.fields(QueryStep)}
    assert {"prompt", "role", "backend", "parallel", "output_schema", "if", "when"} <= names


def test_a_wrong_step_type_does_not_hide_the_steps_other_problems() -> None:
    text = (
        '[[steps]]\nname = "a"\ntype = "shell"\nrun = "make"\n'
        '[[steps]]\nname = "b"\ntype = "shel"\nrun = "make"\ndepend_on = ["a"]\n'
        'retries = "x"\nprompt = "fine: some step type has it"\n'
    )
    found = decode(text)
    assert [(d.code, where(d)) for d in found] == [
        ("E104", (7, 8)),
        ("E101", (9, 1)),
        ("E102", (10, 11)),
    ]
    assert found[1].message == "unknown key 'depend_on' in step 'b'"
    assert found[1].hint == "did you mean 'depends_on'?"


def test_a_missing_step_type_does_not_hide_a_misspelt_key() -> None:
    found = decode('[[steps]]\nname = "s"\nrun = "make"\ndepend_on = []\n')
    assert [d.code for d in found] == ["E103", "E101"]
    assert found[1].hint == "did you mean 'depends_on'?"

"""The JSON Schemas `llm-mux schema` prints, checked with `jsonschema` (the real Taplo
CLI checks the same files in tests/e2e/test_schema_taplo.py).

Laws: every key of every Struct in compiler/schema.py has a description and reaches
the schema; every example passes; every invalid example whose problem is a schema
problem (E101–E104: unknown key, wrong type, missing key, value not allowed) fails,
and every other invalid example passes (the schema is not stricter than the compiler).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import jsonschema
import pytest
from support.examples import INVALID, VALID, schema_error_expected

from llm_mux.compiler.json_schema import json_schema, undescribed_keys
from llm_mux.compiler.schema import Backend, Config, Workflow, doc
from llm_mux.validate import is_config_file


def validator_for(path: Path) -> jsonschema.Draft202012Validator:
    kind = "config" if is_config_file(path) else "workflow"
    return jsonschema.Draft202012Validator(json_schema(kind))


def errors_in(path: Path) -> list[str]:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    return [e.message for e in validator_for(path).iter_errors(document)]


def test_every_key_has_a_description_that_reaches_the_schema() -> None:
    problems = undescribed_keys()
    assert not problems, "\n" + "\n".join(problems)


def test_a_key_added_without_a_description_fails_with_what_to_write() -> None:
    class Extended(Config, frozen=True, kw_only=True):
        colour: str = "red"
        size: Annotated[int, doc("How big")] = 1

    assert undescribed_keys(Extended) == [
        "compiler/schema.py: key 'colour' of Extended has no description; declare it as "
        '`colour: Annotated[str, doc("what it means, in one line")]` (editors show this '
        "text, and `llm-mux schema` prints it)"
    ]


@pytest.mark.parametrize("kind", ["workflow", "config"])
def test_the_schemas_are_valid_draft_2020_12(kind: str) -> None:
    document = json_schema("workflow" if kind == "workflow" else "config")
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_property_in_the_schemas_is_described() -> None:
    for kind in ("workflow", "config"):
        document = json_schema(kind)  # type: ignore[arg-type]
        tables = [document, *document["$defs"].values()]  # type: ignore[attr-defined]
        for table in tables:
            for key, prop in table.get("properties", {}).items():
                if key != "type" or "enum" not in prop:  # a step's tag is its type
                    assert prop.get("description"), (kind, table.get("title"), key)


def test_descriptions_are_the_structs_own_sentences() -> None:
    defs = json_schema("config")["$defs"]
    assert isinstance(defs, dict)
    backend = defs["Backend"]["properties"]
    assert backend["command"]["description"].startswith("CLI executable, or the base URL")
    assert defs["Backend"]["description"] == Backend.__doc__
    assert json_schema("workflow")["description"] == Workflow.__doc__


def test_optional_keys_are_not_null_in_toml() -> None:
    text = str(json_schema("workflow")) + str(json_schema("config"))
    assert "'null'" not in text


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_example_passes_the_schema(path: Path) -> None:
    assert errors_in(path) == []


@pytest.mark.parametrize(
    "path", [p for p in INVALID if p.name != "toml-syntax.toml"], ids=lambda p: p.name
)
def test_invalid_examples_fail_the_schema_exactly_when_they_are_schema_errors(
    path: Path,
) -> None:
    assert bool(errors_in(path)) == schema_error_expected(path), errors_in(path)


def test_workflow_overlays_are_partial_backend_and_role_tables() -> None:
    workflow = json_schema("workflow")
    partial = {"steps": [{"name": "a", "type": "shell", "run": "true"}]}
    validator = jsonschema.Draft202012Validator(workflow)
    assert not list(validator.iter_errors({**partial, "backends": {"x": {"timeout": 9}}}))
    wrong = list(validator.iter_errors({**partial, "backends": {"x": {"timeout": True}}}))
    unknown = list(validator.iter_errors({**partial, "roles": {"r": {"backend": ["x"]}}}))
    assert wrong and unknown

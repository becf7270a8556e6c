"""Best-of-N keys of apply steps: checked like every other key, lowered into the plan."""

from __future__ import annotations

import msgspec
import pytest

from llm_mux.compiler.diagnostics import Diagnostic, Sink
from llm_mux.compiler.pipeline import check_workflow
from llm_mux.compiler.plan import Candidates
from llm_mux.compiler.schema import ApplyStep
from llm_mux.compiler.source import SourceFile

QUERY = '[[steps]]\nname = "fix"\ntype = "query"\nrole = "coder"\nprompt = "Fix it."\n\n'
APPLY = '[[steps]]\nname = "apply"\ntype = "apply"\nsource = "fix"\nverify = "make test"\n'


def diagnose(keys: str) -> list[Diagnostic]:
    sink = Sink()
    check_workflow(SourceFile("w.toml", QUERY + APPLY + keys), sink, config=None, env={})
    return sink.sorted()


def codes(keys: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.column) for d in diagnose(keys)]


def test_a_complete_best_of_n_step_is_clean() -> None:
    keys = 'candidates = "each"\nmetric = "grep -c ok report"\nprefer = "lower"\nmax_parallel = 2\n'
    assert diagnose(keys) == []


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ('candidates = "all"\n', [("E104", 12, 14)]),
        ('candidates = "each"\nselect = "most"\n', [("E104", 13, 10)]),
        ('candidates = "each"\nprefer = "more"\n', [("E104", 13, 10)]),
        ('candidates = "each"\nmax_parallel = 0\n', [("E104", 13, 16)]),
        ('candidates = "each"\nmax_parallel = "2"\n', [("E102", 13, 16)]),
        ('candidates = "each"\nselect = "best"\n', [("E612", 13, 10)]),
        ('candidates = "each"\nselect = "first"\nmetric = "echo 1"\n', [("E105", 14, 1)]),
        ('candidates = "each"\nrollback_on_failure = false\n', [("E105", 13, 1)]),
        ('select = "first"\nmetric = "echo 1"\n', [("E610", 12, 1), ("E610", 13, 1)]),
        ('prefer = "lower"\n', [("E610", 12, 1)]),
    ],
)
def test_wrong_best_of_n_keys_are_positioned(keys: str, expected: list[object]) -> None:
    assert codes(keys) == expected


def test_the_messages_name_the_step_and_the_way_out() -> None:
    (found,) = diagnose('candidates = "each"\nselect = "best"\n')
    assert found.message == (
        "apply step 'apply' selects the best candidate, but has no metric to rank by"
    )
    assert found.hint == 'add metric = "<command printing a number>", or select = "first"'


def test_the_metric_is_a_shell_template_checked_like_verify() -> None:
    found = diagnose('candidates = "each"\nmetric = "wc -l {{ steps.fixx.output }}"\n')
    assert [d.code for d in found] == ["E303"]


def lowered(keys: str) -> Candidates | None:
    from llm_mux.compiler.passes.lower import _candidates

    raw = {"name": "a", "type": "apply", "source": "fix", **keys_table(keys)}
    return _candidates(msgspec.convert(raw, ApplyStep))


def keys_table(keys: str) -> dict[str, object]:
    import tomllib

    return tomllib.loads(keys)


def test_select_defaults_to_best_with_a_metric_and_first_without() -> None:
    assert lowered("") is None
    assert lowered('candidates = "each"') == Candidates(select="first")
    with_metric = lowered('candidates = "each"\nmetric = "echo 3"')
    assert with_metric == Candidates(select="best", metric="echo 3")


def test_every_best_of_n_key_has_a_description_for_the_json_schema() -> None:
    schema = msgspec.json.schema(ApplyStep)
    properties = schema["$defs"]["ApplyStep"]["properties"]
    for key in ("candidates", "select", "metric", "prefer", "max_parallel"):
        assert properties[key]["description"].strip(), key


def test_a_value_in_the_metric_is_held_to_the_shell_rules_of_verify() -> None:
    found = diagnose('candidates = "each"\nmetric = "echo `{{ steps.fix.output }}`"\n')
    assert [d.code for d in found] == ["E605"]

"""A for_each step's ledger record: items encoded one at a time, empty values left out,
and read back (`runs resume`) as the very results that were recorded."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_mux.ledger.recorder import _record_json
from llm_mux.redact import Redactor
from llm_mux.running.results import (
    ItemDetails,
    StepResult,
    Usage,
    result_from_record,
    result_record,
)

NO_SECRETS = Redactor({})
texts = st.text(max_size=8)
values = st.none() | st.integers() | texts | st.lists(st.integers(), max_size=2)
details = st.dictionaries(st.sampled_from(["item", "reason", "calls"]), values, max_size=2)


@st.composite
def items(draw: st.DrawFn) -> StepResult:
    index = draw(st.integers(0, 99))
    return StepResult(
        f"each[{index}]",
        "shell",
        draw(st.sampled_from(["succeeded", "failed", "skipped", "cancelled"])),
        output=draw(texts),
        outputs=tuple(draw(st.lists(texts, max_size=2))),
        error=draw(st.none() | texts),
        backends=tuple(draw(st.lists(texts, max_size=2))),
        errors=draw(st.dictionaries(texts, texts, max_size=2)),
        json=draw(values | st.just([]) | st.just({})),
        exit_code=draw(st.none() | st.integers(0, 255)),
        usage=draw(st.none() | st.just(Usage(1, 2, 3))),
        attempts=draw(st.integers(0, 3)),
        inputs=draw(st.dictionaries(texts, texts, max_size=2)),
        details=ItemDetails(draw(details), draw(values)),
    )


LAWS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LAWS
@given(st.lists(items(), max_size=4))
def test_a_recorded_for_each_reads_back_as_recorded(recorded: list[StepResult]) -> None:
    step = StepResult("each", "shell", "failed", items=tuple(recorded), error="item 0 failed")
    whole = json.loads(json.dumps(result_record(step), ensure_ascii=False, default=str))
    streamed = json.loads(_record_json(step, NO_SECRETS))
    assert result_from_record("each", streamed, "out") == result_from_record("each", whole, "out")


def test_an_item_record_leaves_out_what_reads_back_as_absent() -> None:
    item = StepResult("each[0]", "shell", "succeeded", exit_code=0, attempts=1, json=[])
    item = StepResult(**{**_fields(item), "details": ItemDetails({}, "a")})
    step = StepResult("each", "shell", "succeeded", items=(item,))
    record = json.loads(_record_json(step, NO_SECRETS))["items"][0]
    assert record == {
        "type": "shell",
        "status": "succeeded",
        "json": [],  # a value of its own, unlike an empty list of backends
        "exit_code": 0,
        "attempts": 1,
        "details": {"item": "a"},
    }


@LAWS
@given(details, values)
def test_item_details_are_the_details_with_the_item(own: dict[str, object], item: object) -> None:
    merged = ItemDetails(own, item)
    assert dict(merged) == {**own, "item": item}
    assert len(merged) == len({**own, "item": item})
    assert list(merged)[-1] == "item" and merged["item"] == item


def _fields(result: StepResult) -> dict[str, object]:
    return {name: getattr(result, name) for name in StepResult.__dataclass_fields__}


def test_secrets_in_items_are_redacted_before_encoding() -> None:
    secret = "s3cr\u00e9t-value-1234"  # JSON would escape it: redacted before encoding
    redact = Redactor({"API_KEY": secret})
    item = StepResult("each[0]", "shell", "succeeded", output=f"got {secret}", attempts=1)
    step = StepResult("each", "shell", "succeeded", items=(item,), error=secret)
    text = _record_json(step, redact)
    assert secret not in text and secret.encode("unicode_escape").decode() not in text
    assert json.loads(text)["items"][0]["output"] == "got [redacted:API_KEY]"

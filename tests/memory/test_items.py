"""What store steps accept: documents found in model output, items checked one by one."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_mux.memory.items import Fact, NoDocument, Relationship, Skipped, parse_batch

FACT = {"project": "api", "fact": "Uses PostgreSQL", "source": "Cargo.toml", "confidence": 0.9}
RELATIONSHIP = {"from": "api", "to": "db", "type": "depends_on"}


def test_bare_fenced_and_prose_wrapped_json_read_the_same() -> None:
    document = json.dumps({"facts": [FACT]})
    for text in (
        document,
        f"```json\n{document}\n```",
        f"Here is what I found:\n\n{document}\n\nHope it helps {{and more}}.",
    ):
        assert parse_batch(text).facts == (Fact("api", "Uses PostgreSQL", "Cargo.toml", 0.9),)


def test_several_documents_are_concatenated_in_order() -> None:
    """A parallel step's blocks, or two steps' outputs rendered one after the other."""
    text = (
        "=== claude ===\n" + json.dumps({"facts": [FACT]}) + "\n\n"
        "=== codex ===\n```json\n" + json.dumps({"relationships": [RELATIONSHIP]}) + "\n```"
    )
    batch = parse_batch(text)
    assert [f.project for f in batch.facts] == ["api"]
    assert batch.relationships == (Relationship("api", "db", "depends_on"),)


def test_a_json_list_of_documents_counts_as_several() -> None:
    text = json.dumps([{"facts": [FACT]}, {"facts": [dict(FACT, fact="Uses Redis")]}])
    assert [f.fact for f in parse_batch(text).facts] == ["Uses PostgreSQL", "Uses Redis"]


def test_invalid_items_are_reported_by_kind_index_and_reason() -> None:
    facts = [
        FACT,
        {"project": "api", "fact": "x", "confidence": 1},
        "not an object",
        dict(FACT, confidence="high"),
        dict(FACT, confidence=1.5),
        dict(FACT, project="   "),
        dict(FACT, source=3),
    ]
    batch = parse_batch(json.dumps({"facts": facts, "relationships": [{"from": "a"}]}))
    assert len(batch.facts) == 1
    assert [str(s) for s in batch.skipped] == [
        'fact 1: missing "source"',
        'fact 2: is the text "not an object", not an object',
        'fact 3: "confidence" must be a number from 0 to 1, got the text "high"',
        'fact 4: "confidence" must be from 0 to 1, got 1.5',
        'fact 5: "project" is empty',
        'fact 6: "source" must be text, got the number 3',
        'relationship 0: missing "to"',
    ]


def test_a_list_that_is_not_a_list_is_reported_as_a_whole() -> None:
    batch = parse_batch('{"facts": {"project": "api"}}')
    assert batch.skipped == (Skipped("facts", None, "must be a list, got an object"),)
    assert str(batch.skipped[0]) == "facts: must be a list, got an object"


def test_entities_keep_properties_and_optional_fields() -> None:
    entity = {
        "entity_type": "service",
        "entity_name": "billing",
        "source": "k8s/billing.yaml",
        "properties": {"replicas": 3, "image": "billing:1.2"},
    }
    (parsed,) = parse_batch(json.dumps({"entities": [entity]})).entities
    assert parsed.properties == {"replicas": 3, "image": "billing:1.2"}
    assert parsed.project is None and parsed.confidence is None
    bad = parse_batch(json.dumps({"entities": [dict(entity, properties=[1])]}))
    assert [str(s) for s in bad.skipped] == ['entity 0: "properties" must be an object, got a list']


def test_relationship_types_are_folded() -> None:
    batch = parse_batch(json.dumps({"relationships": [dict(RELATIONSHIP, type="Depends  on")]}))
    assert batch.relationships[0].type == "depends_on"


@pytest.mark.parametrize(
    "text", ["", "no json here", '{"answer": 42}', "[1, 2, 3]", "```\nnot json\n```"]
)
def test_no_document_is_an_error(text: str) -> None:
    with pytest.raises(NoDocument, match="no JSON object with facts, relationships or entities"):
        parse_batch(text)


_words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1).filter(
    str.strip
)
_facts = st.lists(
    st.fixed_dictionaries(
        {
            "project": _words,
            "fact": _words,
            "source": _words,
            "confidence": st.floats(0, 1),
        }
    ),
    max_size=5,
)


@given(_facts, st.sampled_from(["{}", "```json\n{}\n```", "Sure! {}\nDone."]))
def test_every_valid_fact_is_read_whatever_the_wrapping(
    facts: list[dict[str, object]], wrap: str
) -> None:
    batch = parse_batch(wrap.replace("{}", json.dumps({"facts": facts})))
    assert batch.skipped == ()
    assert [f.fact for f in batch.facts] == [str(f["fact"]).strip() for f in facts]

"""A query step's inputs as sent: the rendered prompt and system.

Input: a `Query` action, the context and the `--context` preamble. Output: the
`prompt` (preamble first, the JSON Schema instruction last) and `system`. Apart
from `query` so that a step the cache answers is keyed without loading the
backends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from llm_mux.compiler.plan import Query

from ..running.rendering import render

__all__ = ["query_inputs", "schema_instruction"]


def query_inputs(action: Query, context: Mapping[str, object], preamble: str) -> dict[str, str]:
    """The prompt as sent — `preamble` (the `--context` files) first, the schema
    instruction last — and the step's `system`, when it has one."""
    prompt = preamble + render(action.prompt, context, key="prompt")
    if action.output_schema is not None:
        prompt += schema_instruction(action.output_schema)
    inputs = {"prompt": prompt}
    if action.system:
        inputs["system"] = render(action.system, context, key="system")
    return inputs


def schema_instruction(schema: Mapping[str, object]) -> str:
    return "\n\nAnswer with JSON only (no prose), matching this JSON Schema:\n" + json.dumps(
        schema, indent=2
    )

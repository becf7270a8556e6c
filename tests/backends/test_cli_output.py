"""Reading agents' output: answers, tokens and cost from their JSON; failures in their words.

The samples are what Claude Code 2.1, Codex CLI 0.171 and Gemini CLI 0.61 printed
against the test model server (trimmed of fields llm-mux does not read); the
real-tool tests (tests/agents) run the tools themselves.
"""

from __future__ import annotations

import json

import pytest

from llm_mux.backends import BackendError
from llm_mux.backends.cli_output import failure_reason, read_output
from llm_mux.backends.types import Usage

CLAUDE = {
    "type": "result", "subtype": "success", "is_error": False, "result": "hello",
    "total_cost_usd": 0.000108,
    "usage": {"input_tokens": 12, "cache_creation_input_tokens": 2,
              "cache_read_input_tokens": 1, "output_tokens": 3},
    "modelUsage": {"claude-opus-5-5": {"inputTokens": 12, "outputTokens": 3}},
}  # fmt: skip
CODEX = [
    {"type": "thread.started", "thread_id": "t"},
    {"type": "item.completed", "item": {"id": "item_0", "type": "error",
                                        "message": "Model metadata for `m` not found."}},
    {"type": "turn.started"},
    {"type": "item.completed", "item": {"id": "item_1", "type": "agent_message", "text": "hi"}},
    {"type": "turn.completed", "usage": {"input_tokens": 12, "cached_input_tokens": 0,
                                         "output_tokens": 3}},
]  # fmt: skip
GEMINI = {
    "response": "mcp",
    "stats": {"models": {"gemini-mock": {"tokens": {"input": 12, "prompt": 12,
                                                    "candidates": 3, "total": 15}}}},
}  # fmt: skip
CODEX_BANNER = """\
Reading additional input from stdin...
OpenAI Codex v0.171.0
--------
workdir: /tmp/w
model: mock-model
--------
user
say
-v please
warning: Codex could not find bubblewrap on PATH.
ERROR: {"error": {"message": "model mock-gtp does not exist"}}
ERROR: {"error": {"message": "model mock-gtp does not exist"}}
"""


def lines(events: list[dict[str, object]]) -> str:
    return "\n".join(json.dumps(event) for event in events)


def test_plain_text_is_the_answer() -> None:
    assert read_output("x", "text", "just text").text == "just text"


def test_claude_json_gives_the_answer_tokens_cost_and_model() -> None:
    completion = read_output("claude", "claude-json", json.dumps(CLAUDE))
    assert completion.text == "hello" and completion.cost == 0.000108
    assert completion.usage == Usage(15, 3, 18) and completion.model == "claude-opus-5-5"


def test_codex_events_give_the_last_message_and_the_turns_tokens() -> None:
    completion = read_output("codex", "codex-json", lines(CODEX))
    assert (completion.text, completion.usage, completion.cost) == ("hi", Usage(12, 3, 15), None)


def test_gemini_json_gives_the_response_and_its_tokens() -> None:
    completion = read_output("gemini", "gemini-json", json.dumps(GEMINI))
    assert completion.text == "mcp" and completion.usage == Usage(12, 3, 15)


@pytest.mark.parametrize(
    ("output_format", "stdout", "reason"),
    [
        ("claude-json", json.dumps(CLAUDE | {"is_error": True, "result": "API Error: 400 no"}),
         "API Error: 400 no"),
        ("codex-json", lines([*CODEX[:3], {"type": "turn.failed", "error": {
            "message": json.dumps({"error": {"message": "model gone"}})}}]), "model gone"),
        ("gemini-json", json.dumps({"error": {"type": "Error", "message": "quota"}}), "quota"),
    ],
)  # fmt: skip
def test_a_failure_reported_in_json_is_an_error_with_that_reason(
    output_format: str, stdout: str, reason: str
) -> None:
    with pytest.raises(BackendError) as caught:
        read_output("b", output_format, stdout)
    assert caught.value.message == f"backend 'b': {reason}"
    assert failure_reason(output_format, stdout, "") == reason


def test_output_that_is_not_the_configured_json_is_malformed_and_says_so() -> None:
    with pytest.raises(BackendError) as caught:
        read_output("claude", "claude-json", "Not logged in · Please run /login")
    assert caught.value.kind == "malformed"
    assert "not claude-json as configured: Not logged in" in caught.value.message


def test_the_reason_skips_the_banner_the_prompt_echo_and_warnings() -> None:
    reason = failure_reason("text", "", CODEX_BANNER, prompt="say\n-v please")
    assert reason == 'ERROR: {"error": {"message": "model mock-gtp does not exist"}}'


def test_without_a_useful_stderr_the_end_of_stdout_is_the_reason() -> None:
    assert failure_reason("text", "API Error: 400 bad model\n", "") == "API Error: 400 bad model"
    assert failure_reason("text", "Not logged in", "warning: x\n\n") == "Not logged in"
    assert failure_reason("text", "", "only a warning: x") == "only a warning: x"

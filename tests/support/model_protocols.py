"""The wire formats `ModelServer` answers in: each protocol's body, plain and streamed.

Input: the request body, the answer text, token usage and optionally one tool call.
Output: bytes with their content type. Covered, as the real agents read them:

- OpenAI chat completions (`/v1/chat/completions`), JSON or `stream: true` chunks (`llm`);
- Anthropic Messages (`/v1/messages`), JSON or the SSE event stream Claude Code reads,
  including a `tool_use` block (Claude Code then runs its tool and asks again);
- the OpenAI Responses API (`/v1/responses`, always streamed: what Codex uses);
- Gemini `generateContent` / `streamGenerateContent?alt=sse` (Gemini CLI).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["Answer", "Protocol", "encode", "error_body", "protocol_of", "user_text"]

Protocol = Literal["openai", "anthropic", "responses", "gemini"]
_ROUTES: dict[str, Protocol] = {
    "/v1/chat/completions": "openai",
    "/v1/messages": "anthropic",
    "/v1/responses": "responses",
}
_JSON = "application/json"
_SSE = "text/event-stream"


@dataclass(frozen=True)
class Answer:
    """What to say: text, usage (input, output tokens) and an optional tool call."""

    text: str
    usage: tuple[int, int] | None
    tool: tuple[str, Mapping[str, object]] | None = None


def protocol_of(path: str) -> Protocol | None:
    route = path.split("?", 1)[0].rstrip("/")
    if route.startswith("/v1beta/models/") and route.lower().endswith("generatecontent"):
        return "gemini"
    return _ROUTES.get(route)


def model_in_path(path: str) -> str | None:
    """Gemini names the model in the path: `/v1beta/models/NAME:streamGenerateContent`."""
    route = path.split("?", 1)[0]
    if not route.startswith("/v1beta/models/"):
        return None
    return route.removeprefix("/v1beta/models/").split(":", 1)[0]


def encode(protocol: Protocol, path: str, request: object, answer: Answer) -> tuple[bytes, str]:
    body = request if isinstance(request, dict) else {}
    model = body.get("model") or model_in_path(path)
    if protocol == "responses":
        return _sse(_responses_events(model, answer)), _SSE
    if protocol == "gemini":
        chunk = _gemini(answer)
        if "stream" in path:
            return _sse([(None, chunk)]), _SSE
        return json.dumps(chunk).encode(), _JSON
    streamed = body.get("stream") is True
    if protocol == "anthropic":
        if streamed:
            return _sse(_anthropic_events(model, answer)), _SSE
        return json.dumps(_anthropic(model, answer)).encode(), _JSON
    if streamed:
        return _sse([*((None, c) for c in _chat_chunks(model, answer)), (None, "[DONE]")]), _SSE
    return json.dumps(_chat(model, answer)).encode(), _JSON


def error_body(protocol: Protocol, status: int, message: str) -> dict[str, object]:
    if protocol == "anthropic":
        return {"type": "error", "error": {"type": "test_error", "message": message}}
    if protocol == "gemini":
        return {"error": {"code": status, "message": message, "status": "INVALID_ARGUMENT"}}
    return {"error": {"message": message, "type": "test_error", "code": status}}


def user_text(request: object) -> str:
    """The last text the user wrote, skipping the `<…>` context blocks agents add."""
    if not isinstance(request, dict):
        return ""
    texts = [t for t in _user_texts(request) if not t.lstrip().startswith("<")]
    return texts[-1] if texts else ""


def _user_texts(request: Mapping[str, object]) -> Iterable[str]:
    for key in ("messages", "input", "contents"):
        items = request.get(key)
        if isinstance(items, str):
            yield items
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("role") == "user":
                yield from _texts(item.get("content", item.get("parts")))


def _texts(content: object) -> Iterable[str]:
    if isinstance(content, str):
        yield content
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            yield block["text"]


def _sse(events: Iterable[tuple[str | None, object]]) -> bytes:
    out = []
    for name, data in events:
        line = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {line}\n\n")
    return "".join(out).encode()


def _chat(model: object, answer: Answer) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}}],
    }
    if answer.usage is not None:
        body["usage"] = _chat_usage(answer.usage)
    return body


def _chat_usage(usage: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}


def _chat_chunks(model: object, answer: Answer) -> list[dict[str, object]]:
    def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": model,
                "created": 0, "choices": [choice]}  # fmt: skip

    chunks = [chunk({"role": "assistant", "content": answer.text}), chunk({}, "stop")]
    if answer.usage is not None:
        last = chunk({}, None) | {"choices": [], "usage": _chat_usage(answer.usage)}
        chunks.append(last)
    return chunks


def _anthropic(model: object, answer: Answer) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": "end_turn",
    }
    if answer.usage is not None:
        body["usage"] = {"input_tokens": answer.usage[0], "output_tokens": answer.usage[1]}
    return body


def _anthropic_events(model: object, answer: Answer) -> list[tuple[str | None, object]]:
    used_in, used_out = answer.usage or (0, 0)
    message = {"id": "msg_test", "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": used_in, "output_tokens": 1}}  # fmt: skip
    events: list[tuple[str | None, object]] = [
        ("message_start", {"type": "message_start", "message": message})
    ]
    blocks: list[tuple[dict[str, object], dict[str, object]]] = []
    if answer.text or answer.tool is None:
        blocks.append(({"type": "text", "text": ""}, {"type": "text_delta", "text": answer.text}))
    if answer.tool is not None:
        name, arguments = answer.tool
        start = {"type": "tool_use", "id": "toolu_test", "name": name, "input": {}}
        blocks.append((start, {"type": "input_json_delta", "partial_json": json.dumps(arguments)}))
    for index, (start, delta) in enumerate(blocks):
        events += [
            ("content_block_start", {"type": "content_block_start", "index": index,
                                     "content_block": start}),
            ("content_block_delta", {"type": "content_block_delta", "index": index,
                                     "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]  # fmt: skip
    stop = "tool_use" if answer.tool is not None else "end_turn"
    events += [
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": used_out}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return events


def _responses_events(model: object, answer: Answer) -> list[tuple[str | None, object]]:
    used_in, used_out = answer.usage or (0, 0)
    response = {"id": "resp_test", "object": "response", "model": model, "status": "in_progress",
                "output": []}  # fmt: skip
    items: list[dict[str, object]] = []
    if answer.tool is not None:
        name, arguments = answer.tool
        items.append({"type": "function_call", "id": "fc_test", "call_id": "call_test",
                      "name": name, "arguments": json.dumps(arguments)})  # fmt: skip
    else:
        items.append({"type": "message", "id": "msg_test", "role": "assistant", "status":
                      "completed", "content": [{"type": "output_text", "text": answer.text,
                                                "annotations": []}]})  # fmt: skip
    events: list[tuple[str | None, object]] = [
        ("response.created", {"type": "response.created", "response": response})
    ]
    for index, item in enumerate(items):
        added = item | {"status": "in_progress", "content": []} if "content" in item else item
        event = {"type": "response.output_item.added", "output_index": index, "item": added}
        events.append(("response.output_item.added", event))
        if item["type"] == "message":
            events.append(("response.output_text.delta", {
                "type": "response.output_text.delta", "item_id": item["id"],
                "output_index": index, "content_index": 0, "delta": answer.text}))  # fmt: skip
        events.append(("response.output_item.done", {
            "type": "response.output_item.done", "output_index": index, "item": item}))  # fmt: skip
    usage = {"input_tokens": used_in, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": used_out, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": used_in + used_out}  # fmt: skip
    done = response | {"status": "completed", "output": items, "usage": usage}
    events.append(("response.completed", {"type": "response.completed", "response": done}))
    return events


def _gemini(answer: Answer) -> dict[str, object]:
    parts: list[dict[str, object]] = [{"text": answer.text}] if answer.text else []
    if answer.tool is not None:
        parts.append({"functionCall": {"name": answer.tool[0], "args": dict(answer.tool[1])}})
    used_in, used_out = answer.usage or (0, 0)
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                        "index": 0}],
        "usageMetadata": {"promptTokenCount": used_in, "candidatesTokenCount": used_out,
                          "totalTokenCount": used_in + used_out},
    }  # fmt: skip

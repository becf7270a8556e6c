"""Reading what a CLI agent printed: the answer, its tokens and cost, or why it failed.

Input: the backend's `output_format` and the process's stdout and stderr. Output: a
`Completion` (answer text, `Usage`, the cost the tool reported, its model), or the
reason for a failure as one short text. The formats:

- `text`: stdout is the answer; no usage.
- `claude-json` (`claude -p --output-format json`): one JSON object; `result` is the
  answer, `usage` the tokens (cache reads and writes count as prompt tokens),
  `total_cost_usd` the cost, `is_error` a failure whose reason is `result`.
- `codex-json` (`codex exec --json`): JSON Lines events; the last `agent_message` item
  is the answer, `turn.completed`'s `usage` the tokens; `error` / `turn.failed` events
  are failures. Codex reports no cost.
- `gemini-json` (`gemini --output-format json`): one JSON object; `response` is the
  answer, `stats.models.*.tokens` the tokens; `error.message` a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from .types import BackendError, Completion, Usage

__all__ = ["failure_reason", "read_output"]

_SHOWN = 2000
_NOISE = ("warning:", "reading additional input from stdin")


def read_output(name: str, output_format: str, stdout: str) -> Completion:
    """The answer in `stdout`; raises BackendError when the tool reports a failure in it."""
    if output_format == "text":
        return Completion(text=stdout)
    if output_format == "codex-json":
        return _codex(name, stdout)
    document = _last_object(stdout)
    if document is None:
        raise _malformed(name, output_format, stdout)
    if output_format == "claude-json":
        return _claude(name, document)
    return _gemini(name, document)


def failure_reason(output_format: str, stdout: str, stderr: str, prompt: str = "") -> str:
    """Why the tool failed, in its own words: its error in JSON output, else stderr
    without start-up banner and warnings, else the end of stdout."""
    reported = _reported_error(output_format, stdout)
    if reported:
        return _tail(reported)
    lines = _without_banner(stderr.splitlines(), prompt)
    errors = [line for line in lines if line.lstrip().lower().startswith("error")]
    useful = errors or [line for line in lines if not _noise(line)]
    if useful:
        return _tail("\n".join(dict.fromkeys(useful)))  # the same error twice, once
    return _tail(stdout.strip() or stderr.strip())


# -- the formats ---------------------------------------------------------------------
def _claude(name: str, document: Mapping[str, object]) -> Completion:
    result = document.get("result")
    if document.get("is_error") is True or not isinstance(result, str):
        reason = result if isinstance(result, str) and result else "no result in its output"
        raise BackendError(f"backend '{name}': {reason}", kind="exit", retryable=False)
    usage = _mapping(document.get("usage"))
    prompt = _sum(usage, "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    completion = _sum(usage, "output_tokens")
    models = _mapping(document.get("modelUsage"))
    return Completion(
        text=result,
        usage=Usage(prompt, completion, prompt + completion) if usage else None,
        model=next(iter(models), None),
        cost=_number(document.get("total_cost_usd")),
    )


def _codex(name: str, stdout: str) -> Completion:
    answer: str | None = None
    usage: Usage | None = None
    for event in _json_lines(stdout):
        item = _mapping(event.get("item"))
        if event.get("type") == "item.completed" and item.get("type") == "agent_message":
            text = item.get("text")
            answer = text if isinstance(text, str) else answer
        elif event.get("type") == "turn.completed":
            used = _mapping(event.get("usage"))
            prompt, output = _sum(used, "input_tokens"), _sum(used, "output_tokens")
            usage = Usage(prompt, output, prompt + output)
    failed = _codex_error(stdout)
    if failed:
        raise BackendError(f"backend '{name}': {failed}", kind="exit", retryable=False)
    if answer is None:
        raise _malformed(name, "codex-json", stdout)
    return Completion(text=answer, usage=usage)


def _gemini(name: str, document: Mapping[str, object]) -> Completion:
    error = _message(document.get("error"))
    response = document.get("response")
    if error or not isinstance(response, str):
        reason = error or "no response in its output"
        raise BackendError(f"backend '{name}': {reason}", kind="exit", retryable=False)
    models = _mapping(_mapping(document.get("stats")).get("models"))
    prompt = completion = 0
    for stats in models.values():
        tokens = _mapping(_mapping(stats).get("tokens"))
        prompt += _sum(tokens, "prompt") or _sum(tokens, "input")
        completion += _sum(tokens, "candidates")
    usage = Usage(prompt, completion, prompt + completion) if models else None
    return Completion(text=response, usage=usage, model=next(iter(models), None))


def _reported_error(output_format: str, stdout: str) -> str:
    if output_format == "codex-json":
        return _codex_error(stdout)
    document = _last_object(stdout) if output_format != "text" else None
    if document is None:
        return ""
    if output_format == "claude-json":
        result = document.get("result")
        return result if document.get("is_error") is True and isinstance(result, str) else ""
    return _message(document.get("error"))


def _codex_error(stdout: str) -> str:
    """The last `error` or `turn.failed` event's message (an `error` *item* is a warning)."""
    reason = ""
    for event in _json_lines(stdout):
        if event.get("type") == "error":
            reason = _unwrap(event.get("message"))
        elif event.get("type") == "turn.failed":
            reason = _unwrap(_message(event.get("error"))) or reason
    return reason


def _unwrap(message: object) -> str:
    """Codex passes a server's JSON error body on as its message: its own message, then."""
    if not isinstance(message, str):
        return ""
    try:
        inner = _message(_mapping(json.loads(message)).get("error"))
    except ValueError:
        return message
    return inner or message


# -- plumbing ------------------------------------------------------------------------
def _without_banner(lines: Sequence[str], prompt: str) -> list[str]:
    """Drop a start-up banner framed by lines of dashes (Codex's), and the prompt echo after."""
    rules = [i for i, line in enumerate(lines) if len(line) >= 4 and set(line.strip()) == {"-"}]
    if len(rules) < 2:
        return list(lines)
    rest = list(lines[: max(rules[0] - 1, 0)]) + list(lines[rules[1] + 1 :])
    if rest[:1] and rest[0].strip() == "user" and prompt:
        rest = rest[1 + len(prompt.splitlines()) :]
    return rest


def _noise(line: str) -> bool:
    return not line.strip() or line.strip().lower().startswith(_NOISE)


def _tail(text: str) -> str:
    text = text.strip()
    return "…" + text[-_SHOWN:] if len(text) > _SHOWN else text


def _last_object(stdout: str) -> dict[str, object] | None:
    """The JSON object stdout holds (or its last line does, after any other output)."""
    for candidate in (stdout, *reversed(stdout.splitlines())):
        try:
            document = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(document, dict):
            return document
    return None


def _json_lines(stdout: str) -> Iterable[dict[str, object]]:
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def _message(value: object) -> str:
    message = _mapping(value).get("message")
    return message if isinstance(message, str) else ""


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _sum(values: Mapping[str, object], *keys: str) -> int:
    return sum(int(v) for k in keys if isinstance(v := values.get(k), int | float))


def _malformed(name: str, output_format: str, stdout: str) -> BackendError:
    shown = _tail(stdout) or "nothing"
    message = f"backend '{name}': its output is not {output_format} as configured: {shown}"
    return BackendError(message, kind="malformed", retryable=False)

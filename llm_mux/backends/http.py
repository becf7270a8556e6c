"""HTTP backends: the OpenAI chat-completions and Anthropic messages protocols.

Input: a `BackendSpec` of kind `openai` or `anthropic`, the run's environment
and the run's one shared `httpx.AsyncClient` (`client.make_client`).
Output: a `Completion` (answer text, token usage, model, and the cost a LiteLLM proxy
reports in `x-litellm-response-cost`) or a `BackendError` classified by HTTP status:
429 → `rate_limit` (with `Retry-After` in any form proxies send, also on 503), 5xx/408 →
`server`, 401/403 → `auth`, other 4xx → `client`; connect/read errors →
`connection`; the per-attempt deadline (`timeout`) → `timeout`; a body that is
not what the protocol promises → `malformed`.

Secrets: the expanded `api_key` and every expanded header value are scrubbed
from every message this module builds — a server that echoes the key back in
an error body does not get it into llm-mux's output.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import urlsplit

import httpx

from llm_mux.compiler import json_limits
from llm_mux.compiler.plan import BackendSpec
from llm_mux.redact import Redactor

from .resolve import expand, system_prompt
from .types import BackendError, Completion, ErrorKind, Request, Usage

__all__ = [
    "ANTHROPIC_URL",
    "ANTHROPIC_VERSION",
    "AnthropicTransport",
    "OpenAITransport",
    "parse_retry_after",
]

ANTHROPIC_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_MAX_TOKENS = 4096
_SHOWN = 200  # characters of a response body quoted in an error
_AUTH_HEADERS = frozenset({"authorization", "x-api-key"})
_MIN_SECRET = 4  # shorter "secrets" would redact ordinary words

JsonObject = dict[str, object]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _seconds_until(date: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Everything expanded once per transport: URL, model, headers, secrets."""

    url: str
    model: str
    headers: dict[str, str]
    secrets: tuple[str, ...]
    redactor: Redactor  # the secrets of the environment and of this backend

    def clean(self, text: str) -> str:
        """`text` without any secret: run on whole texts, before they are cut or quoted."""
        return self.redactor(_redact(text, self.secrets))


class _HttpTransport:
    """What both protocols share: expansion, the POST, errors, redaction."""

    def __init__(
        self, spec: BackendSpec, *, client: httpx.AsyncClient, env: Mapping[str, str]
    ) -> None:
        self.spec = spec
        self.client = client
        self.env = env
        self._prepared: _Prepared | None = None

    async def complete(self, request: Request) -> Completion:
        prepared = self._prepare()
        body = self._body(request, prepared.model)
        response = await self._post(prepared, body)
        if not 200 <= response.status_code < 300:
            raise self._status_error(response, prepared)
        data = self._json(response, prepared)
        return self._completion(data, response, prepared)

    # -- protocol specifics -------------------------------------------------

    def _url(self, base: str) -> str:
        raise NotImplementedError

    def _auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def _body(self, request: Request, model: str) -> JsonObject:
        raise NotImplementedError

    def _parse(self, data: JsonObject) -> tuple[str, Usage | None] | str:
        """(text, usage), or what is wrong with the body."""
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------

    def _prepare(self) -> _Prepared:
        if self._prepared is None:
            self._prepared = self._expand()
        return self._prepared

    def _expand(self) -> _Prepared:
        spec, env = self.spec, self.env
        if not spec.model:
            message = f"backend '{spec.name}': no model set (backends.{spec.name}.model)"
            raise BackendError(message, kind="client", retryable=False)
        headers = {"content-type": "application/json"}
        secrets: list[str] = []
        key = "" if spec.api_key is None else expand(spec, "api_key", spec.api_key, env)
        if key:  # an empty key (a local server needs none) sends no auth header at all
            headers.update(self._auth_headers(key))
            secrets.append(key)
        for name, value in spec.headers:
            expanded = expand(spec, f"headers.{name}", value, env)
            headers[name] = expanded
            secrets.append(expanded)
        _check_header_values(spec, headers)
        url = self._url(expand(spec, "command", spec.command, env).rstrip("/"))
        model = expand(spec, "model", spec.model, env)
        kept = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)
        return _Prepared(url, model, headers, tuple(kept), Redactor.for_run(env, [spec]))

    async def _post(self, prepared: _Prepared, body: JsonObject) -> httpx.Response:
        try:
            async with asyncio.timeout(self.spec.timeout):
                return await self._read(prepared, body)
        except (TimeoutError, httpx.TimeoutException):
            message = f"timed out after {self.spec.timeout:g}s"
            raise self._error(prepared, message, "timeout", self.spec.retry_timeout) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            message = f"cannot send a request to {_origin(prepared.url)}: {error}"
            raise self._error(prepared, message, "client", False) from None
        except httpx.HTTPError as error:
            message = f"connection to {_origin(prepared.url)} failed: {_describe(error)}"
            raise self._error(prepared, message, "connection", True) from None

    async def _read(self, prepared: _Prepared, body: JsonObject) -> httpx.Response:
        """The response, its body read up to `max_response_bytes` and no further."""
        limit = self.spec.max_response_bytes
        request = self.client.build_request(
            "POST", prepared.url, json=body, headers=prepared.headers
        )
        response = await self.client.send(request, stream=True)
        try:
            content = bytearray()
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > limit:
                    raise self._error(
                        prepared,
                        f"the response is larger than max_response_bytes ({limit:,} bytes); "
                        f"raise backends.{self.spec.name}.max_response_bytes if it is expected",
                        "oversized",
                        False,
                        status=response.status_code,
                    )
        finally:
            await response.aclose()
        headers = response.headers
        return httpx.Response(
            response.status_code, headers=headers, content=bytes(content), request=request
        )

    def _status_error(self, response: httpx.Response, prepared: _Prepared) -> BackendError:
        status = response.status_code
        kind, retryable = _classify(status)
        detail = _error_detail(response.content, prepared.clean)
        message = f"HTTP {status} {response.reason_phrase}".rstrip() + (
            f": {detail}" if detail else ""
        )
        retry_after = None
        if kind == "rate_limit" or status == 503:
            retry_after = _retry_after(response.headers)
            if retry_after is not None:
                message += f" (retry after {retry_after:g}s)"
        return self._error(
            prepared, message, kind, retryable, status=status, retry_after=retry_after
        )

    def _json(self, response: httpx.Response, prepared: _Prepared) -> JsonObject:
        try:
            data = json_limits.loads(response.content)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            raise self._malformed(response, prepared, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise self._malformed(response, prepared, "the body is not a JSON object")
        return data

    def _completion(
        self, data: JsonObject, response: httpx.Response, prepared: _Prepared
    ) -> Completion:
        parsed = self._parse(data)
        if isinstance(parsed, str):
            raise self._malformed(response, prepared, parsed)
        text, usage = parsed
        model = data.get("model")
        return Completion(
            text=text,
            usage=usage,
            model=sys.intern(model) if isinstance(model, str) else None,  # one copy per run
            cost=_reported_cost(response.headers),
        )

    def _malformed(self, response: httpx.Response, prepared: _Prepared, what: str) -> BackendError:
        body = _snippet(response.content, prepared.clean)
        message = f"malformed response (HTTP {response.status_code}): {what}: {body}"
        return self._error(prepared, message, "malformed", False, status=response.status_code)

    def _error(
        self,
        prepared: _Prepared,
        message: str,
        kind: ErrorKind,
        retryable: bool,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> BackendError:
        text = prepared.clean(f"backend '{self.spec.name}': {message}")
        return BackendError(
            text, kind=kind, retryable=retryable, status=status, retry_after=retry_after
        )


class OpenAITransport(_HttpTransport):
    """`POST {command}/chat/completions` (`command` already ends in `/v1`)."""

    def _url(self, base: str) -> str:
        return f"{base}/chat/completions"

    def _auth_headers(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def _body(self, request: Request, model: str) -> JsonObject:
        messages: list[JsonObject] = []
        system = system_prompt(self.spec, request, self.env)
        if system is not None:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": request.prompt})
        body: JsonObject = {"model": model, "messages": messages}
        if self.spec.temperature is not None:
            body["temperature"] = self.spec.temperature
        if self.spec.max_tokens is not None:
            body["max_tokens"] = self.spec.max_tokens
        return body

    def _parse(self, data: JsonObject) -> tuple[str, Usage | None] | str:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            return "no choices" if choices is None else "choices is not a non-empty list"
        message = choices[0].get("message") if isinstance(choices[0], dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            return "choices[0].message.content is missing or not a string"
        usage = data.get("usage")
        return content, _usage(usage, "prompt_tokens", "completion_tokens")


class AnthropicTransport(_HttpTransport):
    """`POST {command or https://api.anthropic.com}/v1/messages`."""

    def _url(self, base: str) -> str:
        base = base or ANTHROPIC_URL
        # Forgive a base URL that already ends in /v1, as OpenAI-style URLs do.
        return f"{base.removesuffix('/v1')}/v1/messages"

    def _auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def _expand(self) -> _Prepared:
        prepared = super()._expand()
        headers = {"anthropic-version": ANTHROPIC_VERSION, **prepared.headers}
        return dataclasses.replace(prepared, headers=headers)

    def _body(self, request: Request, model: str) -> JsonObject:
        body: JsonObject = {
            "model": model,
            "max_tokens": self.spec.max_tokens or ANTHROPIC_MAX_TOKENS,
            "messages": [{"role": "user", "content": request.prompt}],
        }
        system = system_prompt(self.spec, request, self.env)
        if system is not None:
            body["system"] = system
        if self.spec.temperature is not None:
            body["temperature"] = self.spec.temperature
        return body

    def _parse(self, data: JsonObject) -> tuple[str, Usage | None] | str:
        content = data.get("content")
        if not isinstance(content, list):
            return "no content list"
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        if not all(isinstance(text, str) for text in texts):
            return "a text block has no text"
        return "".join(str(text) for text in texts), _usage(
            data.get("usage"), "input_tokens", "output_tokens"
        )


def _classify(status: int) -> tuple[ErrorKind, bool]:
    if status == 429:
        return "rate_limit", True
    if status >= 500 or status == 408:
        return "server", True
    if status in (401, 403):
        return "auth", False
    return "client", False


def _retry_after(headers: httpx.Headers) -> float | None:
    """OpenAI's finer `retry-after-ms`, the standard `retry-after`, and the same two as a
    LiteLLM proxy passes them on from its provider (`llm_provider-retry-after[-ms]`)."""
    for prefix in ("", "llm_provider-"):
        milliseconds = parse_retry_after(headers.get(f"{prefix}retry-after-ms"))
        if milliseconds is not None:
            return milliseconds / 1000
        seconds = parse_retry_after(headers.get(f"{prefix}retry-after"))
        if seconds is not None:
            return seconds
    return None


def _reported_cost(headers: httpx.Headers) -> float | None:
    """The cost a LiteLLM proxy reports for the call (`x-litellm-response-cost`)."""
    try:
        cost = float(headers.get("x-litellm-response-cost", ""))
    except ValueError:
        return None
    return cost if cost >= 0 and cost != float("inf") else None


def _usage(value: object, prompt_key: str, completion_key: str) -> Usage | None:
    """Token counts when the server reports them sensibly; usage never fails a call."""
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get(prompt_key), value.get(completion_key)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    total = value.get("total_tokens")
    return Usage(prompt, completion, total if isinstance(total, int) else prompt + completion)


def _error_detail(body: bytes, clean: Callable[[str], str]) -> str:
    """The server's own error message (OpenAI and Anthropic shapes), else the body's start."""
    try:
        data = json_limits.loads(body)
    except (ValueError, RecursionError):
        return _snippet(body, clean)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return _shorten(str(error["message"]), clean)
    if isinstance(error, str):
        return _shorten(error, clean)
    return _snippet(body, clean)


def _snippet(body: bytes, clean: Callable[[str], str]) -> str:
    # Secrets go before the text is cut or quoted; the window read is large enough that
    # no secret starting in the part shown can run past it.
    text = clean(body[: _SHOWN * 8].decode("utf-8", errors="replace"))
    return repr(_shorten(text, clean)) if text else "(empty body)"


def _shorten(text: str, clean: Callable[[str], str]) -> str:
    text = " ".join(clean(text).split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _check_header_values(spec: BackendSpec, headers: Mapping[str, str]) -> None:
    """HTTP headers carry ASCII only: a key with other characters is a configuration error."""
    for name, value in headers.items():
        if any(not " " <= char <= "~" for char in value):
            where = "api_key" if name in _AUTH_HEADERS else f"headers.{name}"
            raise BackendError(
                f"backend '{spec.name}': {where} holds a character that cannot be sent in "
                "an HTTP header (only printable ASCII can); check the value it is set from",
                kind="client",
                retryable=False,
            )


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _origin(url: str) -> str:
    """scheme://host:port only: a URL's path or query may carry a token."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the configured URL"
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def _describe(error: httpx.HTTPError) -> str:
    return str(error) or type(error).__name__

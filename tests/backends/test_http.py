"""OpenAI and Anthropic transports against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from support.backends import http_spec, run
from support.openai_server import ModelServer, Reply

from llm_mux.backends import BackendError, Completion, Request, Usage
from llm_mux.backends.client import make_client
from llm_mux.backends.http import AnthropicTransport, OpenAITransport, parse_retry_after
from llm_mux.compiler.plan import BackendSpec

Env = dict[str, str]
Transport = OpenAITransport | AnthropicTransport


@asynccontextmanager
async def transport_for(spec: BackendSpec, env: Env | None = None) -> AsyncIterator[Transport]:
    async with make_client() as client:
        kind = OpenAITransport if spec.kind == "openai" else AnthropicTransport
        yield kind(spec, client=client, env=env or {})


def ask(spec: BackendSpec, request: Request, env: Env | None = None) -> Completion:
    async def go() -> Completion:
        async with transport_for(spec, env) as transport:
            return await transport.complete(request)

    return run(go())


def fails(
    spec: BackendSpec, request: Request | None = None, env: Env | None = None
) -> BackendError:
    with pytest.raises(BackendError) as caught:
        ask(spec, request or Request("hi"), env)
    return caught.value


# -- OpenAI ---------------------------------------------------------------------


def test_openai_request_shape_auth_and_answer(openai_server: ModelServer) -> None:
    openai_server.script("gpt", Reply(text="the answer", usage=(12, 4)))
    spec = http_spec(
        openai_server,
        "gpt",
        api_key="${KEY}",
        headers=(("X-Org", "${ORG}"),),
        temperature=0.2,
        max_tokens=100,
    )
    completion = ask(spec, Request("the question", "be brief"), {"KEY": "k-123", "ORG": "acme"})
    assert completion == Completion("the answer", Usage(12, 4, 16), "gpt")
    (seen,) = openai_server.requests()
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer k-123"
    assert seen.headers["x-org"] == "acme"
    assert seen.body == {
        "model": "gpt",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "the question"},
        ],
        "temperature": 0.2,
        "max_tokens": 100,
    }


def test_openai_minimal_request_has_no_auth_and_no_extras(openai_server: ModelServer) -> None:
    completion = ask(http_spec(openai_server, "local"), Request("echo me"))
    assert completion.text == "echo me"
    (seen,) = openai_server.requests()
    assert "authorization" not in seen.headers
    assert seen.body == {"model": "local", "messages": [{"role": "user", "content": "echo me"}]}


def test_an_empty_key_sends_no_auth_header(openai_server: ModelServer) -> None:
    ask(http_spec(openai_server, "local", api_key="${KEY}"), Request("q"), {"KEY": ""})
    assert "authorization" not in openai_server.requests()[0].headers


def test_backend_system_is_used_when_the_step_has_none(openai_server: ModelServer) -> None:
    ask(http_spec(openai_server, "m", system="house style"), Request("q"))
    (seen,) = openai_server.requests()
    assert isinstance(seen.body, dict)
    assert seen.body["messages"][0] == {"role": "system", "content": "house style"}


def test_missing_usage_is_none(openai_server: ModelServer) -> None:
    openai_server.script("m", Reply(text="x", usage=None))
    assert ask(http_spec(openai_server, "m"), Request("q")).usage is None


# -- Anthropic ------------------------------------------------------------------


def test_anthropic_request_shape_and_answer(openai_server: ModelServer) -> None:
    openai_server.script("claude", Reply(text="hello", usage=(30, 7)))
    spec = http_spec(openai_server, "claude", kind="anthropic", api_key="${AK}")
    completion = ask(spec, Request("hi there", "sys"), {"AK": "ant-key"})
    assert completion == Completion("hello", Usage(30, 7, 37), "claude")
    (seen,) = openai_server.requests()
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == "ant-key"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers
    assert seen.body == {
        "model": "claude",
        "max_tokens": 4096,
        "system": "sys",
        "messages": [{"role": "user", "content": "hi there"}],
    }


def test_anthropic_concatenates_text_blocks(openai_server: ModelServer) -> None:
    body = (
        b'{"content": [{"type": "text", "text": "one "}, {"type": "tool_use", "id": "x"},'
        b' {"type": "text", "text": "two"}], "usage": {"input_tokens": 1, "output_tokens": 2}}'
    )
    openai_server.script("c", Reply.raw(body))
    completion = ask(http_spec(openai_server, "c", kind="anthropic", max_tokens=50), Request("q"))
    assert completion.text == "one two"
    assert completion.usage == Usage(1, 2, 3)
    assert openai_server.requests()[0].body["max_tokens"] == 50  # type: ignore[index]


def test_anthropic_base_url_may_end_in_v1(openai_server: ModelServer) -> None:
    spec = http_spec(openai_server, "c", kind="anthropic", command=openai_server.url)
    assert ask(spec, Request("q")).text == "q"
    assert openai_server.requests()[0].path == "/v1/messages"


# -- status classes ---------------------------------------------------------------

STATUS_CLASSES = [
    (500, "server", True),
    (503, "server", True),
    (408, "server", True),
    (401, "auth", False),
    (403, "auth", False),
    (400, "client", False),
    (404, "client", False),
    (422, "client", False),
    (429, "rate_limit", True),
]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize(("status", "error_kind", "retryable"), STATUS_CLASSES)
def test_status_classes(
    openai_server: ModelServer, kind: str, status: int, error_kind: str, retryable: bool
) -> None:
    openai_server.script("m", Reply.fail(status, "the server's reason"))
    error = fails(http_spec(openai_server, "m", kind=kind))  # type: ignore[arg-type]
    assert (error.kind, error.retryable, error.status) == (error_kind, retryable, status)
    assert error.message.startswith(f"backend 'm': HTTP {status}")
    assert "the server's reason" in error.message


def test_retry_after_in_seconds(openai_server: ModelServer) -> None:
    openai_server.script("m", Reply.rate_limited("7"))
    error = fails(http_spec(openai_server, "m"))
    assert error.retry_after == 7.0 and "retry after 7s" in error.message


def test_retry_after_as_an_http_date(openai_server: ModelServer) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    openai_server.script("m", Reply.rate_limited(when))
    error = fails(http_spec(openai_server, "m"))
    assert error.retry_after is not None and 27 <= error.retry_after <= 31


def test_retry_after_ms_is_preferred(openai_server: ModelServer) -> None:
    openai_server.script(
        "m", Reply(status=429, headers={"retry-after-ms": "1500", "Retry-After": "9"})
    )
    assert fails(http_spec(openai_server, "m")).retry_after == 1.5


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(email.utils.formatdate(now + 12, usegmt=True), now=now) == 12.0
    assert parse_retry_after(email.utils.formatdate(now - 12, usegmt=True), now=now) == 0.0
    for nonsense in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(nonsense) is None


# -- malformed bodies ------------------------------------------------------------------

MALFORMED = [
    ("openai", b"<html>bad gateway</html>", "not JSON"),
    ("openai", b'{"id": "x"}', "no choices"),
    ("openai", b'{"choices": []}', "choices is not a non-empty list"),
    ("openai", b'{"choices": [{"message": {"content": null}}]}', "content is missing"),
    ("openai", b"[1, 2]", "not a JSON object"),
    ("openai", b"\xff\xfe not utf-8", "not JSON"),
    ("anthropic", b'{"type": "message"}', "no content list"),
    ("anthropic", b'{"content": [{"type": "text"}]}', "a text block has no text"),
]


@pytest.mark.parametrize(("kind", "body", "what"), MALFORMED)
def test_malformed_bodies(openai_server: ModelServer, kind: str, body: bytes, what: str) -> None:
    openai_server.script("m", Reply.raw(body))
    error = fails(http_spec(openai_server, "m", kind=kind))  # type: ignore[arg-type]
    assert error.kind == "malformed" and not error.retryable
    assert error.message.startswith("backend 'm': malformed response (HTTP 200)")
    assert what in error.message


def test_a_malformed_body_is_quoted_briefly(openai_server: ModelServer) -> None:
    openai_server.script("m", Reply.raw("z" * 100_000))
    error = fails(http_spec(openai_server, "m"))
    assert "zzzz" in error.message and len(error.message) < 400


# -- transport failures -------------------------------------------------------------------


def test_connection_refused_is_a_retryable_connection_error(openai_server: ModelServer) -> None:
    spec = http_spec(openai_server, "m", command="http://127.0.0.1:9/v1")  # discard port
    error = fails(spec)
    assert error.kind == "connection" and error.retryable
    assert "http://127.0.0.1:9" in error.message


def test_timeout_is_retryable_only_with_retry_timeout(openai_server: ModelServer) -> None:
    openai_server.script("m", Reply(latency=1.0), Reply(latency=1.0))
    error = fails(http_spec(openai_server, "m", timeout=0.2))
    assert error.kind == "timeout" and not error.retryable
    assert "timed out after 0.2s" in error.message
    assert fails(http_spec(openai_server, "m", timeout=0.2, retry_timeout=True)).retryable


def test_unset_variable_at_call_time(openai_server: ModelServer) -> None:
    error = fails(http_spec(openai_server, "m", api_key="${NOPE}"))
    assert error.kind == "unavailable"
    assert "${NOPE} is not set (backends.m.api_key)" in error.message


def test_a_url_that_is_not_http(openai_server: ModelServer) -> None:
    error = fails(http_spec(openai_server, "m", command="ftp://example.invalid/v1"))
    assert error.kind == "client" and not error.retryable


# -- the shared client ---------------------------------------------------------------------


def test_many_concurrent_calls_share_keep_alive_connections(openai_server: ModelServer) -> None:
    openai_server.default = Reply(latency=0.3)
    spec = http_spec(openai_server, "m")

    async def go() -> list[Completion]:
        async with transport_for(spec) as transport:
            first = await asyncio.gather(*(transport.complete(Request(str(i))) for i in range(64)))
            again = await asyncio.gather(*(transport.complete(Request(str(i))) for i in range(64)))
            return [*first, *again]

    answers = run(go())
    assert [a.text for a in answers] == [str(i) for i in range(64)] * 2
    assert openai_server.max_in_flight() == 64  # every call of a batch in flight at once
    assert len({r.port for r in openai_server.requests()}) <= 64  # the second batch reuses them

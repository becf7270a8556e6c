"""The retry policy: what is retried, how often, and how long it waits."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from support.backends import RecordingSleep, http_spec, run
from support.openai_server import ModelServer, Reply

from llm_mux.backends import BackendError, Completion, Request, call_with_retries
from llm_mux.backends.client import make_client
from llm_mux.backends.http import OpenAITransport
from llm_mux.backends.retry import MAX_DELAY, Pacing, backoff_delay
from llm_mux.compiler.plan import BackendSpec


class Scripted:
    """A transport answering from a script: errors are raised, strings answered."""

    def __init__(self, script: Sequence[BackendError | str]) -> None:
        self.script = list(script)
        self.calls = 0

    async def complete(self, request: Request) -> Completion:
        self.calls += 1
        step = self.script.pop(0)
        if isinstance(step, BackendError):
            raise step
        return Completion(step)


def spec(**settings: object) -> BackendSpec:
    values: dict[str, object] = {"name": "b", "kind": "cli", "command": "x", "retry_delay": 1.0}
    values.update(settings)
    return BackendSpec(**values)  # type: ignore[arg-type]


def server_error() -> BackendError:
    return BackendError("backend 'b': HTTP 503", kind="server", retryable=True, status=503)


def call(transport: Scripted, backend: BackendSpec, sleep: RecordingSleep) -> Completion:
    completion, _ = run(
        call_with_retries("b", transport, backend, Request("q"), pacing=Pacing(sleep, lambda: 0.5))
    )
    return completion


def test_retries_retryable_failures_with_exponential_backoff() -> None:
    transport, sleep = (
        Scripted([server_error(), server_error(), server_error(), "ok"]),
        RecordingSleep(),
    )
    assert call(transport, spec(max_retries=3), sleep).text == "ok"
    assert transport.calls == 4
    assert sleep.delays == [1.0, 2.0, 4.0]  # rng 0.5 → jitter factor 1


def test_gives_up_after_max_retries_with_every_attempt_recorded() -> None:
    transport, sleep = Scripted([server_error()] * 5), RecordingSleep()
    with pytest.raises(BackendError) as caught:
        call(transport, spec(max_retries=2), sleep)
    assert transport.calls == 3
    error = caught.value
    assert len(error.attempts) == 3 and all(a.kind == "server" for a in error.attempts)
    assert all(a.status == 503 and a.error == "backend 'b': HTTP 503" for a in error.attempts)
    assert error.message.endswith("(gave up after 3 attempts)")


def test_max_retries_zero_makes_one_attempt() -> None:
    transport = Scripted([server_error()])
    with pytest.raises(BackendError):
        call(transport, spec(max_retries=0), RecordingSleep())
    assert transport.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        BackendError("auth", kind="auth", retryable=False, status=401),
        BackendError("client", kind="client", retryable=False, status=400),
        BackendError("exit", kind="exit", retryable=False),
        BackendError("missing", kind="not_found", retryable=False),
        BackendError("bad body", kind="malformed", retryable=False),
    ],
)
def test_non_retryable_failures_are_not_retried(error: BackendError) -> None:
    transport, sleep = Scripted([error, "never reached"]), RecordingSleep()
    with pytest.raises(BackendError) as caught:
        call(transport, spec(), sleep)
    assert transport.calls == 1 and sleep.delays == []
    assert caught.value.kind == error.kind and len(caught.value.attempts) == 1


def test_timeouts_are_retried_only_with_retry_timeout() -> None:
    timeout = BackendError("slow", kind="timeout", retryable=True)
    transport = Scripted([timeout, "ok"])
    with pytest.raises(BackendError):
        call(transport, spec(retry_timeout=False), RecordingSleep())
    assert transport.calls == 1
    assert call(Scripted([timeout, "ok"]), spec(retry_timeout=True), RecordingSleep()).text == "ok"


def test_rate_limits_are_retried_only_with_retry_rate_limit() -> None:
    limited = BackendError("429", kind="rate_limit", retryable=True, status=429)
    transport = Scripted([limited, "ok"])
    with pytest.raises(BackendError):
        call(transport, spec(retry_rate_limit=False), RecordingSleep())
    assert transport.calls == 1
    assert call(Scripted([limited, "ok"]), spec(), RecordingSleep()).text == "ok"


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    limited = BackendError("429", kind="rate_limit", retryable=True, retry_after=7.0)
    short = BackendError("429", kind="rate_limit", retryable=True, retry_after=0.1)
    sleep = RecordingSleep()
    call(Scripted([limited, short, "ok"]), spec(), sleep)
    assert sleep.delays == [7.0, 2.0]


def test_backoff_jitter_and_cap() -> None:
    assert backoff_delay(1.0, 0, None, lambda: 0.0) == 0.5
    assert backoff_delay(1.0, 0, None, lambda: 0.999) == pytest.approx(1.499)
    assert backoff_delay(1.0, 3, None, lambda: 0.5) == 8.0
    assert backoff_delay(1.0, 10, None, lambda: 0.5) == MAX_DELAY
    assert backoff_delay(1.0, 0, 3600.0, lambda: 0.5) == MAX_DELAY
    assert backoff_delay(0.0, 5, None, lambda: 0.5) == 0.0


def test_retry_after_from_a_real_server_is_honoured(openai_server: ModelServer) -> None:
    openai_server.script("m", Reply.rate_limited("3"), Reply.fail(503), Reply(text="finally"))
    backend = http_spec(openai_server, "m", retry_delay=0.25)
    sleep = RecordingSleep()

    async def go() -> tuple[Completion, int]:
        async with make_client() as client:
            transport = OpenAITransport(backend, client=client, env={})
            completion, attempts = await call_with_retries(
                "m", transport, backend, Request("q"), pacing=Pacing(sleep, lambda: 0.5)
            )
            return completion, len(attempts)

    completion, attempts = run(go())
    assert completion.text == "finally" and attempts == 3
    assert sleep.delays == [3.0, 0.5]
    assert len(openai_server.requests("m")) == 3


def test_a_transport_that_does_not_name_its_backend_gets_named() -> None:
    anonymous = BackendError("it broke", kind="exit", retryable=False)
    with pytest.raises(BackendError) as caught:
        call(Scripted([anonymous]), spec(), RecordingSleep())
    assert caught.value.message == "backend 'b': it broke"


def test_a_successful_attempt_records_its_usage(openai_server: ModelServer) -> None:
    openai_server.script("m", Reply(text="x", usage=(3, 4)))
    backend = http_spec(openai_server, "m")

    async def go() -> list[object]:
        async with make_client() as client:
            transport = OpenAITransport(backend, client=client, env={})
            _, attempts = await call_with_retries("m", transport, backend, Request("q"))
            return [(a.error, a.kind, a.usage and a.usage.total_tokens) for a in attempts]

    assert run(go()) == [(None, None, 7)]

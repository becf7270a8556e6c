"""The retry policy: one backend call made of one or more attempts.

Input: a backend's name, its transport, its `BackendSpec` (retry settings) and
a request. Output: the completion and every `Attempt` made, or a
`BackendError` carrying those attempts.

Only retryable failures are retried, at most `max_retries` times after the
first attempt: connection errors and HTTP 5xx/408 always, rate limits when
`retry_rate_limit`, timeouts when `retry_timeout`. Before retry n (0-based) it
waits `retry_delay × 2**n`, scaled by a jitter factor in [0.5, 1.5) so that many
callers rate-limited together do not come back together; a server's
`Retry-After` is honoured (the longer of it and the backoff). Every wait is
capped at 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from llm_mux.compiler.plan import BackendSpec

from .types import Attempt, BackendError, Completion, Request, Transport

__all__ = [
    "MAX_DELAY",
    "REAL_PACING",
    "Attempt",
    "Pacing",
    "backoff_delay",
    "call_with_retries",
    "should_retry",
]

MAX_DELAY = 60.0

Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Pacing:
    """How the policy waits between attempts: the sleep and the jitter source
    (tests give a recording sleep and a fixed jitter)."""

    sleep: Sleep = asyncio.sleep
    rng: Callable[[], float] = random.random


REAL_PACING = Pacing()  # asyncio's sleep, random jitter


async def call_with_retries(
    name: str,
    transport: Transport,
    spec: BackendSpec,
    request: Request,
    *,
    pacing: Pacing = REAL_PACING,
    limit: contextlib.AbstractAsyncContextManager[object] | None = None,
) -> tuple[Completion, list[Attempt]]:
    """Call `transport` until it answers or the policy gives up.

    `limit` (the backend's `max_concurrent` semaphore, and the run's) is held during each
    attempt only — never while waiting to retry — and its wait is not counted
    in the attempt's duration.
    """
    attempts: list[Attempt] = []
    for retry in range(spec.max_retries + 1):
        try:
            completion = await _attempt(transport, request, limit, attempts)
        except BackendError as error:
            if retry == spec.max_retries or not should_retry(error, spec):
                raise _final(name, error, attempts) from error
            delay = backoff_delay(spec.retry_delay, retry, error.retry_after, pacing.rng)
            await pacing.sleep(delay)
            continue
        return completion, attempts
    raise AssertionError("unreachable: the last attempt returns or raises")


def should_retry(error: BackendError, spec: BackendSpec) -> bool:
    """Whether the policy retries this failure (the attempt budget aside)."""
    if error.kind == "rate_limit":
        return spec.retry_rate_limit
    if error.kind == "timeout":
        return spec.retry_timeout
    return error.retryable


def backoff_delay(
    base: float, retry: int, retry_after: float | None, rng: Callable[[], float]
) -> float:
    """Seconds to wait before retry number `retry` (0-based)."""
    backoff = base * 2.0**retry * (0.5 + rng())
    if retry_after is not None:
        backoff = max(backoff, retry_after)
    return min(backoff, MAX_DELAY)


async def _attempt(
    transport: Transport,
    request: Request,
    limit: contextlib.AbstractAsyncContextManager[object] | None,
    attempts: list[Attempt],
) -> Completion:
    async with limit if limit is not None else contextlib.nullcontext():
        started = time.perf_counter()
        try:
            completion = await transport.complete(request)
        except BackendError as error:
            attempts.append(_failed(error, started))
            raise
    attempts.append(Attempt(_elapsed_ms(started), usage=completion.usage, cost=completion.cost))
    return completion


def _failed(error: BackendError, started: float) -> Attempt:
    return Attempt(_elapsed_ms(started), error.message, error.kind, error.status)


def _final(name: str, error: BackendError, attempts: list[Attempt]) -> BackendError:
    message = error.message
    if f"'{name}'" not in message:  # a transport that does not name its backend
        message = f"backend '{name}': {message}"
    if len(attempts) > 1:
        message = f"{message} (gave up after {len(attempts)} attempts)"
    return error.with_attempts(attempts, message)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

"""The backend layer's vocabulary: what goes in, what comes out, what can go wrong.

Input: nothing — these are plain values shared by every transport.
Output: `Request` (prompt and optional system prompt), `Completion` (answer
text, token `Usage`, model), `Attempt` (one call as the run ledger records it),
`BackendError` (a failed call, classified by `kind`) and the `Transport`
protocol: one async method making ONE attempt. Retries, concurrency limits and
roles are layered on top (`retry.py`, `pool.py`), so a transport stays a
transport and tests can swap in their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "Attempt",
    "BackendError",
    "Completion",
    "ErrorKind",
    "Request",
    "Transport",
    "Usage",
]

ErrorKind = Literal[
    "timeout",  # the attempt ran out of time
    "rate_limit",  # HTTP 429
    "connection",  # could not connect, connection dropped
    "server",  # HTTP 5xx or 408
    "auth",  # HTTP 401/403
    "client",  # other HTTP 4xx, or a request that cannot be sent at all
    "exit",  # a CLI exited non-zero
    "not_found",  # a CLI command is missing or cannot be executed
    "malformed",  # the response is not what the protocol promises
    "too_large",  # the prompt cannot be passed the way the backend is configured
    "oversized",  # the answer is larger than max_response_bytes (it was made: maybe billed)
    "unavailable",  # the backend is disabled, unknown, or a ${VAR} it needs is unset
    "budget",  # refused before it started: the run's or the step's budget (llm_mux.budget)
]


@dataclass(frozen=True, slots=True)
class Request:
    """One prompt to one backend. `system` overrides the backend's own `system`."""

    prompt: str
    system: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class Completion:
    """An answer; `cost` is what the backend itself reported it cost (Claude Code's
    `total_cost_usd`, LiteLLM's `x-litellm-response-cost`), when it did."""

    text: str
    usage: Usage | None = None
    model: str | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call to a backend: what the run ledger records per backend call."""

    duration_ms: int
    error: str | None = None
    kind: str | None = None
    status: int | None = None
    usage: Usage | None = None
    cost: float | None = None  # reported by the backend; else priced from `usage`


class BackendError(Exception):
    """A failed backend call; `message` names the backend and never holds a secret.

    `attempts` is filled by `call_with_retries` (a new error, via `with_attempts`)
    so a caller can record every try, not only the last one.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        attempts: Sequence[Attempt] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind: ErrorKind = kind
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.attempts: tuple[Attempt, ...] = tuple(attempts)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"BackendError({self.message!r}, kind={self.kind!r}, status={self.status!r})"

    def with_attempts(
        self, attempts: Sequence[Attempt], message: str | None = None
    ) -> BackendError:
        """The same failure carrying the attempts that led to it."""
        return BackendError(
            self.message if message is None else message,
            kind=self.kind,
            retryable=self.retryable,
            retry_after=self.retry_after,
            status=self.status,
            attempts=attempts,
        )


class Transport(Protocol):
    """Sends one request to one backend, once; raises BackendError on failure."""

    async def complete(self, request: Request) -> Completion: ...

"""Backends: how a prompt reaches a model and how its answer comes back.

Input: the plan's `BackendSpec`s and `Route`s, a `Request`.
Output: `Completion`s, or classified `BackendError`s, with every attempt recorded.

`types` holds the vocabulary, `cli` and `http` the transports (one attempt
each), `retry` the retry policy, `pool` availability, concurrency limits and
roles. The HTTP transports are loaded on first access so that importing this
package never imports httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cli import CliTransport
from .pool import BackendOutcome, BackendPool, Check, RouteResult
from .retry import call_with_retries
from .types import Attempt, BackendError, Completion, ErrorKind, Request, Transport, Usage

if TYPE_CHECKING:
    from .http import AnthropicTransport, OpenAITransport

__all__ = [
    "AnthropicTransport",
    "Attempt",
    "BackendError",
    "BackendOutcome",
    "BackendPool",
    "Check",
    "CliTransport",
    "Completion",
    "ErrorKind",
    "OpenAITransport",
    "Request",
    "RouteResult",
    "Transport",
    "Usage",
    "call_with_retries",
]

_HTTP_NAMES = ("AnthropicTransport", "OpenAITransport")


def __getattr__(name: str) -> object:
    if name in _HTTP_NAMES:
        from . import http

        return getattr(http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Pricing one backend attempt, and what can be known about a backend in advance.

Input: an `Attempt` (usage as the backend reported it, or the failure) and the
backend's `BackendSpec` (`input_cost_per_million`, `output_cost_per_million`).
Output: the attempt's cost, `None` when it cannot be known; `usage_reported`
and `cost_knowable` say before a call whether its usage and cost will be known.

An attempt refused before any work (HTTP 5xx, 429, 4xx, no connection, a
budget's refusal) costs nothing. An answer without usage, a backend without
prices, or an attempt that may have generated tokens before failing (a
timeout, a CLI's non-zero exit, a malformed answer) has an unknown cost.
"""

from __future__ import annotations

from llm_mux.compiler import costs
from llm_mux.compiler.plan import BackendSpec

from ..backends.types import Attempt

__all__ = ["UNBILLED", "attempt_cost", "cost_knowable", "maybe_billed", "usage_reported"]

# Failures in which the provider did no work it bills for: nothing was generated.
UNBILLED = frozenset(
    {
        "rate_limit",
        "connection",
        "server",
        "auth",
        "client",
        "not_found",
        "too_large",
        "unavailable",
        "budget",
    }
)


def attempt_cost(attempt: Attempt, spec: BackendSpec | None) -> float | None:
    """What one attempt cost: what the backend reported (Claude Code, a LiteLLM proxy), else
    priced from its usage; 0 when nothing was billed, None when it cannot be known."""
    if attempt.cost is not None:
        return attempt.cost
    if attempt.usage is None:
        return None if maybe_billed(attempt) else 0.0
    if spec is None or spec.input_cost_per_million is None or spec.output_cost_per_million is None:
        return None
    used = attempt.usage
    return (
        used.prompt_tokens * spec.input_cost_per_million
        + used.completion_tokens * spec.output_cost_per_million
    ) / 1e6


def maybe_billed(attempt: Attempt) -> bool:
    """Whether an attempt may have been paid for (anything but a failure before any work)."""
    return attempt.error is None or attempt.kind not in UNBILLED


def usage_reported(spec: BackendSpec) -> bool:
    """Whether the backend's answers say how many tokens they used."""
    return costs.usage_reported(spec.kind, spec.output_format)


def cost_knowable(spec: BackendSpec) -> bool:
    """Whether a call's cost can be known: its usage is reported and it has prices."""
    prices = (spec.input_cost_per_million, spec.output_cost_per_million)
    return costs.cost_knowable(spec.kind, *prices, spec.output_format)

"""What can be known about a backend's cost before calling it: the one rule.

Input: a backend's kind and prices. Output: whether its answers report token
usage (the HTTP protocols do; a CLI's plain text does not) and whether a
call's cost can therefore be computed. The `validate` warnings (W801), the
estimates and the run's budget all ask here, so they never disagree.
"""

from __future__ import annotations

__all__ = ["cost_knowable", "usage_reported"]

_REPORTING_KINDS = frozenset({"openai", "anthropic"})


def usage_reported(kind: str) -> bool:
    """Whether a backend of this kind says how many tokens each answer used."""
    return kind in _REPORTING_KINDS


def cost_knowable(kind: str, input_price: float | None, output_price: float | None) -> bool:
    """Whether a call's cost can be computed: usage reported and both prices set."""
    return usage_reported(kind) and input_price is not None and output_price is not None

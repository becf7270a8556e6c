"""What can be known about a backend's cost before calling it: the one rule.

Input: a backend's kind, prices and CLI `output_format`. Output: whether its answers
report token usage (the HTTP protocols and agents' JSON do; a CLI's plain text does
not) and whether a
call's cost can therefore be computed. The `validate` warnings (W801), the
estimates and the run's budget all ask here, so they never disagree.
"""

from __future__ import annotations

__all__ = ["cost_knowable", "usage_reported"]

_REPORTING_KINDS = frozenset({"openai", "anthropic"})
_REPORTING_FORMATS = frozenset({"claude-json", "codex-json", "gemini-json"})  # CLI outputs
_COSTING_FORMATS = frozenset({"claude-json"})  # `total_cost_usd`


def usage_reported(kind: str, output_format: str = "text") -> bool:
    """Whether a backend of this kind says how many tokens each answer used: the HTTP
    protocols do, and so does a CLI agent whose JSON output llm-mux reads."""
    return kind in _REPORTING_KINDS or output_format in _REPORTING_FORMATS


def cost_knowable(
    kind: str, input_price: float | None, output_price: float | None, output_format: str = "text"
) -> bool:
    """Whether a call's cost can be known: reported by the tool itself (Claude Code's
    JSON), or computed from reported usage and both prices."""
    if output_format in _COSTING_FORMATS:
        return True
    reported = usage_reported(kind, output_format)
    return reported and input_price is not None and output_price is not None

"""Budgets: what a run may spend, checked before every backend call, and estimates.

Input: the plan's `max_cost` / `max_tokens` (workflow and step), the command
line's overrides, and what earlier runs of a resumed chain spent. Output: a
`Budget` the backend pool consults before each call (`Meter.admit`) and
charges after it (`Meter.charge`), and `estimate` — what a plan may cost,
computed before anything runs. `prices` holds the one rule for pricing a call.
"""

from __future__ import annotations

from .limits import Limits, money

# `meter` and `prices` import the backend layer: they are imported where they are used,
# so that naming the limits (`run`'s options) costs nothing.
__all__ = ["Limits", "money"]

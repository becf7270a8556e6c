"""Budget limits and how amounts are written in messages.

Input: numbers from the workflow, the command line or the ledger. Output:
`Limits` (frozen) and `money`, which prints two amounts with the same number of
decimals — at least two, more when a price needs them ("0.030 of 0.025").
"""

from __future__ import annotations

import msgspec

__all__ = ["Limits", "money"]

_MAX_DECIMALS = 6


class Limits(msgspec.Struct, frozen=True):
    """A run's budget: `None` means no limit of that kind."""

    max_cost: float | None = None
    max_tokens: int | None = None
    allow_unknown_cost: bool = False

    @property
    def any(self) -> bool:
        return self.max_cost is not None or self.max_tokens is not None

    def to_json(self) -> dict[str, object]:
        return {
            "max_cost": self.max_cost,
            "max_tokens": self.max_tokens,
            "allow_unknown_cost": self.allow_unknown_cost,
        }


def money(*amounts: float) -> tuple[str, ...]:
    """The amounts as text, all with the decimals the most precise of them needs."""
    decimals = max((_decimals(amount) for amount in amounts), default=2)
    return tuple(f"{amount:.{decimals}f}" for amount in amounts)


def _decimals(amount: float) -> int:
    decimals = 2
    while decimals < _MAX_DECIMALS and abs(round(amount, decimals) - amount) > 1e-9:
        decimals += 1
    return decimals

"""A query step's backend calls as `details.calls` shows them, kept small.

`--output json`, the run ledger and templates read `details["calls"]` as a list
of plain dicts (backend, model, ok, error, attempts, duration_ms, usage, cost).
Kept as such, one call costs about 800 bytes — a dict of eight keys, its usage
dict, the list and the details dict around them — and a for_each over 100,000
query items keeps one per item. `QueryDetails` keeps each call as a slotted
`Call` (about 100 bytes) and builds the dicts each time they are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ..running.results import Usage

__all__ = ["Call", "QueryDetails"]


@dataclass(frozen=True, slots=True)
class Call:
    """One backend's part in a query step."""

    backend: str
    model: str | None
    ok: bool
    error: str | None
    attempts: int
    duration_ms: int
    usage: Usage | None
    cost: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "model": self.model,
            "ok": self.ok,
            "error": self.error,
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "usage": self.usage.to_json() if self.usage else None,
            "cost": self.cost,
        }


class QueryDetails(Mapping[str, object]):
    """A query step's `details`: `{"calls": [call, …]}`, the dicts built when read."""

    __slots__ = ("_calls",)

    def __init__(self, calls: tuple[Call, ...]) -> None:
        self._calls = calls

    def __getitem__(self, key: str) -> object:
        if key != "calls":
            raise KeyError(key)
        return [call.to_json() for call in self._calls]

    def __iter__(self) -> Iterator[str]:
        yield "calls"

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return f"QueryDetails({self._calls!r})"

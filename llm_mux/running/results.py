"""Step results: what a step produced, as templates and `--output json` see it.

Input: built by the interpreter and the step executors. Output: frozen
`StepResult`s — the `steps.NAME.*` values of SPEC §3 — and their JSON form.
Templates read them through the sandbox, so the objects expose plain
attributes only; `Outputs` and `StepsView` are mappings *without* `items`,
`keys` or `get` attributes, so a step named `items` is reached as
`steps.items`, not the dict method.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "ItemDetails",
    "Outputs",
    "Status",
    "StepResult",
    "StepsView",
    "Usage",
    "add_usage",
    "result_from_record",
    "result_record",
    "taken_over",
]

Status = Literal["succeeded", "failed", "skipped", "cancelled", "pending"]

# One read-only empty mapping shared by every result without errors, inputs or details:
# a dict each is 64 bytes per result, 6 MB over a for_each of 100,000 items.
_NOTHING: Mapping[str, Any] = MappingProxyType({})


def _nothing() -> Mapping[str, Any]:
    return _NOTHING


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )

    def to_json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    if more is None:
        return total
    return more if total is None else total + more


class Outputs:
    """A query step's answers per backend, in role order.

    Iterating yields the answers (not the names), `outputs[0]` is the first
    answer, `outputs['claude']` and `outputs.claude` the answer of a backend.
    """

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        # (name, answer) pairs, not a dict: 130 bytes less per for_each query item.
        self._pairs = tuple(dict(pairs).items())

    def __getitem__(self, key: int | str) -> str:
        if isinstance(key, int):
            return self._pairs[key][1]
        for name, text in self._pairs:
            if name == key:
                return text
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (text for _, text in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, key: object) -> bool:
        return any(name == key for name, _ in self._pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outputs) and other._pairs == self._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __repr__(self) -> str:
        return f"Outputs({dict(self._pairs)!r})"

    def __str__(self) -> str:
        return "\n\n".join(f"=== {name} ===\n{text}" for name, text in self._pairs)

    def to_json(self) -> dict[str, str]:
        return dict(self._pairs)


@dataclass(frozen=True, slots=True)
class StepResult:
    """`steps.NAME` in templates; one entry of `steps` in `--output json`."""

    name: str
    type: str
    status: Status = "pending"
    output: str = ""
    outputs: Outputs | tuple[str, ...] = ()
    error: str | None = None
    duration_ms: int = 0
    backend: str | None = None
    backends: tuple[str, ...] = ()
    errors: Mapping[str, str] = field(default_factory=_nothing)
    json: object = None
    exit_code: int | None = None
    items: tuple[StepResult, ...] | None = None
    usage: Usage | None = None
    cost: float | None = None
    attempts: int = 0
    inputs: Mapping[str, str] = field(default_factory=_nothing)
    details: Mapping[str, object] = field(default_factory=_nothing)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def __getattr__(self, name: str) -> object:
        """Step-type fields kept in `details` (an apply step's `files_changed`, …)."""
        details = object.__getattribute__(self, "details")
        if name in details:
            return details[name]
        raise AttributeError(name)

    def with_status(self, status: Status, **changes: object) -> StepResult:
        return replace(self, status=status, **changes)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.output

    def to_json(self) -> dict[str, object]:
        outputs: object = (
            self.outputs.to_json() if isinstance(self.outputs, Outputs) else list(self.outputs)
        )
        document: dict[str, object] = {
            "type": self.type,
            "status": self.status,
            "output": self.output,
            "outputs": outputs,
            "failed": self.failed,
            "skipped": self.skipped,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "backend": self.backend,
            "backends": list(self.backends),
            "errors": dict(self.errors),
            "json": self.json,
            "exit_code": self.exit_code,
            "items": [item.to_json() for item in self.items] if self.items is not None else None,
            "usage": self.usage.to_json() if self.usage else None,
            "cost": self.cost,
            "attempts": self.attempts,
        }
        document.update(self.details)
        return document


def result_record(result: StepResult, *, with_output: bool = False) -> dict[str, object]:
    """Everything needed to rebuild `result` later (`runs resume`), as JSON-ready data.

    The step's own output is left out (the ledger keeps it in `output` and the
    output file), and so are its backend calls; a for_each step keeps its
    items, outputs included, and rebuilds `outputs` from them.
    """
    outputs: object = None
    if isinstance(result.outputs, Outputs):
        outputs = result.outputs.to_json()  # an object: JSON keeps its order
    elif result.items is None:
        outputs = list(result.outputs)
    record: dict[str, object] = {
        "type": result.type,
        "status": result.status,
        "outputs": outputs,
        "error": result.error,
        "backend": result.backend,
        "backends": list(result.backends),
        "errors": dict(result.errors),
        "json": result.json,
        "exit_code": result.exit_code,
        "items": None
        if result.items is None
        else [result_record(item, with_output=True) for item in result.items],
        "attempts": result.attempts,
        "inputs": dict(result.inputs),
        # Backend calls are rows of their own in the ledger, and a reuse makes none.
        "details": {key: value for key, value in result.details.items() if key != "calls"},
    }
    if with_output:
        record["output"] = result.output
    return record


def taken_over(result: StepResult, origin: str, mark: str) -> StepResult:
    """`result` taken over by a new run — reused by a resume (`mark` = "reused_from") or
    from the cache ("cached_from"): nothing spent, no backend called, `origin` named (the
    run that paid for it; kept when `result` already names one)."""
    named = result.details.get(mark)
    origin = named if isinstance(named, str) else origin
    details = {key: value for key, value in result.details.items() if key != "calls"}
    details[mark] = origin
    items = (
        None if result.items is None else tuple(taken_over(i, origin, mark) for i in result.items)
    )
    paid = result.cost is not None or result.type == "query"
    return replace(
        result,
        usage=None,
        cost=0.0 if paid else None,
        attempts=0,
        duration_ms=0,
        items=items,
        details=details,
    )


def result_from_record(name: str, record: Mapping[str, object], output: str) -> StepResult:
    """The result `result_record` describes, with `output` put back."""
    items = record.get("items")
    rebuilt = (
        tuple(
            result_from_record(f"{name}[{index}]", item, str(item.get("output", "")))
            for index, item in enumerate(items)
            if isinstance(item, Mapping)
        )
        if isinstance(items, list)
        else None
    )
    return StepResult(
        name,
        str(record.get("type", "")),
        _status(record.get("status")),
        output=output,
        outputs=_outputs(record.get("outputs"), rebuilt),
        error=_text(record.get("error")),
        backend=_text(record.get("backend")),
        backends=tuple(str(b) for b in _list(record.get("backends"))),
        errors={str(k): str(v) for k, v in _mapping(record.get("errors")).items()},
        json=record.get("json"),
        exit_code=code if isinstance(code := record.get("exit_code"), int) else None,
        items=rebuilt,
        attempts=count if isinstance(count := record.get("attempts"), int) else 0,
        inputs={str(k): str(v) for k, v in _mapping(record.get("inputs")).items()},
        details=dict(_mapping(record.get("details"))),
    )


def _outputs(value: object, items: tuple[StepResult, ...] | None) -> Outputs | tuple[str, ...]:
    if items is not None:
        return tuple(item.output for item in items)
    if isinstance(value, Mapping):
        return Outputs([(str(name), str(text)) for name, text in value.items()])
    return tuple(str(text) for text in _list(value))


def _status(value: object) -> Status:
    statuses: tuple[Status, ...] = ("succeeded", "failed", "skipped", "cancelled", "pending")
    return next((status for status in statuses if status == value), "pending")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


class ItemDetails(Mapping[str, object]):
    """A for_each item's `details`: its own result's, and `item` — the value it ran for.

    The same as `{**details, "item": item}`, in 48 bytes instead of a dict's 184: one
    per item, 100,000 of them in a large for_each.
    """

    __slots__ = ("_details", "_item")

    def __init__(self, details: Mapping[str, object], item: object) -> None:
        self._details = details
        self._item = item

    def __getitem__(self, key: str) -> object:
        return self._item if key == "item" else self._details[key]

    def __iter__(self) -> Iterator[str]:
        yield from (key for key in self._details if key != "item")
        yield "item"

    def __len__(self) -> int:
        return len(self._details) + ("item" not in self._details)


class StepsView:
    """`steps` in templates: results by step name, with no dict methods in the way."""

    __slots__ = ("_results",)

    def __init__(self, results: Mapping[str, StepResult]) -> None:
        self._results = results

    def __getitem__(self, name: str) -> StepResult:
        return self._results[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __contains__(self, name: object) -> bool:
        return name in self._results

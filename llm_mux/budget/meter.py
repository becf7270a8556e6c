"""The budget of a running workflow: spent amounts, checked before every backend call.

Input: the run's `Limits`, what earlier runs of a resumed chain spent, and each
step's own `max_cost` / `max_tokens`. Output: a `Budget` with one `Meter` per
step. The backend pool wraps each transport of a metered call in `Metered`:
before an attempt starts, `Meter.admit` checks the run's and the step's spent
amounts and refuses (a `BackendError` of kind `budget`) once a limit is
reached, or when the attempt's cost or usage could not be known under that
limit; after it, `Meter.charge` adds what it cost.

Calls already in flight when a limit is reached are not cancelled: the
provider bills a cancelled generation anyway, and their answers are recorded
so a resumed run reuses them. That is why the spent amount can end above the
limit ("budget exceeded: 2.53 of 2.50"). `Budget.stopped` says the run must
start nothing new; `Budget.summary` is the run's error.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_mux.compiler.plan import BackendSpec, StepPlan

from ..backends.types import Attempt, BackendError, Completion, Request, Transport
from .limits import Limits, money
from .prices import attempt_cost, cost_knowable, maybe_billed, usage_reported

__all__ = ["Budget", "Meter", "Metered", "Scope"]


@dataclass(slots=True)
class Scope:
    """One set of limits and what was spent under them: the run's, or one step's."""

    label: str  # "" for the run, "step 'name'" for a step
    max_cost: float | None
    max_tokens: int | None
    cost: float = 0.0
    tokens: int = 0
    unknown: int = 0  # calls whose cost (or usage) could not be known

    def exceeded(self) -> str | None:
        """ "budget exceeded: X of Y" once a limit is reached, else None."""
        where = f" (max_cost of {self.label})" if self.label else ""
        if self.max_cost is not None and self.cost >= self.max_cost:
            spent, limit = money(self.cost, self.max_cost)
            return f"budget exceeded: {spent} of {limit}{where}"
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            tokens = f" (max_tokens of {self.label})" if self.label else ""
            return f"token budget exceeded: {self.tokens} of {self.max_tokens} tokens{tokens}"
        return None


class Budget:
    """Every limit of one run; `carried_*` is what earlier runs of a resumed chain spent."""

    def __init__(
        self, limits: Limits, *, carried_cost: float = 0.0, carried_tokens: int = 0
    ) -> None:
        self.limits = limits
        self.run = Scope("", limits.max_cost, limits.max_tokens, carried_cost, carried_tokens)
        self.steps: dict[str, Scope] = {}
        self.stopped: str | None = None  # why no new call or step may start

    def meter(self, step: StepPlan) -> Meter:
        """The meter of a step's calls: the run's limits, and the step's own when it has any."""
        scopes = [self.run]
        if step.max_cost is not None or step.max_tokens is not None:
            scope = self.steps.get(step.name)
            if scope is None:
                label = f"step '{step.name}'"
                scope = self.steps[step.name] = Scope(label, step.max_cost, step.max_tokens)
            scopes.append(scope)
        return Meter(self, tuple(scopes))

    def summary(self) -> str | None:
        """The run's error once a budget stopped it, with the amounts spent by now."""
        if self.stopped is None:
            return None
        for scope in (self.run, *self.steps.values()):
            exceeded = scope.exceeded()
            if exceeded is not None:
                return exceeded
        return self.stopped  # an unknown cost was refused


@dataclass(frozen=True, slots=True)
class Meter:
    budget: Budget
    scopes: tuple[Scope, ...]

    def admit(self, name: str, spec: BackendSpec) -> None:
        """Raise `BackendError(kind="budget")` when this call may not start."""
        for scope in self.scopes:
            stop = scope.exceeded() or self._unknown_spent(scope)
            if stop is not None and self.budget.stopped is None:
                self.budget.stopped = stop  # the run ends: nothing new starts
            problem = stop or self._unknowable(scope, spec)
            if problem is not None:
                raise BackendError(f"backend '{name}': {problem}", kind="budget", retryable=False)

    def _unknown_spent(self, scope: Scope) -> str | None:
        if not scope.unknown or self.budget.limits.allow_unknown_cost:
            return None
        return f"an earlier call's cost is unknown, so {_whose(scope)} budget cannot be kept"

    def _unknowable(self, scope: Scope, spec: BackendSpec) -> str | None:
        """Why this backend's cost could not be counted against `scope`, if it could not."""
        if self.budget.limits.allow_unknown_cost:
            return None
        where = _whose(scope)
        if scope.max_cost is not None and not cost_knowable(spec):
            why = "reports no token usage" if not usage_reported(spec) else "has no prices"
            return (
                f"its cost cannot be known ({why}) and {where} max_cost is "
                f"{money(scope.max_cost)[0]}: set input_cost_per_million and "
                "output_cost_per_million, or allow unknown costs (allow_unknown_cost = true, "
                "run --allow-unknown-cost)"
            )
        if scope.max_tokens is not None and not usage_reported(spec):
            return (
                f"it reports no token usage and {where} max_tokens is {scope.max_tokens}: "
                "allow unknown costs (allow_unknown_cost = true, run --allow-unknown-cost)"
            )
        return None

    def charge(self, spec: BackendSpec, attempt: Attempt) -> None:
        """Add what one finished attempt cost to every scope."""
        cost = attempt_cost(attempt, spec)
        tokens = attempt.usage.total_tokens if attempt.usage is not None else None
        for scope in self.scopes:
            if cost is not None:
                scope.cost += cost
            elif scope.max_cost is not None:
                scope.unknown += 1
            if tokens is not None:
                scope.tokens += tokens
            elif scope.max_tokens is not None and maybe_billed(attempt):
                scope.unknown += 1


def _whose(scope: Scope) -> str:
    return f"{scope.label}'s" if scope.label else "the run's"


class Metered:
    """A transport whose every attempt is admitted and charged by a `Meter`."""

    def __init__(self, name: str, inner: Transport, spec: BackendSpec, meter: Meter) -> None:
        self.name = name
        self.inner = inner
        self.spec = spec
        self.meter = meter

    async def complete(self, request: Request) -> Completion:
        self.meter.admit(self.name, self.spec)
        try:
            completion = await self.inner.complete(request)
        except BackendError as error:
            self.meter.charge(self.spec, Attempt(0, error.message, error.kind, error.status))
            raise
        self.meter.charge(self.spec, Attempt(0, usage=completion.usage))
        return completion

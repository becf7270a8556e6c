"""The run's backends: availability, concurrency limits, and roles.

Input: every `BackendSpec` of the plan, the project root, the run's
environment, optionally transports injected in place of the real ones (tests).
Output: `run_route` answers one prompt through a `Route` — `first`, `fallback`
or `parallel`, exactly as SPEC §2 says — as a `RouteResult` with one
`BackendOutcome` per backend called, in role order; `complete` calls one
backend. The pool owns what is shared for the whole run: the one HTTP client
(created on first use of an HTTP backend, so CLI-only runs never import httpx),
one transport per backend, and one semaphore per backend with `max_concurrent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self, assert_never

from llm_mux.compiler.envvars import UnsetVariable, expand_env
from llm_mux.compiler.plan import BackendSpec, Route
from llm_mux.redact import Redactor

from .cli import CliTransport
from .resolve import unset_variable
from .retry import REAL_PACING, Pacing, call_with_retries
from .types import Attempt, BackendError, Completion, Request, Transport

if TYPE_CHECKING:
    import httpx

    from llm_mux.executors import Executor

    from ..budget.meter import Meter

__all__ = ["BackendOutcome", "BackendPool", "Check", "RouteResult"]

_SHOWN = 200  # characters of an invalid answer quoted in its error


@dataclass(frozen=True, slots=True)
class Check:
    """Validation of an answer (e.g. against an `output_schema`), with re-asks.

    `validate(text)` returns None or what is wrong; on a problem the SAME backend
    is asked `reprompt(original_prompt, bad_answer, problem)`, up to `retries` times.
    """

    validate: Callable[[str], str | None]
    retries: int
    reprompt: Callable[[str, str, str], str]


@dataclass(frozen=True, slots=True)
class BackendOutcome:
    """One backend's part in a route: its answer or its error, and every attempt."""

    backend: str
    completion: Completion | None
    error: str | None
    attempts: tuple[Attempt, ...]
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class RouteResult:
    """A route's outcomes in role order; `unavailable` maps backends passed over to why."""

    ok: bool
    outcomes: tuple[BackendOutcome, ...]
    unavailable: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def succeeded(self) -> tuple[BackendOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if outcome.ok)


class BackendPool:
    """Every backend of one run. Use as `async with BackendPool(...) as pool:`."""

    def __init__(
        self,
        specs: Mapping[str, BackendSpec],
        *,
        root: Path,
        env: Mapping[str, str],
        transports: Mapping[str, Transport] | None = None,
        pacing: Pacing = REAL_PACING,
        max_concurrent: int | None = None,
        executor: Executor | None = None,
    ) -> None:
        """`max_concurrent`: at most this many calls at once over every backend."""
        self._specs = dict(specs)
        self._everyone = asyncio.Semaphore(max_concurrent) if max_concurrent else None
        self._root = root
        self._env = env
        self._executor = executor  # where CLI backends' processes run; None: here
        self._injected = dict(transports or {})
        self._pacing = pacing
        self._transports: dict[str, Transport] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._availability: dict[str, str | None] = {}
        self._client: httpx.AsyncClient | None = None
        self._redactor = Redactor.for_run(env, self._specs.values())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client, if one was made."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # -- availability ---------------------------------------------------------

    def availability(self, name: str) -> str | None:
        """None when `name` can be called, else why not (computed once per run)."""
        if name not in self._availability:
            self._availability[name] = self._unavailable_reason(name)
        return self._availability[name]

    def _unavailable_reason(self, name: str) -> str | None:
        spec = self._specs.get(name)
        if spec is None:
            return f"no backend named '{name}' is configured"
        if not spec.enabled:
            return "disabled (enabled = false)"
        if name in self._injected:
            return None
        unset = unset_variable(spec, self._env)
        if unset is not None:
            return unset
        if spec.kind == "cli":
            if self._executor is not None and not self._executor.local:
                return self._executor.unavailable(name)  # found on the workers, not here
            return self._missing_command(spec)
        return _bad_url(spec, self._env)

    def _missing_command(self, spec: BackendSpec) -> str | None:
        """Why the program to start is missing: the command, or its `command_wrapper`."""
        if spec.wrapper:
            if shutil.which(spec.wrapper[0], path=self._search_path(spec)) is None:
                return f"command_wrapper '{spec.wrapper[0]}' not found on PATH"
            return None
        command = expand_env(spec.command, self._env)
        if "/" in command:  # a path, relative to the project root where the CLI runs
            path = self._root / command
            found = path.is_file() and os.access(path, os.X_OK)
            return None if found else f"command '{command}' not found or not executable"
        if shutil.which(command, path=self._search_path(spec)) is None:
            return f"command '{command}' not found on PATH"
        return None

    def _search_path(self, spec: BackendSpec) -> str | None:
        """The PATH the process will be started with: the backend's env table wins."""
        for key, value in spec.env:
            if key == "PATH":
                return expand_env(value, self._env)
        return self._env.get("PATH", os.defpath)

    def prepare(self, names: Iterable[str]) -> None:
        """Build the transports of these backends now (those available).

        The first HTTP backend costs a one-time ~0.3 s (importing httpx, the
        client, its first pool); a runner calls this before its first step
        starts so that no step's duration includes it.
        """
        for name in dict.fromkeys(names):
            if self.availability(name) is None:
                self._transport(name)

    # -- calls ------------------------------------------------------------------

    async def complete(
        self, name: str, request: Request, meter: Meter | None = None
    ) -> tuple[Completion, list[Attempt]]:
        """One backend, with its retries and its concurrency limit; each attempt
        admitted and charged by `meter` (the run's budget) when one is given."""
        reason = self.availability(name)
        if reason is not None:
            message = f"backend '{name}' is unavailable: {reason}"
            raise BackendError(message, kind="unavailable", retryable=False)
        transport = self._transport(name)
        if meter is not None:
            from ..budget.meter import Metered

            transport = Metered(name, transport, self._specs[name], meter)
        return await call_with_retries(
            name,
            transport,
            self._specs[name],
            request,
            pacing=self._pacing,
            limit=self._limit(name),
        )

    async def run_route(
        self,
        route: Route,
        request: Request,
        *,
        check: Check | None = None,
        meter: Meter | None = None,
    ) -> RouteResult:
        """Answer `request` through `route`; never raises for a backend's failure."""
        unavailable = {n: r for n in route.backends if (r := self.availability(n)) is not None}
        available = [name for name in route.backends if name not in unavailable]
        if not available:
            return RouteResult(False, (), unavailable, _none_available(route, unavailable))
        match route.execution:
            case "first":
                outcomes = [await self._outcome(available[0], request, check, meter)]
                ok = outcomes[0].ok
            case "fallback":
                outcomes = await self._fallback(available, request, check, meter)
                ok = outcomes[-1].ok
            case "parallel":
                if route.min_success > len(available):  # cannot succeed: spend nothing
                    too_few = _too_few(route, available, unavailable)
                    return RouteResult(False, (), unavailable, too_few)
                outcomes = await self._parallel(available, request, check, meter)
                ok = sum(outcome.ok for outcome in outcomes) >= route.min_success
            case _:
                assert_never(route.execution)
        error = None if ok else _route_error(route, outcomes, unavailable)
        return RouteResult(ok, tuple(outcomes), unavailable, error)

    async def _fallback(
        self, names: list[str], request: Request, check: Check | None, meter: Meter | None
    ) -> list[BackendOutcome]:
        outcomes: list[BackendOutcome] = []
        for name in names:
            outcomes.append(await self._outcome(name, request, check, meter))
            if outcomes[-1].ok:
                break
        return outcomes

    async def _parallel(
        self, names: list[str], request: Request, check: Check | None, meter: Meter | None
    ) -> list[BackendOutcome]:
        # A TaskGroup: cancelling the route cancels every call (CLI groups are killed).
        async with asyncio.TaskGroup() as group:
            calls = [self._outcome(name, request, check, meter) for name in names]
            tasks = [group.create_task(call) for call in calls]
        return [task.result() for task in tasks]  # role order, not completion order

    async def _outcome(
        self, name: str, request: Request, check: Check | None, meter: Meter | None
    ) -> BackendOutcome:
        started = time.perf_counter()
        attempts: list[Attempt] = []
        ask = functools.partial(self._ask, name, meter=meter, attempts=attempts)
        try:
            completion = await ask(request)
            if check is not None:
                completion = await self._checked(name, ask, request, completion, check)
        except BackendError as error:
            return BackendOutcome(name, None, error.message, tuple(attempts), _ms(started))
        return BackendOutcome(name, completion, None, tuple(attempts), _ms(started))

    async def _ask(
        self, name: str, request: Request, *, meter: Meter | None, attempts: list[Attempt]
    ) -> Completion:
        try:
            completion, made = await self.complete(name, request, meter)
        except BackendError as error:
            attempts.extend(error.attempts)
            raise
        attempts.extend(made)
        return completion

    async def _checked(
        self,
        name: str,
        ask: Callable[[Request], Awaitable[Completion]],
        request: Request,
        completion: Completion,
        check: Check,
    ) -> Completion:
        """Re-ask the same backend while its answer fails `check` and re-asks remain."""
        problem = check.validate(completion.text)
        for _ in range(check.retries):
            if problem is None:
                break
            prompt = check.reprompt(request.prompt, completion.text, problem)
            completion = await ask(Request(prompt, request.system))
            problem = check.validate(completion.text)
        if problem is None:
            return completion
        answer = self._redactor.cut(completion.text, _SHOWN)  # secrets out before the cut
        message = _invalid(name, check.retries, problem, answer)
        raise BackendError(message, kind="malformed", retryable=False)

    # -- shared resources --------------------------------------------------------

    def _transport(self, name: str) -> Transport:
        transport = self._injected.get(name) or self._transports.get(name)
        if transport is None:
            transport = self._transports[name] = self._build(self._specs[name])
        return transport

    def _build(self, spec: BackendSpec) -> Transport:
        if spec.kind == "cli":
            return CliTransport(spec, root=self._root, env=self._env, executor=self._executor)
        from . import client, http  # httpx is imported only when an HTTP backend is used

        if self._client is None:
            self._client = client.make_client()
        if spec.kind == "openai":
            return http.OpenAITransport(spec, client=self._client, env=self._env)
        return http.AnthropicTransport(spec, client=self._client, env=self._env)

    def _limit(self, name: str) -> contextlib.AbstractAsyncContextManager[object] | None:
        """The backend's one semaphore for the whole run, if it has `max_concurrent`,
        and the run's, if `[defaults]` has one."""
        limit = self._specs[name].max_concurrent
        if limit is not None and name not in self._limits:
            self._limits[name] = asyncio.Semaphore(limit)
        own = self._limits.get(name)
        if own is not None and self._everyone is not None:
            return _Both(own, self._everyone)
        return own or self._everyone


class _Both:
    """Two semaphores held together, always taken in the same order (no deadlock)."""

    def __init__(self, first: asyncio.Semaphore, second: asyncio.Semaphore) -> None:
        self.first = first
        self.second = second

    async def __aenter__(self) -> None:
        await self.first.acquire()
        try:
            await self.second.acquire()
        except BaseException:
            self.first.release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.second.release()
        self.first.release()


def _bad_url(spec: BackendSpec, env: Mapping[str, str]) -> str | None:
    try:
        url = expand_env(spec.command, env)
    except UnsetVariable:  # reported by unset_variable before this is reached
        return None
    if spec.kind == "anthropic" and not url:
        return None  # the default https://api.anthropic.com
    if not url.startswith(("http://", "https://")):
        return f"command is not an http:// or https:// URL (backends.{spec.name}.command)"
    return None


def _none_available(route: Route, unavailable: Mapping[str, str]) -> str:
    reasons = "; ".join(f"{name}: {reason}" for name, reason in unavailable.items())
    if route.role is None and len(unavailable) == 1:
        name, reason = next(iter(unavailable.items()))
        return f"backend '{name}' is unavailable: {reason}"
    return f"no available backend for role '{route.role}' — {reasons}"


def _too_few(route: Route, available: list[str], unavailable: Mapping[str, str]) -> str:
    return (
        f"role '{route.role}' needs {route.min_success} successful backends but only "
        f"{len(available)} of {len(route.backends)} are available{_passed_over(unavailable)}"
    )


def _route_error(
    route: Route, outcomes: list[BackendOutcome], unavailable: Mapping[str, str]
) -> str:
    failures = "; ".join(outcome.error for outcome in outcomes if outcome.error)
    if route.execution == "parallel":
        succeeded = sum(outcome.ok for outcome in outcomes)
        summary = f"{succeeded} of {len(outcomes)} backends succeeded, {route.min_success} needed"
    elif route.execution == "fallback" and len(outcomes) > 1:
        summary = f"all {len(outcomes)} available backends failed"
    else:
        return failures + _passed_over(unavailable)
    return f"{summary}: {failures}{_passed_over(unavailable)}"


def _passed_over(unavailable: Mapping[str, str]) -> str:
    if not unavailable:
        return ""
    reasons = "; ".join(f"{name}: {reason}" for name, reason in unavailable.items())
    return f" (passed over: {reasons})"


def _invalid(name: str, retries: int, problem: str, answer: str) -> str:
    asked = (
        f" still invalid after {retries} re-ask{'s' if retries != 1 else ''}"
        if retries
        else " invalid"
    )
    return f"backend '{name}': the answer is{asked}: {problem} (last answer: {answer!r})"


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

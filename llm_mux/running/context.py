"""The template context: what `{{ }}` and expressions can see at run time.

Input: the plan, the bound args, the team, the ecosystem, places and the
environment. Output: the mapping of SPEC §4 — `args`, `steps`, `env`, `team`,
`ecosystem`, `workflow`, `project`, `run` (and `item`/`loop` per for_each item).
Built once per run; each step adds only a fresh `steps` view, never re-renders
the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from jinja2 import StrictUndefined

from llm_mux.compiler.plan import Plan, TeamInfo

from ..ecosystems import EcosystemView
from .results import StepResult, StepsView

__all__ = ["LoopInfo", "RunInfo", "TeamView", "base_context", "item_context", "step_context"]


class TeamView(str):
    """`team`: renders as the team's name; `team.verify`, `team.description` also work."""

    def __new__(cls, info: TeamInfo) -> TeamView:
        view = super().__new__(cls, info.name)
        view.name = info.name
        view.verify = info.verify
        view.description = info.description
        return view

    name: str
    verify: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    dir: str


@dataclass(frozen=True, slots=True)
class LoopInfo:
    """`loop` inside a for_each item, like Jinja's own loop variable."""

    index0: int
    length: int

    @property
    def index(self) -> int:
        return self.index0 + 1

    @property
    def first(self) -> bool:
        return self.index0 == 0

    @property
    def last(self) -> bool:
        return self.index0 == self.length - 1

    @property
    def revindex(self) -> int:
        return self.length - self.index0


class WorkflowView(str):
    """`workflow`: renders as the workflow's name; `workflow.description` also works."""

    def __new__(cls, name: str, description: str | None) -> WorkflowView:
        view = super().__new__(cls, name)
        view.name = name
        view.description = description
        return view

    name: str
    description: str | None


@dataclass(frozen=True, slots=True)
class ProjectView:
    root: str


def base_context(
    plan: Plan,
    *,
    args: Mapping[str, object],
    env: Mapping[str, str],
    root: Path,
    run: RunInfo,
    ecosystem: EcosystemView | None,
    no_ecosystem_reason: str,
) -> dict[str, object]:
    return {
        "args": MappingProxyType(dict(args)),
        "env": MappingProxyType(dict(env)),
        "team": TeamView(plan.team) if plan.team else None,
        "ecosystem": ecosystem
        if ecosystem is not None
        else StrictUndefined(hint=no_ecosystem_reason, name="ecosystem"),
        "workflow": WorkflowView(plan.workflow.name, plan.workflow.description),
        "project": ProjectView(str(root)),
        "run": run,
    }


def step_context(
    base: Mapping[str, object], results: Mapping[str, StepResult]
) -> dict[str, object]:
    context = dict(base)
    context["steps"] = StepsView(results)
    return context


def item_context(
    step: Mapping[str, object], item: object, index: int, length: int
) -> dict[str, object]:
    context = dict(step)
    context["item"] = item
    context["loop"] = LoopInfo(index, length)
    return context

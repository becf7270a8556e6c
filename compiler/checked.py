"""The checked workflow: surface structs with references resolved and spans attached.

Input: built by `passes.resolve` from a decoded `Workflow`. Output: what the
graph and lowering passes need — each step's parsed expressions, analysed
templates and dependencies (explicit and inferred, each with the place it was
written), with durations already in seconds. Frozen; passes build new values.
"""

from __future__ import annotations

import msgspec

from .diagnostics import Location
from .expr.ast import Expr
from .plan import ArgSpec
from .references import TemplateInfo
from .schema import Step, Workflow
from .source import SourceFile

__all__ = ["CheckedStep", "CheckedWorkflow", "Dependency"]


class Dependency(msgspec.Struct, frozen=True):
    """Step `target` must finish first; `at` is where the user wrote that."""

    target: str
    at: Location
    inferred: bool


class CheckedStep(msgspec.Struct, frozen=True):
    index: int
    surface: Step
    condition: Expr | None
    for_each: Expr | None
    dependencies: tuple[Dependency, ...]
    templates: tuple[tuple[str, TemplateInfo], ...]
    timeout: float | None
    retry_delay: float
    continue_on_error: bool

    @property
    def name(self) -> str:
        return self.surface.name

    @property
    def condition_text(self) -> str | None:
        return self.surface.if_ if self.surface.if_ is not None else self.surface.when

    @property
    def for_each_text(self) -> str | None:
        value = self.surface.for_each
        if value is None or isinstance(value, str):
            return value
        import json

        return json.dumps(value)

    def depends_on(self, *, inferred: bool) -> tuple[str, ...]:
        names = (d.target for d in self.dependencies if d.inferred is inferred)
        return tuple(dict.fromkeys(names))


class CheckedWorkflow(msgspec.Struct, frozen=True):
    source: SourceFile
    surface: Workflow
    name: str
    steps: tuple[CheckedStep, ...]
    output: str
    args: tuple[ArgSpec, ...]
    timeout: float | None

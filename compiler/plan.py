"""The plan: the compiler's output and the interpreter's only input.

Input: built by `passes.lower` from a checked workflow and the merged config.
Output: frozen, versioned plain data — every template kept as source text,
every expression as a frozen AST, every duration in seconds, every role already
resolved to backends. `render` turns it into text, JSON, DOT or Mermaid.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .expr.ast import Expr

__all__ = [
    "PLAN_VERSION",
    "Action",
    "Apply",
    "ArgSpec",
    "BackendSpec",
    "Candidates",
    "Edge",
    "Input",
    "Plan",
    "Query",
    "Route",
    "Shell",
    "StepPlan",
    "Store",
    "TeamInfo",
    "WorkflowInfo",
]

PLAN_VERSION = 2

Scalar = str | int | float | bool


class _Frozen(msgspec.Struct, frozen=True, kw_only=True):
    pass


class BackendSpec(_Frozen, frozen=True, kw_only=True):
    """A backend with every default applied and durations in seconds.

    Strings may still hold `${VAR}`: they are expanded when used, at run time.
    """

    name: str
    kind: Literal["cli", "openai", "anthropic"]
    command: str
    wrapper: tuple[str, ...] = ()  # `[defaults] command_wrapper`'s words, for a CLI
    args: tuple[str, ...] = ()
    prompt_mode: Literal["arg", "stdin", "flag"] = "arg"
    prompt_flag: str | None = None
    end_of_options: bool = True
    output_format: Literal["text", "claude-json", "codex-json", "gemini-json"] = "text"
    env: tuple[tuple[str, str], ...] = ()
    model: str | None = None
    api_key: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    max_response_bytes: int = 16 * 1024 * 1024
    enabled: bool = True
    timeout: float = 300.0
    max_retries: int = 3
    retry_delay: float = 1.0
    retry_rate_limit: bool = True
    retry_timeout: bool = False
    max_concurrent: int | None = None
    input_cost_per_million: float | None = None
    output_cost_per_million: float | None = None


class Route(_Frozen, frozen=True, kw_only=True):
    """Which backends answer a query step, and how."""

    role: str | None
    execution: Literal["first", "parallel", "fallback"]
    backends: tuple[str, ...]
    min_success: int = 1


class Shell(_Frozen, tag="shell", frozen=True, kw_only=True):
    run: str
    shell: str = "sh"


class Query(_Frozen, tag="query", frozen=True, kw_only=True):
    prompt: str
    route: Route | None
    system: str | None = None
    output_schema: dict[str, object] | None = None
    schema_retries: int = 1


class Candidates(_Frozen, frozen=True, kw_only=True):
    """Best of N: each backend's answer tried in its own workspace, one winner applied."""

    select: Literal["first", "best"]
    metric: str | None = None  # a shell command template; its stdout scores a candidate
    prefer: Literal["higher", "lower"] = "higher"
    max_parallel: int = 4


class Apply(_Frozen, tag="apply", frozen=True, kw_only=True):
    source: str
    verify: str | None = None
    verify_retries: int = 0
    verify_retry_prompt: str | None = None
    rollback_on_failure: bool = True
    candidates: Candidates | None = None  # None: the source's whole output is one set of edits


class Store(_Frozen, tag="store", frozen=True, kw_only=True):
    input: str
    ecosystem: str | None = None


class Input(_Frozen, tag="input", frozen=True, kw_only=True):
    prompt: str
    options: tuple[str, ...] | None = None
    default: str | None = None


Action = Shell | Query | Apply | Store | Input


class StepPlan(_Frozen, frozen=True, kw_only=True):
    name: str
    action: Action
    description: str | None = None
    depends_on: tuple[str, ...] = ()
    inferred_depends_on: tuple[str, ...] = ()
    condition: str | None = None
    condition_expr: Expr | None = None
    for_each: str | None = None
    for_each_expr: Expr | None = None
    concurrency: int = 1
    continue_on_error: bool = False
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 1.0
    rerun_on_worker_loss: bool = True
    line: int = 0
    max_cost: float | None = None  # the step's own budget, over all its calls
    max_tokens: int | None = None
    cache: bool = False  # resolved: the step's `cache`, else the workflow's (query, shell)
    inputs: tuple[str, ...] = ()  # globs whose files' content is part of the cache key

    @property
    def type(self) -> str:
        return str(self.action.__struct_config__.tag)

    @property
    def all_dependencies(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.depends_on + self.inferred_depends_on))


class ArgSpec(_Frozen, frozen=True, kw_only=True):
    name: str
    required: bool = False
    default: Scalar | None = None
    description: str | None = None
    choices: tuple[Scalar, ...] | None = None
    declared: bool = True


class Edge(_Frozen, frozen=True, kw_only=True):
    source: str
    target: str
    inferred: bool


class WorkflowInfo(_Frozen, frozen=True, kw_only=True):
    name: str
    path: str
    description: str | None = None
    version: str | None = None


class TeamInfo(_Frozen, frozen=True, kw_only=True):
    name: str
    description: str | None = None
    verify: str | None = None


class Plan(_Frozen, frozen=True, kw_only=True):
    workflow: WorkflowInfo
    steps: tuple[StepPlan, ...]
    stages: tuple[tuple[str, ...], ...]
    edges: tuple[Edge, ...]
    output: str
    output_explicit: bool = False  # the workflow's `output`, not the last final step
    args: tuple[ArgSpec, ...] = ()
    backends: dict[str, BackendSpec] = {}
    team: TeamInfo | None = None
    timeout: float | None = None
    continue_on_error: bool = False
    max_cost: float | None = None  # the run's budget, in the prices' currency
    max_tokens: int | None = None
    allow_unknown_cost: bool = False
    max_concurrent: int | None = None  # `[defaults] max_concurrent`: backend calls at once
    command_wrapper: tuple[str, ...] = ()  # `[defaults] command_wrapper`'s words
    plan_version: int = PLAN_VERSION

    def step(self, name: str) -> StepPlan:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

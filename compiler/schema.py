"""Surface schema: msgspec Structs mirroring the TOML files exactly.

Input: nothing (declarations). Output: the types `passes.decode` checks raw TOML
against and converts it into. These say what the user *wrote*; defaults that
need other files (a role's backends, a team's verify) are resolved later, into
the plan. Durations stay as written (`90`, `"500ms"`) until `passes.durations`.
"""

from typing import Literal

import msgspec

__all__ = [
    "STEP_TYPES",
    "ApplyStep",
    "Arg",
    "Backend",
    "Config",
    "Duration",
    "Ecosystem",
    "Execution",
    "InputStep",
    "Project",
    "QueryStep",
    "Role",
    "ShellStep",
    "Step",
    "StoreStep",
    "Team",
    "TeamRole",
    "Workflow",
]

Duration = int | float | str
Scalar = str | int | float | bool
Execution = Literal["first", "parallel", "fallback"]


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every TOML table: unknown keys are errors, never ignored."""


# -- configuration -------------------------------------------------------------
class Backend(_Table, frozen=True, kw_only=True):
    command: str
    type: Literal["cli", "openai", "http", "anthropic"] | None = None
    args: list[str] = []
    prompt_mode: Literal["arg", "stdin"] = "arg"
    env: dict[str, str] | list[list[str]] = {}
    model: str | None = None
    api_key: str | None = None
    headers: dict[str, str] = {}
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    enabled: bool = True
    timeout: Duration = 300
    max_retries: int = 3
    retry_delay: Duration = 1000
    retry_rate_limit: bool = True
    retry_timeout: bool = False
    max_concurrent: int | None = None
    input_cost_per_million: float | None = None
    output_cost_per_million: float | None = None


class Role(_Table, frozen=True, kw_only=True):
    backends: list[str]
    description: str | None = None
    execution: Execution = "first"
    min_success: int = 1


class TeamRole(_Table, frozen=True, kw_only=True):
    backends: list[str]
    execution: Execution | None = None
    min_success: int | None = None


class Team(_Table, frozen=True, kw_only=True):
    description: str | None = None
    detect: list[str] = []
    verify: str | None = None
    roles: dict[str, TeamRole | list[str]] = {}


class Project(_Table, frozen=True, kw_only=True):
    path: str
    description: str | None = None
    type: str | None = None
    depends_on: list[str] = []
    tags: list[str] = []


class Ecosystem(_Table, frozen=True, kw_only=True):
    description: str | None = None
    knowledge: list[str] = []
    projects: dict[str, Project] = {}


class Config(_Table, frozen=True, kw_only=True):
    backends: dict[str, Backend] = {}
    roles: dict[str, Role] = {}
    teams: dict[str, Team] = {}
    ecosystems: dict[str, Ecosystem] = {}


# -- workflows -----------------------------------------------------------------
class Arg(_Table, frozen=True, kw_only=True):
    required: bool = False
    default: Scalar | None = None
    description: str | None = None
    choices: list[Scalar] | None = None


class _Step(_Table, tag_field="type", frozen=True, kw_only=True):
    name: str
    description: str | None = None
    depends_on: list[str] = []
    if_: str | None = msgspec.field(default=None, name="if")
    when: str | None = None
    for_each: str | list[Scalar] | None = None
    concurrency: int = 1
    continue_on_error: bool | None = None
    timeout: Duration | None = None
    retries: int = 0
    retry_delay: Duration = 1000


class ShellStep(_Step, tag="shell", frozen=True, kw_only=True):
    run: str
    shell: str | None = None


class QueryStep(_Step, tag="query", frozen=True, kw_only=True):
    prompt: str
    role: str | None = None
    backend: str | None = None
    system: str | None = None
    parallel: bool | None = None
    """`true`: every backend of the route answers at once; `false`: exactly one
    answers (a `parallel` role is tried in order, as `fallback`); unset: the role's
    `execution`."""
    min_success: int | None = None
    output_schema: dict[str, object] | None = None
    schema_retries: int = 1


class ApplyStep(_Step, tag="apply", frozen=True, kw_only=True):
    source: str
    verify: str | bool | None = None
    verify_retries: int = 0
    verify_retry_prompt: str | None = None
    rollback_on_failure: bool = True


class StoreStep(_Step, tag="store", frozen=True, kw_only=True):
    input: str | None = None
    prompt: str | None = None
    ecosystem: str | None = None


class InputStep(_Step, tag="input", frozen=True, kw_only=True):
    prompt: str
    options: list[str] | None = None
    default: str | None = None


Step = ShellStep | QueryStep | ApplyStep | StoreStep | InputStep

STEP_TYPES: dict[str, type[_Step]] = {
    "shell": ShellStep,
    "query": QueryStep,
    "apply": ApplyStep,
    "store": StoreStep,
    "input": InputStep,
}


class Workflow(_Table, frozen=True, kw_only=True):
    steps: list[Step]
    name: str | None = None
    description: str | None = None
    version: str | int | float | None = None
    timeout: Duration | None = None
    continue_on_error: bool = False
    output: str | None = None
    args: dict[str, Arg] = {}
    # Overlays on the merged configuration: partial tables, checked against
    # Backend and Role key by key, and as a whole once merged (passes.config).
    backends: dict[str, dict[str, object]] = {}
    roles: dict[str, dict[str, object]] = {}

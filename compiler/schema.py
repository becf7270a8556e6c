"""Surface schema: msgspec Structs mirroring the TOML files exactly.

Input: nothing (declarations). Output: the types `passes.decode` checks raw TOML
against and converts it into, and (`json_schema`) the JSON Schemas editors check
the files with. These say what the user *wrote*; defaults that need other files
(a role's backends, a team's verify) are resolved later, into the plan. Durations
stay as written (`90`, `"500ms"`) until `passes.durations`.

Every key is declared `Annotated[TYPE, doc("what it means")]`: the sentence is the
key's description in `llm-mux schema`, and a test fails for a key without one.
"""

from typing import Annotated, Literal

import msgspec

__all__ = [
    "STEP_TYPES",
    "ApplyStep",
    "Arg",
    "Backend",
    "Config",
    "Defaults",
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
    "doc",
]

Duration = int | float | str
Scalar = str | int | float | bool
Execution = Literal["first", "parallel", "fallback"]


def doc(description: str) -> msgspec.Meta:
    """A key's description, for `Annotated[TYPE, doc("…")]`; it constrains nothing."""
    return msgspec.Meta(description=description)


_DURATION = 'seconds (a number) or a string with a unit: "500ms", "90s", "5m", "1h"'
_DELAY = 'milliseconds (a number) or a string with a unit: "500ms", "2s"'


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every TOML table: unknown keys are errors, never ignored."""


# -- configuration -------------------------------------------------------------
class Backend(_Table, frozen=True, kw_only=True):
    """A model backend: a CLI program (claude, codex, ollama…) or an HTTP API."""

    command: Annotated[
        str, doc("CLI executable, or the base URL (http:// or https://) of an HTTP API")
    ]
    type: Annotated[
        Literal["cli", "openai", "http", "anthropic", "claude-api"] | None,
        doc(
            "cli, openai (alias http) or anthropic (alias claude-api, the Rust llm-mux's "
            "name); default: openai for a URL, else cli"
        ),
    ] = None
    args: Annotated[list[str], doc("CLI arguments placed before the prompt")] = []
    prompt_mode: Annotated[
        Literal["arg", "stdin", "flag"],
        doc(
            "CLI: arg = the prompt is the last argument, after `--`; stdin = the prompt goes "
            "on stdin; flag = the prompt is the value of `prompt_flag` (--prompt=TEXT)"
        ),
    ] = "arg"
    prompt_flag: Annotated[
        str | None,
        doc('CLI, prompt_mode = "flag": the long option taking the prompt, e.g. "--prompt"'),
    ] = None
    end_of_options: Annotated[
        bool,
        doc(
            'CLI, prompt_mode = "arg": put `--` before the prompt so that it is never read '
            "as an option or subcommand (false only for a tool that does not accept `--`)"
        ),
    ] = True
    output_format: Annotated[
        Literal["text", "claude-json", "codex-json", "gemini-json"],
        doc(
            "CLI: how its stdout is read: text (the answer as printed), claude-json "
            "(claude -p --output-format json), codex-json (codex exec --json), gemini-json "
            "(gemini --output-format json); the JSON forms give tokens and cost too"
        ),
    ] = "text"
    env: Annotated[
        dict[str, str] | list[list[str]],
        doc("Extra environment for the CLI process (a table, or a list of [name, value])"),
    ] = {}
    model: Annotated[str | None, doc("Model id sent to an HTTP API (required there)")] = None
    api_key: Annotated[
        str | None, doc('HTTP API key, usually "${OPENAI_API_KEY}"; never printed or logged')
    ] = None
    api_key_env: Annotated[
        str | None,
        doc('The variable holding the API key: api_key_env = "NAME" means api_key = "${NAME}"'),
    ] = None
    headers: Annotated[dict[str, str], doc("Extra HTTP request headers")] = {}
    system: Annotated[str | None, doc("System prompt sent with every HTTP request")] = None
    temperature: Annotated[float | None, doc("Sampling temperature for HTTP requests")] = None
    max_tokens: Annotated[int | None, doc("Most tokens an HTTP answer may have")] = None
    max_response_bytes: Annotated[
        int,
        doc(
            "Largest answer read, in bytes (default 16 MiB): an HTTP response body, or what a "
            "CLI backend writes to standard output (the process is stopped); more is an error"
        ),
    ] = 16 * 1024 * 1024
    enabled: Annotated[bool, doc("false: this backend is never called")] = True
    timeout: Annotated[
        Duration | None,
        doc("Time allowed per attempt: " + _DURATION + "; default [defaults] timeout, else 300"),
    ] = None
    max_retries: Annotated[
        int, doc("Retries after the first attempt, for retryable failures only")
    ] = 3
    retry_delay: Annotated[
        Duration, doc("First delay between retries (doubled each time): " + _DELAY)
    ] = 1000
    retry_rate_limit: Annotated[
        bool, doc("Retry on rate limits (HTTP 429), honouring Retry-After")
    ] = True
    retry_timeout: Annotated[bool, doc("Retry an attempt that timed out")] = False
    max_concurrent: Annotated[
        int | None, doc("At most this many calls to this backend at once, across the run")
    ] = None
    input_cost_per_million: Annotated[
        float | None, doc("Price of a million prompt tokens, for the run's cost")
    ] = None
    output_cost_per_million: Annotated[
        float | None, doc("Price of a million completion tokens, for the run's cost")
    ] = None


class Role(_Table, frozen=True, kw_only=True):
    """A named, ordered list of backends and how a step uses them."""

    backends: Annotated[list[str], doc("Backend names, in order of preference")]
    description: Annotated[str | None, doc("What this role is for")] = None
    execution: Annotated[
        Execution,
        doc("first: the first available answers; fallback: try in order; parallel: all at once"),
    ] = "first"
    min_success: Annotated[
        int, doc("parallel: the step succeeds when at least this many backends do")
    ] = 1


class TeamRole(_Table, frozen=True, kw_only=True):
    """A team's override of a role: other backends, and optionally another mode."""

    backends: Annotated[list[str], doc("Backend names this role uses for this team")]
    execution: Annotated[
        Execution | None, doc("first, fallback or parallel; default: the role's own")
    ] = None
    min_success: Annotated[
        int | None, doc("parallel: at least this many must succeed; default: the role's")
    ] = None


class Team(_Table, frozen=True, kw_only=True):
    """A kind of project (rust, python…), detected from its files, with its own roles."""

    description: Annotated[str | None, doc("What this team is for")] = None
    detect: Annotated[
        list[str], doc("Paths or globs relative to the project root; any match detects the team")
    ] = []
    verify: Annotated[
        str | None, doc("Command that checks the project (apply steps with verify = true)")
    ] = None
    roles: Annotated[
        dict[str, TeamRole | list[str]],
        doc("Role overrides: a list of backend names, or a table with backends and execution"),
    ] = {}


class Project(_Table, frozen=True, kw_only=True):
    """One project of an ecosystem."""

    path: Annotated[str, doc("Where the project lives (~ is expanded)")]
    description: Annotated[str | None, doc("What the project is")] = None
    type: Annotated[str | None, doc("The kind of project (service, library…)")] = None
    depends_on: Annotated[list[str], doc("Names of projects this one depends on")] = []
    tags: Annotated[list[str], doc("Free-form labels")] = []


class Ecosystem(_Table, frozen=True, kw_only=True):
    """A group of related projects sharing knowledge and a memory database."""

    description: Annotated[str | None, doc("What the ecosystem is")] = None
    knowledge: Annotated[list[str], doc("Facts every workflow in the ecosystem can read")] = []
    projects: Annotated[dict[str, Project], doc("The ecosystem's projects, by name")] = {}


class Defaults(_Table, frozen=True, kw_only=True):
    """Settings for every backend and command (the Rust llm-mux's [defaults] table)."""

    timeout: Annotated[
        Duration | None, doc("The timeout of every backend that sets none: " + _DURATION)
    ] = None
    parallel: Annotated[
        bool,
        doc("Query steps ask every backend of their role at once, unless one has parallel = false"),
    ] = False
    max_concurrent: Annotated[
        int | None, doc("At most this many backend calls at once in a run, over all backends")
    ] = None
    command_wrapper: Annotated[
        str | None,
        doc(
            "A command every CLI backend, shell step and verify command runs inside: "
            '"docker exec box" gets the words as arguments; a wrapper ending in -c, --run '
            'or --command ("nix-shell --run") gets the command as one shell-quoted string'
        ),
    ] = None


class Executor(_Table, frozen=True, kw_only=True):
    """Where the work of shell steps and CLI backend calls runs (`run --executor` wins)."""

    address: Annotated[
        str, doc("local (this machine), dask://HOST:PORT or tls://HOST:PORT (a Dask scheduler)")
    ] = "local"
    project: Annotated[
        Literal["snapshot", "shared"],
        doc(
            "How workers see the project: a snapshot shipped once per run, or the same path "
            "on every worker (a shared file system)"
        ),
    ] = "snapshot"
    connect_timeout: Annotated[
        Duration, doc("How long to wait for the scheduler and a first worker: " + _DURATION)
    ] = 10
    tls_ca_file: Annotated[
        str | None, doc("tls://: the certificate authority of the cluster's certificates")
    ] = None
    tls_cert: Annotated[str | None, doc("tls://: this client's certificate (PEM file)")] = None
    tls_key: Annotated[str | None, doc("tls://: this client's private key (PEM file)")] = None


class Config(_Table, frozen=True, kw_only=True):
    """An llm-mux configuration file (user, project or --config)."""

    defaults: Annotated[
        Defaults, doc("Settings for every backend and command (the Rust llm-mux's table)")
    ] = Defaults()
    executor: Annotated[
        Executor | None, doc("Where shell steps and CLI backend calls run (default: here)")
    ] = None
    backends: Annotated[dict[str, Backend], doc("Model backends, by name")] = {}
    roles: Annotated[dict[str, Role], doc("Roles (named lists of backends), by name")] = {}
    teams: Annotated[dict[str, Team], doc("Teams, in detection order; the first match wins")] = {}
    ecosystems: Annotated[dict[str, Ecosystem], doc("Ecosystems of related projects, by name")] = {}


# -- workflows -----------------------------------------------------------------
class Arg(_Table, frozen=True, kw_only=True):
    """A workflow argument, given as key=value after the workflow's name."""

    required: Annotated[bool, doc("The run stops unless this argument is given")] = False
    default: Annotated[
        Scalar | None, doc("Value when the argument is not given; may use other args")
    ] = None
    description: Annotated[str | None, doc("What the argument means (shown by --help)")] = None
    choices: Annotated[list[Scalar] | None, doc("The only values the argument accepts")] = None


class _Step(_Table, tag_field="type", frozen=True, kw_only=True):
    name: Annotated[str, doc("Unique step name: letters, digits, _ or -")]
    description: Annotated[str | None, doc("What the step does")] = None
    depends_on: Annotated[
        list[str], doc("Steps that must finish first (steps.X references add these too)")
    ] = []
    if_: Annotated[
        str | None, doc("Expression: the step runs only when it is true, else it is skipped")
    ] = msgspec.field(default=None, name="if")
    when: Annotated[str | None, doc("Alias of if")] = None
    for_each: Annotated[
        str | list[Scalar] | None,
        doc("A list, or an expression yielding one: the step runs once per item"),
    ] = None
    concurrency: Annotated[int, doc("for_each: at most this many items at once")] = 1
    continue_on_error: Annotated[
        bool | None, doc("A failure of this step does not fail the run")
    ] = None
    timeout: Annotated[Duration | None, doc("Time allowed for the step: " + _DURATION)] = None
    retries: Annotated[int, doc("Whole-step retries after a failure")] = 0
    retry_delay: Annotated[Duration, doc("Delay between step retries: " + _DELAY)] = 1000
    max_cost: Annotated[
        float | None,
        doc(
            "Most this step may spend over all its backend calls (every for_each item), "
            "in the prices' currency: no new call starts once it is reached"
        ),
    ] = None
    max_tokens: Annotated[
        int | None, doc("Most tokens (prompt + completion) this step's backend calls may use")
    ] = None
    cache: Annotated[
        bool | None,
        doc(
            "Reuse the result of an earlier run whose rendered inputs were identical "
            "(query and shell steps; default: the workflow's cache)"
        ),
    ] = None
    inputs: Annotated[
        list[str],
        doc("Files (globs relative to the project root) whose content is part of the cache key"),
    ] = []
    on_worker_loss: Annotated[
        Literal["rerun", "fail"],
        doc(
            "On a cluster (run --executor): when the worker running this step's work dies, "
            "run it again elsewhere (rerun) or fail the step (fail)"
        ),
    ] = "rerun"


class ShellStep(_Step, tag="shell", frozen=True, kw_only=True):
    """Runs a shell command; every {{ }} value is quoted for the shell."""

    run: Annotated[str, doc("The command (a template); its stdout is the step's output")]
    shell: Annotated[str | None, doc('The shell that runs it (default "sh")')] = None


class QueryStep(_Step, tag="query", frozen=True, kw_only=True):
    """Sends a prompt to a role's backends or to one backend."""

    prompt: Annotated[str, doc("The prompt (a template)")]
    role: Annotated[str | None, doc("The role whose backends answer")] = None
    backend: Annotated[str | None, doc("One backend that answers (instead of a role)")] = None
    system: Annotated[str | None, doc("System prompt (a template)")] = None
    parallel: Annotated[
        bool | None,
        doc(
            "true: every backend of the route answers at once; false: exactly one answers "
            "(a parallel role is tried in order, as fallback); unset: the role's execution"
        ),
    ] = None
    min_success: Annotated[
        int | None, doc("parallel: the step succeeds when at least this many backends do")
    ] = None
    output_schema: Annotated[
        dict[str, object] | None,
        doc("JSON Schema the answer must meet; the parsed answer is steps.NAME.json"),
    ] = None
    schema_retries: Annotated[
        int, doc("Times a backend is asked again when its answer does not meet output_schema")
    ] = 1


class ApplyStep(_Step, tag="apply", frozen=True, kw_only=True):
    """Applies edits (a unified diff or JSON edits) from another step's output."""

    source: Annotated[str, doc('The step whose output holds the edits: "NAME" or "steps.NAME"')]
    verify: Annotated[
        str | bool | None,
        doc(
            "Command that checks the edited files (true: the team's verify); rolled back on failure"
        ),
    ] = None
    verify_retries: Annotated[
        int, doc("On verify failure: times the source step is asked again for new edits")
    ] = 0
    verify_retry_prompt: Annotated[
        str | None, doc("Prompt for those retries (a template with original, error, edits)")
    ] = None
    rollback_on_failure: Annotated[
        bool, doc("Restore the files byte for byte when verification fails")
    ] = True
    candidates: Annotated[
        Literal["combined", "each"],
        doc(
            'Best of N: "each" tries every backend\'s answer of the source query on its own, '
            "in a temporary git worktree (or copy), and writes only the winner; "
            '"combined": the whole output is one set of edits'
        ),
    ] = "combined"
    select: Annotated[
        Literal["first", "best"] | None,
        doc(
            'With candidates = "each": "first" (the first to pass verify wins) or "best" '
            '(the best metric, ties by role order); default "best" with a metric, else "first"'
        ),
    ] = None
    metric: Annotated[
        str | None,
        doc(
            'With candidates = "each": command run where a candidate passed verify; the first '
            "number on the last line of its stdout scores it (e.g. the passing tests)"
        ),
    ] = None
    prefer: Annotated[
        Literal["higher", "lower"], doc("Whether a higher or a lower metric is better")
    ] = "higher"
    max_parallel: Annotated[
        int, doc('With candidates = "each": how many candidates are verified at once')
    ] = 4


class StoreStep(_Step, tag="store", frozen=True, kw_only=True):
    """Writes facts, relationships and entities (JSON) to the ecosystem's memory."""

    input: Annotated[
        str | None, doc("JSON (a template) with facts, relationships and entities")
    ] = None
    prompt: Annotated[str | None, doc("Alias of input")] = None
    ecosystem: Annotated[
        str | None, doc("The ecosystem whose memory is written (default: the detected one)")
    ] = None


class InputStep(_Step, tag="input", frozen=True, kw_only=True):
    """Asks the person at the terminal (or takes run --input STEP=VALUE)."""

    prompt: Annotated[str, doc("The question (a template)")]
    options: Annotated[list[str] | None, doc("The answers to choose from")] = None
    default: Annotated[str | None, doc("The answer when none is given")] = None


Step = ShellStep | QueryStep | ApplyStep | StoreStep | InputStep

STEP_TYPES: dict[str, type[_Step]] = {
    "shell": ShellStep,
    "query": QueryStep,
    "apply": ApplyStep,
    "store": StoreStep,
    "input": InputStep,
}


class Workflow(_Table, frozen=True, kw_only=True):
    """An llm-mux workflow: arguments and steps, compiled into a plan and run."""

    steps: Annotated[list[Step], doc("The steps; they run as their dependencies allow")]
    name: Annotated[str | None, doc("The workflow's name (default: the file's stem)")] = None
    description: Annotated[str | None, doc("What the workflow does")] = None
    version: Annotated[str | int | float | None, doc("The workflow's own version")] = None
    timeout: Annotated[Duration | None, doc("Time allowed for the whole run: " + _DURATION)] = None
    continue_on_error: Annotated[bool, doc("Default of continue_on_error for every step")] = False
    output: Annotated[
        str | None, doc("The step whose output is the run's output (default: the last leaf)")
    ] = None
    args: Annotated[dict[str, Arg], doc("Arguments, given as key=value on the command line")] = {}
    max_cost: Annotated[
        float | None,
        doc("Most the whole run may spend, in the prices' currency (run --max-cost wins)"),
    ] = None
    max_tokens: Annotated[
        int | None,
        doc("Most tokens (prompt + completion) the whole run may use (run --max-tokens wins)"),
    ] = None
    allow_unknown_cost: Annotated[
        bool, doc("Under a budget, also call backends whose cost cannot be known (counted as 0)")
    ] = False
    cache: Annotated[bool, doc("Cache every query and shell step (a step's own cache wins)")] = (
        False
    )
    # Overlays on the merged configuration: partial tables, checked against
    # Backend and Role key by key, and as a whole once merged (passes.config).
    backends: Annotated[
        dict[str, dict[str, object]],
        doc("Backends for this workflow only, over the config's (keys as in [backends.*])"),
    ] = {}
    roles: Annotated[
        dict[str, dict[str, object]],
        doc("Roles for this workflow only, over the config's (keys as in [roles.*])"),
    ] = {}

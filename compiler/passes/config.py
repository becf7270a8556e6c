"""Config pass: configuration layers → one merged, checked `Config`.

Input: raw tables from the user config, the project config, `--config` files
and (as a last layer) a workflow's own `[backends.*]`/`[roles.*]`, in that
order. Output: a `MergedConfig` — the typed `Config` plus where every key came
from, so a problem found after merging still points into the right file.

Merging is deep: a later file's `[backends.claude] timeout = 60` changes only
that key. Each layer is checked on its own for unknown keys and types; the
merged tree is then checked for required keys and cross references (a role
naming a backend nobody defined), durations and `${VAR}` references.
"""

from __future__ import annotations

import copy
import shlex
from collections.abc import Mapping, Sequence

import msgspec

from ..diagnostics import Location, Sink, did_you_mean
from ..durations import DurationError, parse_duration
from ..envvars import env_references
from ..schema import Backend, Config, Role
from ..source import KeyPath, SourceFile
from .decode import check_tree, convert

__all__ = [
    "Layer",
    "MergedConfig",
    "backend_kind",
    "check_duration",
    "merge_config",
    "wrapper_words",
]


class Layer(msgspec.Struct, frozen=True):
    """One file's contribution: its source and the tables it defines."""

    source: SourceFile
    raw: Mapping[str, object]


class MergedConfig(msgspec.Struct, frozen=True):
    config: Config
    raw: Mapping[str, object]
    origins: Mapping[KeyPath, SourceFile]

    def locate(self, path: KeyPath, key: bool = False) -> Location:
        source = self.origin(path)
        if source is None:
            return Location("<config>", 1, 1)
        return source.key(path) if key else source.value(path)

    def origin(self, path: KeyPath) -> SourceFile | None:
        for cut in range(len(path), 0, -1):
            source = self.origins.get(path[:cut])
            if source is not None:
                return source
        return None


def merge_config(
    layers: Sequence[Layer],
    sink: Sink,
    env: Mapping[str, str],
    base: MergedConfig | None = None,
) -> MergedConfig | None:
    """Merge `layers` over `base`; None when the result cannot be trusted."""
    ok = all(_check_layer(layer, sink) for layer in layers)
    raw: dict[str, object] = copy.deepcopy(dict(base.raw)) if base else {}
    origins: dict[KeyPath, SourceFile] = dict(base.origins) if base else {}
    for layer in layers:
        _merge(raw, layer.raw, (), layer.source, origins)
    if not ok:
        return None
    partial = MergedConfig(Config(), raw, origins)
    if not check_tree(raw, Config, partial.locate, sink):
        return None
    config = convert(raw, Config, partial.locate, sink)
    if config is None:
        return None
    merged = MergedConfig(config, raw, origins)
    _check_defaults(merged, sink)
    _check_backends(merged, sink)
    _check_executor(merged, sink)
    _check_roles(merged, sink)
    _check_env(merged, sink, env)
    return merged


def _check_layer(layer: Layer, sink: Sink) -> bool:
    source = layer.source

    def locate(path: KeyPath, key: bool) -> Location:
        return source.key(path) if key else source.value(path)

    return check_tree(layer.raw, Config, locate, sink, partial=True)


def _merge(
    into: dict[str, object],
    new: Mapping[str, object],
    path: KeyPath,
    origin: SourceFile,
    origins: dict[KeyPath, SourceFile],
) -> None:
    for key, value in new.items():
        here = path + (key,)
        origins[here] = origin
        current = into.get(key)
        if isinstance(value, dict):
            # Walk even a table nobody wrote before, so every key in it records
            # its file: a later layer that adds a sibling must not take it over.
            if not isinstance(current, dict):
                into[key] = current = {}  # nothing was recorded below a value
            _merge(current, value, here, origin, origins)
        else:
            into[key] = copy.deepcopy(value)
            if isinstance(current, dict):
                _forget_below(origins, here)


def _forget_below(origins: dict[KeyPath, SourceFile], path: KeyPath) -> None:
    """A replaced table takes its whole subtree's origin with it.

    Only tables have origins recorded below them, so only replacing one needs this
    scan over every origin (done for every key, it made merging quadratic)."""
    for known in [p for p in origins if len(p) > len(path) and p[: len(path)] == path]:
        del origins[known]


# -- checks on the merged tree -------------------------------------------------
_EXECUTOR_SCHEMES = ("dask://", "tls://", "tcp://")


def _check_executor(merged: MergedConfig, sink: Sink) -> None:
    executor = merged.config.executor
    if executor is None:
        return
    path: KeyPath = ("executor",)
    _check_duration(merged, sink, path + ("connect_timeout",), executor.connect_timeout, "s")
    address = executor.address
    if address != "local" and not address.startswith(_EXECUTOR_SCHEMES):
        sink.error(
            "E104",
            f"executor address '{address}' is neither 'local' nor a Dask scheduler address",
            merged.locate(path + ("address",)),
            hint='write "local", "dask://HOST:PORT" or "tls://HOST:PORT"',
        )


def _check_backends(merged: MergedConfig, sink: Sink) -> None:
    for name, backend in merged.config.backends.items():
        path: KeyPath = ("backends", name)
        if backend.timeout is not None:
            _check_duration(merged, sink, path + ("timeout",), backend.timeout, "s")
        if backend.api_key is not None and backend.api_key_env is not None:
            sink.error(
                "E105",
                f"[backends.{name}] sets both 'api_key' and 'api_key_env'",
                merged.locate(path + ("api_key_env",), key=True),
                hint='keep one: api_key_env = "NAME" means api_key = "${NAME}"',
            )
        _check_duration(merged, sink, path + ("retry_delay",), backend.retry_delay, "ms")
        kind = backend_kind(backend)
        if kind != "cli" and not backend.model:
            sink.error(
                "E103",
                f"HTTP backend '{name}' is missing the required key 'model'",
                merged.locate(path, key=True),
                hint='add model = "<model id>", e.g. model = "gpt-4o"',
            )
        if kind == "cli":
            _check_prompt_passing(merged, sink, path, backend)
        _check_minimum(merged, sink, path + ("max_retries",), backend.max_retries, 0)
        _check_minimum(merged, sink, path + ("max_concurrent",), backend.max_concurrent, 1)
        _check_minimum(merged, sink, path + ("max_response_bytes",), backend.max_response_bytes, 1)
        if isinstance(backend.env, list):
            for index, pair in enumerate(backend.env):
                if len(pair) != 2:
                    sink.error(
                        "E102",
                        f"'env' in [backends.{name}] must hold [NAME, VALUE] pairs",
                        merged.locate(path + ("env", index)),
                        hint='or write it as a table: env = { NAME = "value" }',
                    )


# Options of real tools that take the prompt as their value (`gemini -p TEXT`).
_PROMPT_OPTIONS = {"gemini": ("-p", "--prompt")}


def _check_prompt_passing(
    merged: MergedConfig, sink: Sink, path: KeyPath, backend: Backend
) -> None:
    """Whether every prompt reaches the CLI as a prompt, never as an option or subcommand."""
    name = path[-1]
    if backend.prompt_mode == "flag":
        _check_prompt_flag(merged, sink, path, backend)
    elif backend.prompt_mode == "arg" and not backend.end_of_options:
        sink.warning(
            "W403",
            f"backend '{name}' passes the prompt as its last argument with no `--` before it: "
            "a prompt starting with '-', or naming a subcommand, is read as an option",
            merged.locate(path + ("end_of_options",)),
            hint="drop end_of_options = false if the tool accepts `--`, "
            'else use prompt_mode = "stdin"',
        )
    elif (
        backend.prompt_mode == "arg"
        and backend.args
        and backend.args[-1] in _value_options(backend)
    ):
        sink.warning(
            "W403",
            f"backend '{name}' ends its args with {backend.args[-1]}, which takes the prompt as "
            "its value: the prompt, after `--`, would not reach it",
            merged.locate(path + ("args", len(backend.args) - 1)),
            hint=f'use prompt_mode = "flag" with prompt_flag = "--prompt", and drop '
            f'"{backend.args[-1]}" from args',
        )


def _value_options(backend: Backend) -> tuple[str, ...]:
    tool = backend.command.rsplit("/", 1)[-1]
    return _PROMPT_OPTIONS.get(tool, ())


def _check_prompt_flag(merged: MergedConfig, sink: Sink, path: KeyPath, backend: Backend) -> None:
    name = path[-1]
    if not backend.prompt_flag:
        sink.error(
            "E103",
            f"backend '{name}' has prompt_mode = \"flag\" but no prompt_flag",
            merged.locate(path + ("prompt_mode",)),
            hint='name the option that takes the prompt, e.g. prompt_flag = "--prompt"',
        )
    elif not backend.prompt_flag.startswith("--"):
        sink.warning(
            "W403",
            f"backend '{name}' passes the prompt as {backend.prompt_flag}=TEXT: tools do not "
            "all read a short option's value that way",
            merged.locate(path + ("prompt_flag",)),
            hint="use the tool's long option, e.g. --prompt",
        )


def _check_defaults(merged: MergedConfig, sink: Sink) -> None:
    defaults = merged.config.defaults
    path: KeyPath = ("defaults",)
    if defaults.timeout is not None:
        _check_duration(merged, sink, path + ("timeout",), defaults.timeout, "s")
    _check_minimum(merged, sink, path + ("max_concurrent",), defaults.max_concurrent, 1)
    if defaults.command_wrapper is not None and wrapper_words(defaults.command_wrapper) is None:
        sink.error(
            "E104",
            f"'command_wrapper' in [defaults] is not a command: {defaults.command_wrapper!r}",
            merged.locate(path + ("command_wrapper",)),
            hint='write the wrapper\'s words as in a shell, e.g. "docker exec box" or '
            '"nix-shell --run"',
        )


def wrapper_words(wrapper: str | None) -> tuple[str, ...] | None:
    """`[defaults] command_wrapper` as words; () for none, None when it does not parse."""
    if wrapper is None:
        return ()
    try:
        words = tuple(shlex.split(wrapper))
    except ValueError:  # an unclosed quote
        return None
    return words or None


def backend_kind(backend: Backend) -> str:
    """`cli`, `openai` or `anthropic`: explicit type, else inferred from the command."""
    if backend.type == "http":
        return "openai"
    if backend.type == "claude-api":
        return "anthropic"
    if backend.type is not None:
        return backend.type
    return "openai" if backend.command.startswith(("http://", "https://")) else "cli"


def _check_roles(merged: MergedConfig, sink: Sink) -> None:
    config = merged.config
    for name, role in config.roles.items():
        check_role_backends(merged, sink, ("roles", name), role.backends)
        _check_min_success(merged, sink, ("roles", name), role)
    for team_name, team in config.teams.items():
        for role_name, override in team.roles.items():
            path: KeyPath = ("teams", team_name, "roles", role_name)
            backends = override if isinstance(override, list) else override.backends
            if isinstance(override, list):
                check_role_backends(merged, sink, path[:-1], backends, key=role_name)
            else:
                check_role_backends(merged, sink, path, backends)


def check_role_backends(
    merged: MergedConfig, sink: Sink, path: KeyPath, backends: Sequence[str], key: str = "backends"
) -> None:
    known = merged.config.backends
    if not backends:
        sink.error(
            "E104",
            f"'{key}' in [{'.'.join(map(str, path))}] is empty",
            merged.locate(path + (key,)),
            hint="list at least one backend",
        )
    for index, backend in enumerate(backends):
        if backend not in known:
            suggestion = did_you_mean(backend, known)
            sink.error(
                "E402",
                f"[{'.'.join(map(str, path))}] uses backend '{backend}', which is not defined",
                merged.locate(path + (key, index)),
                hint=f"did you mean '{suggestion}'?" if suggestion else _define_hint(backend),
            )


def _define_hint(backend: str) -> str:
    return f'define it: [backends.{backend}] command = "…" in a config file or this workflow'


def _check_min_success(merged: MergedConfig, sink: Sink, path: KeyPath, role: Role) -> None:
    if role.min_success < 1 or role.min_success > max(len(role.backends), 1):
        sink.error(
            "E104",
            f"min_success in [{'.'.join(map(str, path))}] is {role.min_success}, "
            f"but the role has {len(role.backends)} backend(s)",
            merged.locate(path + ("min_success",)),
            hint="min_success must be between 1 and the number of backends",
        )


def _check_minimum(
    merged: MergedConfig, sink: Sink, path: KeyPath, value: int | None, minimum: int
) -> None:
    if value is not None and value < minimum:
        sink.error(
            "E104", f"'{path[-1]}' must be {minimum} or more, not {value}", merged.locate(path)
        )


def _check_duration(
    merged: MergedConfig, sink: Sink, path: KeyPath, value: int | float | str, unit: str
) -> None:
    check_duration(value, unit, str(path[-1]), merged.locate(path), sink)


def check_duration(
    value: int | float | str, unit: str, key: str, at: Location, sink: Sink
) -> float | None:
    """Parse a duration, reporting E501 (bad) or W502 (timeout that looks like ms)."""
    try:
        seconds = parse_duration(value, bare_unit=unit)
    except DurationError as error:
        problem, _, fix = str(error).partition("; ")
        sink.error("E501", f"'{key}': {problem}", at, hint=fix or None)
        return None
    if unit == "s" and isinstance(value, int) and value >= 1000:
        sink.warning(
            "W502",
            f"'{key}' is {value} seconds ({value / 3600:.1f} hours)",
            at,
            hint=f'did you mean milliseconds? write "{value}ms" (for a file written for the '
            "Rust llm-mux, `llm-mux migrate FILE` rewrites them all)",
        )
    return seconds


def _check_env(merged: MergedConfig, sink: Sink, env: Mapping[str, str]) -> None:
    for path, text in _strings(merged.raw, ()):
        for name, offset in env_references(text):
            if name in env:
                continue
            source = merged.origin(path)
            at = source.in_string(path, offset) if source else merged.locate(path)
            owner = ".".join(str(p) for p in path[:2])
            sink.warning(
                "W701",
                f"${{{name}}} is not set, so [{owner}] cannot be used",
                at,
                hint=f"export {name}=… before running, or remove the reference",
            )


def _strings(value: object, path: KeyPath) -> list[tuple[KeyPath, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, path + (k,))]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, path + (i,))]
    return []

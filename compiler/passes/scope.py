"""Name resolution for templates and expressions.

Input: the references one template or expression makes (`TemplateInfo`) and
the `Scope` it is written in (step names, declared args, whether `item` exists).
Output: the steps it depends on, the args it reads, and a diagnostic for every
name that does not exist — with the spelling the user probably meant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection

import msgspec

from ..diagnostics import Location, Sink, did_you_mean
from ..references import NameUse, Ref, TemplateInfo
from ..templates import make_environment

__all__ = ["CONTEXT_NAMES", "RESULT_FIELDS", "ArgUse", "Scope", "resolve_names"]

# What every template sees (SPEC §4); `item` and `loop` only inside for_each.
CONTEXT_NAMES = frozenset(
    {"args", "steps", "env", "team", "ecosystem", "workflow", "project", "run"}
)
LOOP_NAMES = frozenset({"item", "loop"})
# Fields of `steps.NAME` (SPEC §3, Results).
RESULT_FIELDS = frozenset(
    {
        "status",
        "output",
        "outputs",
        "failed",
        "skipped",
        "error",
        "duration_ms",
        "backend",
        "backends",
        "errors",
        "json",
        "exit_code",
        "items",
        "usage",
        "cost",
        "attempts",
        "succeeded",
        "files_changed",
        "files_created",
        "files_deleted",
        "verify_output",
        "type",
    }
)

# Offset in the template text → a location in the file.
Locator = Callable[[int], Location]


class ArgUse(msgspec.Struct, frozen=True):
    name: str
    guarded: bool


class Scope(msgspec.Struct, frozen=True):
    """What names mean where a template is written."""

    owner: str  # "step 'fetch'", "arg 'base'": used in messages
    step_names: Collection[str]
    declared_args: Collection[str] | None  # None: the workflow declares no args
    in_loop: bool = False
    extra: frozenset[str] = frozenset()  # e.g. original/error/edits in a retry prompt
    only: frozenset[str] | None = None  # arg defaults may use args and env only
    model_steps: frozenset[str] = frozenset()  # query steps: their output is model text


class Resolution(msgspec.Struct):
    steps: list[tuple[str, Location]] = msgspec.field(default_factory=list)
    args: list[ArgUse] = msgspec.field(default_factory=list)


def resolve_names(info: TemplateInfo, scope: Scope, locate: Locator, sink: Sink) -> Resolution:
    """Check every name `info` uses; return the steps and args it refers to."""
    result = Resolution()
    for ref in info.refs:
        _resolve_ref(ref, scope, locate(ref.offset), sink, result)
    env = make_environment()
    _check_known(scope.owner, "filter", info.filters, env.filters, locate, sink)
    _check_known(scope.owner, "test", info.tests, env.tests, locate, sink)
    return result


def _resolve_ref(ref: Ref, scope: Scope, at: Location, sink: Sink, out: Resolution) -> None:
    root = ref.root
    allowed = _allowed_names(scope)
    if root not in allowed:
        _unknown_name(ref, scope, allowed, at, sink)
    elif root == "steps":
        _resolve_step(ref, scope, at, sink, out)
    elif root == "args":
        _resolve_arg(ref, scope, at, sink, out)


def _allowed_names(scope: Scope) -> frozenset[str]:
    return _names_allowed(scope.only, scope.extra, scope.in_loop)


@functools.lru_cache(maxsize=64)
def _names_allowed(
    only: frozenset[str] | None, extra: frozenset[str], in_loop: bool
) -> frozenset[str]:
    # Asked for every reference: a handful of distinct answers per workflow.
    base = only if only is not None else CONTEXT_NAMES
    names = base | extra | frozenset(make_environment().globals)
    return names | LOOP_NAMES if in_loop else names


def _unknown_name(
    ref: Ref, scope: Scope, allowed: frozenset[str], at: Location, sink: Sink
) -> None:
    if ref.root in LOOP_NAMES:
        message = f"{scope.owner} uses '{ref.root}', which only exists in steps with for_each"
        sink.error("E306", message, at, hint='add for_each = "…" to the step, or remove it')
        return
    if scope.only is not None and ref.root in CONTEXT_NAMES:
        sink.error(
            "E306",
            f"{scope.owner} uses '{ref.root}', but arg defaults may only use other args and env",
            at,
        )
        return
    sink.error(
        "E306",
        f"{scope.owner} uses '{ref.root}', which is not defined",
        at,
        hint=_name_hint(ref.root, scope, allowed),
    )


def _name_hint(root: str, scope: Scope, allowed: frozenset[str]) -> str:
    # A bare arg or step name is the usual slip: they live under args. and steps.
    if scope.declared_args is not None and root in scope.declared_args:
        return f"did you mean args.{root}?"
    if root in scope.step_names and scope.only is None:
        return f"did you mean {_step_text(root)}?"
    suggestion = did_you_mean(root, allowed)
    if suggestion:
        return f"did you mean '{suggestion}'?"
    known = ", ".join(sorted(allowed & (CONTEXT_NAMES | LOOP_NAMES | scope.extra)))
    return f"templates can use: {known}"


def _resolve_step(ref: Ref, scope: Scope, at: Location, sink: Sink, out: Resolution) -> None:
    if not ref.path or not isinstance(ref.path[0], str):
        return  # dynamic access such as steps[item]: nothing to infer
    name = ref.path[0]
    if name not in scope.step_names:
        sink.error(
            "E303",
            f"{scope.owner} uses {_step_text(name)}, but no step is named '{name}'",
            at,
            hint=_step_hint(ref, name, scope),
        )
        return
    out.steps.append((name, at))
    if len(ref.path) > 1 and isinstance(ref.path[1], str) and ref.path[1] not in RESULT_FIELDS:
        result_field = ref.path[1]
        suggestion = did_you_mean(result_field, RESULT_FIELDS)
        sink.error(
            "E307",
            f"{scope.owner} uses {_step_text(name)}.{result_field}, "
            f"but step results have no field '{result_field}'",
            at,
            hint=f"did you mean '{suggestion}'?"
            if suggestion
            else "fields: " + ", ".join(sorted(RESULT_FIELDS)),
        )


def _step_text(name: str) -> str:
    """How a template reaches step `name`: steps.build, or steps['rust-only']."""
    return f"steps.{name}" if name.isidentifier() else f"steps['{name}']"


def _step_hint(ref: Ref, name: str, scope: Scope) -> str | None:
    if ref.hyphenated and ref.hyphenated in scope.step_names:
        return f"step names with '-' are written steps['{ref.hyphenated}']"
    suggestion = did_you_mean(name, scope.step_names)
    if suggestion and "-" in suggestion:
        return f"did you mean steps['{suggestion}']?"
    return f"did you mean '{suggestion}'?" if suggestion else None


def _resolve_arg(ref: Ref, scope: Scope, at: Location, sink: Sink, out: Resolution) -> None:
    if not ref.path or not isinstance(ref.path[0], str):
        return
    name = ref.path[0]
    if scope.declared_args is not None and name not in scope.declared_args:
        suggestion = did_you_mean(name, scope.declared_args)
        declared = ", ".join(sorted(scope.declared_args)) or "none"
        sink.error(
            "E304",
            f"{scope.owner} uses args.{name}, but the workflow declares no arg '{name}'",
            at,
            hint=f"did you mean '{suggestion}'?"
            if suggestion
            else f"declared args: {declared}; declare it with [args.{name}]",
        )
        return
    out.args.append(ArgUse(name, ref.guarded))


def _check_known(
    owner: str,
    kind: str,
    uses: Collection[NameUse],
    known: Collection[str],
    locate: Locator,
    sink: Sink,
) -> None:
    for use in uses:
        if use.name in known:
            continue
        suggestion = did_you_mean(use.name, known)
        sink.error(
            "E305",
            f"{owner} uses the {kind} '{use.name}', which does not exist",
            locate(use.offset),
            hint=f"did you mean '{suggestion}'?" if suggestion else None,
        )

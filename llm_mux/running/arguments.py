"""Workflow arguments: `key=value` words checked against the plan's args.

Input: the words after the workflow name and the plan's `ArgSpec`s. Output:
the values given, or a usage error (exit 2) naming what is missing, unknown or
outside `choices`, with the list of declared args. Defaults are filled in by the
interpreter, which can render templated defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llm_mux.compiler.diagnostics import did_you_mean
from llm_mux.compiler.plan import ArgSpec

from ..errors import UsageError

__all__ = ["bind_args", "describe_args", "parse_assignments", "resolve_args"]


def parse_assignments(words: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for word in words:
        _check_text(word)
        key, equals, value = word.partition("=")
        if not equals or not key:
            raise UsageError(
                f"expected KEY=VALUE, got '{word}'",
                hint="workflow arguments are written name=value",
            )
        values[key] = value
    return values


def _check_text(word: str) -> None:
    """Arguments are text: bytes that are not UTF-8 reach Python as lone surrogates."""
    try:
        word.encode("utf-8")
    except UnicodeEncodeError as error:
        byte = ord(word[error.start]) - 0xDC00
        shown = word.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise UsageError(
            f"the argument '{shown}' is not UTF-8 text (byte 0x{byte:02x} at position "
            f"{error.start + 1})",
            hint="pass text; for binary data, pass the path of a file instead",
        ) from None


def bind_args(
    specs: Sequence[ArgSpec], given: dict[str, str], *, require: bool = True
) -> dict[str, str]:
    """Check `given` against `specs`; undeclared args are fine only if none are declared.

    `require=False` (for `plan`) accepts missing required args.
    """
    declared = {spec.name: spec for spec in specs if spec.declared}
    if declared:
        for name in given:
            if name not in declared:
                suggestion = did_you_mean(name, declared)
                hint = f"did you mean '{suggestion}'? " if suggestion else ""
                raise UsageError(f"unknown arg '{name}'", hint=hint + describe_args(specs))
    for spec in specs:
        value = given.get(spec.name)
        if value is None:
            if require and spec.required and spec.default is None:
                raise UsageError(
                    f"missing required arg '{spec.name}'",
                    hint=f"pass {spec.name}=VALUE; " + describe_args(specs),
                )
            continue
        if spec.choices is not None and value not in [str(c) for c in spec.choices]:
            allowed = ", ".join(str(c) for c in spec.choices)
            raise UsageError(f"arg '{spec.name}' must be one of {allowed}, not '{value}'")
    return dict(given)


def describe_args(specs: Sequence[ArgSpec]) -> str:
    if not specs:
        return "this workflow declares no args"
    return "args: " + ", ".join(_describe(spec) for spec in specs)


def _describe(spec: ArgSpec) -> str:
    if spec.required and spec.default is None:
        return f"{spec.name} (required)"
    if spec.default is not None:
        return f"{spec.name} (default {spec.default!r})"
    return spec.name


def resolve_args(
    specs: Sequence[ArgSpec], given: Mapping[str, object], env: Mapping[str, str]
) -> dict[str, object]:
    """Given values, then defaults in declaration order (a default may use earlier args)."""
    values: dict[str, object] = dict(given)
    for spec in specs:
        if spec.name in values or spec.default is None:
            continue
        default = spec.default
        if isinstance(default, str) and ("{{" in default or "{%" in default):
            from .rendering import RenderError, render

            try:
                default = render(
                    default, {"args": dict(values), "env": env}, key=f"default of arg '{spec.name}'"
                )
            except RenderError as error:
                raise UsageError(str(error)) from None
        values[spec.name] = default
    return values

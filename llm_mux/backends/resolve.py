"""`${VAR}` in backend settings, expanded when the backend is used.

Input: a `BackendSpec` (strings may hold `${VAR}`) and the run's environment.
Output: expanded strings, or the first unset variable named together with the
config key that uses it ("${OPENAI_API_KEY} is not set (backends.openai.api_key)")
— the same sentence for `availability` and for a call that finds it unset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from llm_mux.compiler.envvars import UnsetVariable, expand_env
from llm_mux.compiler.plan import BackendSpec

from .types import BackendError, Request

__all__ = ["expand", "system_prompt", "unset_variable"]


def unset_variable(spec: BackendSpec, env: Mapping[str, str]) -> str | None:
    """Why the backend cannot be used for want of a variable, or None."""
    for key, value in _settings(spec):
        try:
            expand_env(value, env)
        except UnsetVariable as unset:
            return _unset_message(unset.name, key)
    return None


def expand(spec: BackendSpec, key: str, value: str, env: Mapping[str, str]) -> str:
    """`value` (the setting `key` of `spec`) expanded; an unset variable is a BackendError."""
    try:
        return expand_env(value, env)
    except UnsetVariable as unset:
        message = f"backend '{spec.name}': {_unset_message(unset.name, _key(spec, key))}"
        raise BackendError(message, kind="unavailable", retryable=False) from None


def system_prompt(spec: BackendSpec, request: Request, env: Mapping[str, str]) -> str | None:
    """The step's system prompt when it has one, else the backend's own (expanded)."""
    if request.system is not None:
        return request.system
    return None if spec.system is None else expand(spec, "system", spec.system, env)


def _settings(spec: BackendSpec) -> Iterator[tuple[str, str]]:
    """Every string setting the backend's kind uses, with its config key."""
    yield _key(spec, "command"), spec.command
    if spec.kind == "cli":
        for index, arg in enumerate(spec.args):
            yield _key(spec, f"args[{index}]"), arg
        for name, value in spec.env:
            yield _key(spec, f"env.{name}"), value
    else:
        for field, text in (("model", spec.model), ("api_key", spec.api_key)):
            if text is not None:
                yield _key(spec, field), text
        for name, value in spec.headers:
            yield _key(spec, f"headers.{name}"), value
    if spec.system is not None:
        yield _key(spec, "system"), spec.system


def _key(spec: BackendSpec, field: str) -> str:
    return f"backends.{spec.name}.{field}"


def _unset_message(variable: str, key: str) -> str:
    return f"${{{variable}}} is not set ({key})"

"""Rendering templates at run time, each compiled once.

Input: template source from the plan and a context. Output: text — or a
`RenderError` whose message says which key failed and why, in words a
workflow author can act on (never a Jinja traceback).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jinja2
from jinja2.exceptions import SecurityError

from llm_mux.compiler.expr import Expr, ExprEvalError, evaluate, evaluate_condition
from llm_mux.compiler.shell_values import render_shell
from llm_mux.compiler.templates import make_environment

__all__ = ["RenderError", "evaluate_expression", "holds", "render"]


class RenderError(Exception):
    """A template or expression could not be evaluated; the message is for the user."""


# Without these Jinja leaves a text as it is (it would turn a \r into \n).
_JINJA_MARKERS = ("{{", "{%", "{#", "\r")


@functools.lru_cache(maxsize=1024)
def _compiled(source: str, shell: bool) -> jinja2.Template | str:
    """The compiled template, or the text itself when rendering cannot change it."""
    if not any(marker in source for marker in _JINJA_MARKERS):
        return source  # `run = "make test"`: no template machinery on every run
    return make_environment(shell=shell).from_string(source)


def render(source: str, context: Mapping[str, object], *, key: str, shell: bool = False) -> str:
    """Render `source`; `key` ("run", "prompt", …) names it in error messages."""
    try:
        template = _compiled(source, shell)
        if isinstance(template, str):
            return template
        if shell:
            return render_shell(lambda: template.render(context))
        return template.render(context)
    except jinja2.UndefinedError as error:
        raise RenderError(f"{key}: {error.message}") from None
    except SecurityError as error:
        raise RenderError(f"{key}: not allowed in a template: {error}") from None
    except jinja2.TemplateError as error:
        raise RenderError(f"{key}: {error.message or error}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
        raise RenderError(f"{key}: {error}") from None


def evaluate_expression(expr: Expr, context: Mapping[str, object], *, key: str) -> object:
    """The value of a `for_each`; an undefined result is an error, not a value."""
    try:
        value = evaluate(expr, context, make_environment())
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return value
    except jinja2.UndefinedError as error:
        raise RenderError(f"{key}: {error.message}") from None
    except SecurityError as error:
        raise RenderError(f"{key}: not allowed in an expression: {error}") from None
    except ExprEvalError as error:
        raise RenderError(f"{key}: {error}") from None


def holds(expr: Expr, context: Mapping[str, object], *, key: str) -> bool:
    """The truth of an `if`/`when`, as `{% if %}` decides it."""
    try:
        return evaluate_condition(expr, context, make_environment())
    except SecurityError as error:
        raise RenderError(f"{key}: not allowed in an expression: {error}") from None
    except ExprEvalError as error:
        raise RenderError(f"{key}: {error}") from None

"""The Jinja environment of llm-mux, and template analysis for the compiler's checks.

Stage: shared.  The compiler calls `analyze_template` (pure: parse and inspect, never
render); the run time renders with `make_environment` and evaluates expressions with it.
Input: template source text.  Output: a configured `ImmutableSandboxedEnvironment`, or a
`TemplateInfo` (references, filters, tests, quoted interpolations), or `TemplateSyntax`.

Environment: sandboxed and immutable (templates cannot modify lists or dicts), undefined
names are errors (`StrictUndefined`; `| default` and `is defined` are the escapes),
trailing newlines are kept, and the llm-mux filters replace Jinja's built-ins of the same
name (`join`, `trim`, `default`/`d`); Jinja's other built-ins (`first`, `length`, ...)
remain.  With `shell=True` every `{{ }}` value is made inert for the shell position it
lands in (`shell_values.render_shell`); `| raw` opts out.
"""

from __future__ import annotations

import functools

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .filters import FILTERS
from .references import NameUse, Ref, TemplateInfo

__all__ = [
    "NameUse",
    "Ref",
    "TemplateInfo",
    "TemplateSyntax",
    "analyze_template",
    "analyze_with_jinja",
    "make_environment",
]


class TemplateSyntax(Exception):
    """Jinja could not parse the template; `line` is 1-based within the template."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __repr__(self) -> str:
        return f"TemplateSyntax({self.message!r}, line={self.line})"


@functools.cache
def make_environment(*, shell: bool = False) -> ImmutableSandboxedEnvironment:
    """The environment for templates (`shell=True`: for shell commands). One per flag.

    Treat it as read-only: it is shared by every caller.
    """
    from .shell_values import finalize

    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=finalize if shell else None,
    )
    env.filters.update(FILTERS)
    return env


@functools.lru_cache(maxsize=4096)
def analyze_template(source: str) -> TemplateInfo:
    """References, filters, tests and quoted interpolations of a template (no rendering).

    Cached by source text (the result is immutable): workflows repeat templates. Most
    templates are text and `{{ a.b | f }}`, analysed without Jinja (`simple_templates`).
    """
    from .simple_templates import analyze_simple

    simple = analyze_simple(source)
    return simple if simple is not None else analyze_with_jinja(source)


def analyze_with_jinja(source: str) -> TemplateInfo:
    """`analyze_template` for any template: Jinja lexes and parses it, then it is walked."""
    from .template_analysis import analyze, lex, parse_lexed

    env = make_environment()
    try:
        tokens = lex(env, source)  # once: the parser and the analysis both read them
    except TemplateSyntaxError:
        tokens = None  # let the parser report the first error, as Jinja does
    try:
        tree = env.parse(source) if tokens is None else parse_lexed(env, tokens)
    except TemplateSyntaxError as exc:
        raise TemplateSyntax(exc.message or str(exc), exc.lineno) from None
    assert tokens is not None  # a template that does not lex does not parse
    return analyze(source, tree, tokens)

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
import re

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError
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

    env = _Sandbox(
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

    _check_size(source)
    simple = analyze_simple(source)
    return simple if simple is not None else analyze_with_jinja(source)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, where an unsafe attribute is an error, not undefined.

    (Jinja answers `map(attribute='__class__')` with undefined values, which a list
    prints as `[Undefined]` — undefined is an error here.)
    """

    def unsafe_undefined(self, obj: object, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )


MAX_BRACKETS = 20  # ( [ { inside one {{ }} or {% %}
MAX_OPERATIONS = 200  # filters, operators and accesses in one tag
MAX_BLOCKS = 50  # {% if %}, {% for %}, … inside one another

_TAG = re.compile(r"\{\{.*?(?:\}\}|\Z)|\{%.*?(?:%\}|\Z)", re.DOTALL)  # or unclosed
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
_OPERATION = re.compile(r"[|+\-*/~.%(\[{,<>=!]|\b(?:and|or|not|in|is|if)\b")
_OPENS = re.compile(r"\{%-?\s*(if|for|macro|call|filter|with|block|raw)\b")
_CLOSES = re.compile(r"\{%-?\s*end(if|for|macro|call|filter|with|block|raw)\b")


def _check_size(source: str) -> None:
    """Refuse templates nested or chained beyond what Jinja's recursive parser can take."""
    blocks = 0
    for tag in _TAG.finditer(source):
        body = _STRING.sub("''", tag.group()[2:-2])
        line = source.count("\n", 0, tag.start()) + 1
        if _depth(body) > MAX_BRACKETS:
            raise TemplateSyntax(
                f"brackets nest more than {MAX_BRACKETS} deep; split the expression "
                "with {% set %}",
                line,
            )
        if len(_OPERATION.findall(body)) > MAX_OPERATIONS:
            raise TemplateSyntax(
                f"more than {MAX_OPERATIONS} filters and operators in one tag; split it "
                "with {% set %}",
                line,
            )
        blocks += bool(_OPENS.match(tag.group())) - bool(_CLOSES.match(tag.group()))
        if blocks > MAX_BLOCKS:
            raise TemplateSyntax(f"blocks nest more than {MAX_BLOCKS} deep", line)


def _depth(text: str) -> int:
    deepest = depth = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


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

"""Simple templates, analysed without Jinja: text and `{{ root.attr | filter(args) }}`.

Stage: analysis (tried first by `templates.analyze_template`).  Input: template source.
Output: the `TemplateInfo` the Jinja-based analysis (`template_analysis`) gives for the
same text, or None when the text is not of the simple shape (then Jinja parses it).

Most templates are of that shape — `{{ steps.diff.output }}`, `{{ args.file |
shell_escape }}` — and Jinja's lexer and parser took ~250 µs for each, most of the
compile time of a large workflow. The shape: text without `{{`, `{%`, `{#` or `\\r`
around interpolations `{{ root.attr.attr | f | g(1, 'text') }}` with ASCII names, a
root that is none of Jinja's constants and operators, spaces or tabs only, and filter
arguments that are integers or plain strings. `tests/property/test_simple_templates.py`
checks that both analyses agree on every text this one accepts.
"""

from __future__ import annotations

import bisect
import re

from .references import DEFAULT_FILTERS, JINJA_GLOBALS, NameUse, Ref, TemplateInfo
from .shell_context import refused_positions

__all__ = ["analyze_simple"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_LITERAL = r"""(?:0|[1-9][0-9]*|'[^'\\{}\n]*'|"[^"\\{}\n]*")"""  # Jinja: no 007
_ARGS = rf"\([ \t]*(?:{_LITERAL}(?:[ \t]*,[ \t]*{_LITERAL})*)?[ \t]*\)"
_FILTER = re.compile(rf"[ \t]*\|[ \t]*(?P<name>{_NAME})(?P<args>{_ARGS})?")
_INTERPOLATION = re.compile(
    rf"\{{\{{[ \t]*(?P<root>{_NAME})(?P<attrs>(?:\.{_NAME})*)"
    rf"(?P<filters>(?:[ \t]*\|[ \t]*{_NAME}(?:{_ARGS})?)*)[ \t]*\}}\}}"
)
# Names Jinja reads as constants or operators where a variable would stand.
_NOT_A_ROOT = frozenset(
    {"true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if"}
    | {"else"}
)


def analyze_simple(source: str) -> TemplateInfo | None:
    """The analysis of a simple template, or None when `source` is not one."""
    if "{%" in source or "{#" in source or "\r" in source:
        return None
    lines = [0, *(m.end() for m in re.finditer("\n", source))]
    refs: list[Ref] = []
    filters: list[NameUse] = []
    pieces: list[str | int] = []
    raw_spans: list[tuple[int, int]] = []
    position = 0
    for match in _INTERPOLATION.finditer(source):
        text = source[position : match.start()]
        if "{{" in text or text.endswith("{") or match.group("root") in _NOT_A_ROOT:
            return None  # an interpolation Jinja would read differently
        pieces += [text, match.start()]
        uses = [(f.group("name"), f.start("name"), f.group("args")) for f in _filters(match)]
        filters += [_use(name, offset, lines) for name, offset, _ in uses]
        if uses and uses[-1][0] == "raw" and uses[-1][2] is None:
            raw_spans.append((match.start(), match.end()))
        root = match.group("root")
        if root not in JINJA_GLOBALS:
            path = tuple(match.group("attrs").split(".")[1:])
            guarded = bool(uses) and uses[0][0] in DEFAULT_FILTERS
            use = _use(root, match.start("root"), lines)
            refs.append(Ref(root, path, use.offset, use.line, use.column, guarded))
        position = match.end()
    if "{{" in source[position:]:
        return None
    raw_starts = {start for start, _ in raw_spans}
    return TemplateInfo(
        refs=tuple(refs),
        filters=tuple(filters),
        shell_refusals=refused_positions([*pieces, source[position:]], raw_starts),
        raw_refs=tuple(r for r in refs if any(a <= r.offset < b for a, b in raw_spans)),
    )


def _filters(match: re.Match[str]) -> list[re.Match[str]]:
    start, end = match.span("filters")
    return list(_FILTER.finditer(match.string, start, end))


def _use(name: str, offset: int, lines: list[int]) -> NameUse:
    line = bisect.bisect_right(lines, offset)
    return NameUse(name, offset, line, offset - lines[line - 1] + 1)

"""Simple templates are analysed without Jinja; the two analyses must agree.

`simple_templates.analyze_simple` either declines a text (None) or gives exactly the
`TemplateInfo` of the Jinja-based analysis. The texts are built from the pieces the
simple shape is made of, and from what sits just outside it (whitespace control, `{%`,
keywords, floats, escapes, braces in strings, hyphens, `\\r`), so both answers occur.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from llm_mux.compiler.simple_templates import analyze_simple
from llm_mux.compiler.templates import TemplateSyntax, analyze_with_jinja

names = st.sampled_from(
    ["steps", "args", "x", "item", "loop", "env", "raw", "default", "d", "range", "dict"]
    + ["true", "None", "not", "in", "is", "if", "output", "_a1", "é"]
)
literals = st.sampled_from(["1", "007", "1.5", "-1", "'a'", '"b c"', "'}}'", "'{{'", "'\\''"])
spaces = st.sampled_from(["", " ", " ", " ", "  ", "\t", "\n", "-", "+"])


@st.composite
def interpolations(draw: st.DrawFn) -> str:
    path = draw(names) + "".join("." + draw(names) for _ in range(draw(st.integers(0, 3))))
    text = path
    for _ in range(draw(st.integers(0, 3))):
        text += draw(spaces) + "|" + draw(spaces) + draw(names)
        if draw(st.booleans()):
            args = draw(st.lists(literals, max_size=3))
            text += "(" + draw(st.sampled_from([", ", ",", " , "])).join(args) + ")"
    return "{{" + draw(spaces) + text + draw(spaces) + "}}"


data = st.text(alphabet=st.sampled_from(list("ab '\"\\#;$\n\r{}%|-=.")), max_size=12)
templates = st.lists(st.one_of(data, interpolations()), max_size=5).map("".join)


@settings(max_examples=500)
@given(templates)
@example('echo "{{ steps.a.output }}" {{ args.b | raw }}')
@example("{{ x | default('q') | upper }} {{ y | upper | d }}")
@example("line one\n  {{ steps.s1.output | truncate_chars(200) }}\n")
def test_the_simple_analysis_agrees_with_jinja(text: str) -> None:
    simple = analyze_simple(text)
    if simple is None:
        return
    try:
        expected = analyze_with_jinja(text)
    except TemplateSyntax as error:
        raise AssertionError(f"accepted a template Jinja rejects: {error}") from None
    assert simple == expected


def test_common_templates_take_the_simple_path() -> None:
    for text in [
        "echo {{ args.topic }} {{ steps.s3.output }}",
        "Summarise this:\n{{ steps.s4.output | truncate_chars(200) }}\n",
        "git diff {{ args.base | default('HEAD') }}",
        "plain text, no interpolation",
    ]:
        assert analyze_simple(text) == analyze_with_jinja(text), text

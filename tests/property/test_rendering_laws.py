"""Run-time rendering laws: a text without Jinja syntax renders to itself."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llm_mux.compiler.templates import make_environment
from llm_mux.running.rendering import render

# Texts made of the characters Jinja's syntax is built from, and any others.
texts = st.text(alphabet=st.sampled_from("{}%#-+ \n\r\tab'\"\\$") | st.characters(), max_size=40)


@given(texts, st.booleans())
def test_render_agrees_with_jinja_on_any_text_it_accepts(text: str, shell: bool) -> None:
    try:
        expected = make_environment(shell=shell).from_string(text).render({})
    except Exception:
        return  # not a template Jinja accepts (or one needing a context): nothing to compare
    assert render(text, {}, key="run", shell=shell) == expected

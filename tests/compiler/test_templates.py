"""make_environment (rendering rules) and analyze_template (what the checks see)."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from llm_mux.compiler.references import Ref
from llm_mux.compiler.templates import TemplateSyntax, analyze_template, make_environment


def render(source: str, *, shell: bool = False, **context: object) -> str:
    return str(make_environment(shell=shell).from_string(source).render(**context))


# --- environment ---------------------------------------------------------------------


def test_environment_is_cached_per_flag() -> None:
    assert make_environment() is make_environment()
    assert make_environment(shell=True) is make_environment(shell=True)
    assert make_environment() is not make_environment(shell=True)


def test_undefined_is_an_error_with_escapes() -> None:
    with pytest.raises(UndefinedError):
        render("{{ nothing }}")
    assert render("{{ nothing | default('d') }}") == "d"
    assert render("{% if nothing is defined %}x{% else %}y{% endif %}") == "y"


def test_trailing_newline_is_kept() -> None:
    assert render("a\n") == "a\n"


def test_sandbox_is_immutable() -> None:
    with pytest.raises(SecurityError):
        render("{{ xs.append(1) }}", xs=[])


def test_our_filters_replace_builtins_and_others_remain() -> None:
    assert render("{{ xs | join }}", xs=[1, 2]) == "1, 2"
    assert render("{{ xs | first }}-{{ xs | length }}-{{ 'a' | upper }}", xs=[1, 2]) == "1-2-A"
    assert render("{{ '' | d('x') }}") == "x"


def test_shell_templates_quote_every_value() -> None:
    assert render("echo {{ x }}", shell=True, x="$(touch pwned)") == "echo '$(touch pwned)'"
    assert render("echo {{ x | shell_escape }}", shell=True, x="a b") == "echo 'a b'"
    assert render("echo {{ x | raw }}", shell=True, x="a b") == "echo a b"
    assert render("echo {{ 3 }} {{ 'ok' }}", shell=True) == "echo 3 ok"
    files = ["a b", "c"]
    assert render("ls {{ fs | map('shell_escape') | join(' ') }}", shell=True, fs=files) == (
        "ls 'a b' c"
    )


def test_plain_templates_do_not_quote() -> None:
    assert render("echo {{ x }}", x="a b") == "echo a b"


# --- analysis ------------------------------------------------------------------------


def refs(source: str) -> list[tuple[str, tuple[str | int, ...]]]:
    return [(r.root, r.path) for r in analyze_template(source).refs]


def test_references_with_paths() -> None:
    source = "{{ steps.diff.output }} {{ steps['rust-only'].json[0].k }} {{ d[k].z }}"
    assert refs(source) == [
        ("steps", ("diff", "output")),
        ("steps", ("rust-only", "json", 0, "k")),
        ("k", ()),
        ("d", ()),
    ]


def test_names_bound_in_the_template_are_not_references() -> None:
    source = (
        "{% for item in steps.list.outputs %}{{ item.name }} {{ loop.index }}{% endfor %}"
        "{% set v = args.v %}{{ v }}"
        "{% macro m(p) %}{{ p }}{{ caller }}{% endmacro %}{{ m(1) }}"
        "{% with w = 1 %}{{ w }}{% endwith %}{{ loop.index }}"
    )
    assert refs(source) == [
        ("steps", ("list", "outputs")),
        ("args", ("v",)),
        ("loop", ("index",)),
    ]


def test_reference_positions() -> None:
    source = "line one\n  x {{ steps.a.output }} {{ args.n }}\r\n{{ steps.a.output }}"
    info = analyze_template(source)
    assert [(r.line, r.column) for r in info.refs] == [(2, 8), (2, 29), (3, 4)]
    for ref in info.refs:
        assert source[ref.offset : ref.offset + len(ref.root)] == ref.root


def test_attribute_named_like_the_root_does_not_confuse_positions() -> None:
    info = analyze_template("{{ a.steps }} {{ steps }}")
    assert [(r.root, r.column) for r in info.refs] == [("a", 4), ("steps", 18)]


def test_guarded_references() -> None:
    source = (
        "{{ a | default('') }} {{ b is defined }} {{ c }}"
        "{% if steps.opt is defined %}{{ steps.opt.output }}{% else %}{{ steps.opt.x }}{% endif %}"
        "{{ e is defined and e.f }} {{ g is not defined or g.h }}"
    )
    info = analyze_template(source)
    assert [(r.root, r.path, r.guarded) for r in info.refs] == [
        ("a", (), True),
        ("b", (), True),
        ("c", (), False),
        ("steps", ("opt",), True),
        ("steps", ("opt", "output"), True),
        ("steps", ("opt", "x"), False),
        ("e", (), True),
        ("e", ("f",), True),
        ("g", (), True),
        ("g", ("h",), True),
    ]


def test_hyphenated_step_names() -> None:
    info = analyze_template("{{ steps.rust-only.output }} {{ args.total - count }}")
    assert info.refs[0] == Ref(
        root="steps",
        path=("rust-only", "output"),
        offset=3,
        line=1,
        column=4,
        guarded=False,
        hyphenated="rust-only",
    )
    # With spaces it is a subtraction, not a name.
    assert [(r.root, r.path, r.hyphenated) for r in info.refs[1:]] == [
        ("args", ("total",), None),
        ("count", (), None),
    ]


def test_filters_and_tests_used() -> None:
    source = "{{ x | trim | lines }}\n{% if y is not none and z is defined %}{% endif %}"
    info = analyze_template(source)
    assert [(f.name, f.line, f.column) for f in info.filters] == [("trim", 1, 8), ("lines", 1, 15)]
    assert [(t.name, t.line, t.column) for t in info.tests] == [("none", 2, 16), ("defined", 2, 30)]


@pytest.mark.parametrize(
    ("source", "refused"),
    [
        ('echo "{{ x }}"', []),  # made safe inside the quotes
        ("echo `{{ x }}` {{ y }}", [("{{ x }}", "backtick")]),
        ('echo "`{{ x }}`" $(echo {{ y }})', [("{{ x }}", "backtick")]),
        ('echo "${a:-{{ x }}}"', [("{{ x }}", "parameter")]),
        ("echo \\' `{{ x | raw }}`", []),  # the author's own code
        ("# `{{ x }}`\necho {{ y }}", []),  # a comment
        ("cat <<{{ x }}\n", [("{{ x }}", "delimiter")]),
        ("cat <<'E'\n`{{ x }}`\nE\n", []),  # a quoted here-document is literal
        ("echo '{% if a %}`{{ x }}`{% endif %}'", []),
        ("echo {% if a %}`{{ x }}`{% endif %}", [("{{ x }}", "backtick")]),
    ],
)
def test_positions_no_value_can_be_made_safe_in(
    source: str, refused: list[tuple[str, str]]
) -> None:
    found = analyze_template(source).shell_refusals
    assert [(source[o : o + 7], context) for o, context in found] == refused


def test_syntax_errors_have_a_line() -> None:
    with pytest.raises(TemplateSyntax) as caught:
        analyze_template("ok\n{% if x %}\n{{ y }")
    assert caught.value.line == 3
    assert "unexpected '}'" in caught.value.message


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in xs %}{{ x }}{% else %}{{ x }}{% endfor %}",
        "{{ b }}{% set b = 1 %}{{ b }}",
        "{% macro m(p, q=r) %}{{ p }}{{ q }}{{ s }}{{ varargs }}{% endmacro %}{{ m(1) }}",
        "{% call(u) m(1) %}{{ u }}{{ caller }}{% endcall %}",
        "{% set ns = namespace(c=0) %}{% for i in xs %}{% set ns.c = ns.c + i %}{% endfor %}",
        "{% with a = b %}{{ a }}{% endwith %}{{ a }}",
        "{% for k, v in d | dictsort %}{{ k }}{{ v }}{{ loop.index }}{% endfor %}{{ loop }}",
        "{% set t %}{{ z }}{% endset %}{{ t }}",
        "{% filter upper %}{{ w }}{% endfilter %}{{ range(3) | list }}",
        "{{ x if y else z }}{% for x in xs if x > lim %}{{ x }}{% endfor %}",
    ],
)
def test_free_names_agree_with_jinja_meta(source: str) -> None:
    from jinja2 import meta

    expected = meta.find_undeclared_variables(make_environment().parse(source))
    assert {ref.root for ref in analyze_template(source).refs} == expected


def test_set_inside_if_binds_for_the_rest_of_the_template() -> None:
    # Jinja's meta module calls `b` undeclared here; the checks would then report a
    # name the template defines, so a {% set %} binds from that point on, branch or not.
    assert refs("{% if a %}{% set b = 1 %}{{ b }}{% endif %}{{ b }}") == [("a", ())]

"""Hostile input: whatever the bytes, llm-mux answers with a diagnostic or a clean failure.

Arbitrary and mutated workflows, expressions, templates and API responses are fed
to the real code paths. The only acceptable outcomes are a result, a diagnostic,
or the error type that path promises — never another exception, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_mux.backends import BackendError, OpenAITransport, Request
from llm_mux.backends.http import AnthropicTransport
from llm_mux.compiler.diagnostics import Sink
from llm_mux.compiler.expr import ExprSyntaxError, parse_expression
from llm_mux.compiler.pipeline import check_workflow, load_config
from llm_mux.compiler.plan import BackendSpec
from llm_mux.compiler.source import SourceFile
from llm_mux.compiler.templates import TemplateSyntax, analyze_template
from llm_mux.running.rendering import RenderError, render

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "workflows").glob("*.toml")) + sorted(
    (REPO / "examples" / "invalid").glob("*.toml")
)
CONFIG = (REPO / "examples" / ".llm-mux" / "config.toml").read_text()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _config() -> object:
    return load_config([SourceFile("config.toml", CONFIG)], Sink(), {})


MERGED = _config()


def compile_text(text: str) -> None:
    """The validate path on `text`: diagnostics are fine, exceptions are not."""
    sink = Sink()
    check_workflow(SourceFile("fuzz.toml", text), sink, config=MERGED, env={})  # type: ignore[arg-type]
    for diagnostic in sink:
        assert diagnostic.location.line >= 1 and diagnostic.location.column >= 1
        assert diagnostic.message


@FAST
@given(st.text(max_size=400))
def test_arbitrary_text_as_a_workflow(text: str) -> None:
    compile_text(text)


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLES)).read_text()
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if action == "insert":
            piece = draw(
                st.sampled_from(
                    [
                        '"',
                        "'",
                        "[",
                        "]",
                        "{{",
                        "}}",
                        "{%",
                        "=",
                        "\n",
                        "#",
                        "steps.",
                        "|",
                        "\\",
                        "\x00",
                        "é",
                        "[[steps]]\n",
                    ]
                )
            )
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
        else:
            line_start = text.rfind("\n", 0, position) + 1
            line_end = text.find("\n", position)
            line = text[line_start : line_end if line_end >= 0 else len(text)]
            text = text[:line_start] + line + "\n" + text[line_start:]
    return text


@FAST
@given(mutated_example())
def test_mutated_examples(text: str) -> None:
    compile_text(text)


@FAST
@given(st.text(max_size=120))
def test_arbitrary_expressions_parse_or_say_why(text: str) -> None:
    try:
        parse_expression(text)
    except ExprSyntaxError as error:
        assert error.message and 0 <= error.offset <= len(text)


@FAST
@given(st.text(alphabet=st.sampled_from(list("{}%#|.()[]'\"=<> -_abcsteps\n")), max_size=80))
def test_template_like_text_is_analysed_or_rejected(text: str) -> None:
    try:
        analyze_template(text)
    except TemplateSyntax as error:
        assert error.message and error.line >= 1


@FAST
@given(st.text(alphabet=st.sampled_from(list("{}%|.()[]'\"=_ axyz0")), max_size=60))
def test_rendering_fails_only_with_render_errors(text: str) -> None:
    with contextlib.suppress(RenderError):
        render(text, {"x": {"y": [1, 2]}, "z": "text"}, key="prompt")


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ x.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].system('touch pwned') }}",
    "{{ self._TemplateReference__context }}",
    "{{ x.update({'a': 1}) }}",
    "{{ range.__self__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_the_sandbox_keeps_python_internals_out_of_reach(template: str, tmp_path: Path) -> None:
    with pytest.raises(RenderError):
        render(template, {"x": {"a": 0}}, key="run")
    assert not (tmp_path / "pwned").exists()


RESPONSE_BODIES = st.one_of(
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
        ),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            b'{"choices": []}',
            b'{"choices": [{"message": {}}]}',
            b'{"content": 3}',
            b'{"choices": [{"message": {"content": null}}]}',
            b"",
        ]
    ),
)


@FAST
@given(
    body=RESPONSE_BODIES,
    status=st.sampled_from([200, 200, 201, 400, 401, 429, 500, 503]),
    anthropic=st.booleans(),
)
def test_any_api_response_is_a_completion_or_a_backend_error(
    body: bytes, status: int, anthropic: bool
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    async def call() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            kind = AnthropicTransport if anthropic else OpenAITransport
            spec = BackendSpec(
                name="api",
                kind="anthropic" if anthropic else "openai",
                command="http://127.0.0.1:9/v1",
                model="m",
            )
            transport = kind(spec, client=client, env={})
            try:
                completion = await transport.complete(Request("hello"))
            except BackendError as error:
                assert str(error)
            else:
                assert isinstance(completion.text, str)

    asyncio.run(call())


# -- edit payloads ----------------------------------------------------------------------
HOSTILE_PATHS = [
    "../outside.txt",
    "/tmp/llm-mux-abs.txt",
    ".git/config",
    "link/escape.txt",
    "a/../../up.txt",
    "~/home.txt",
    "ok.txt",
    "sub/new.txt",
    "",
    ".",
]


@st.composite
def edit_payload(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(HOSTILE_PATHS))
    old = draw(st.sampled_from(["hello", "hello\n", "", "missing", "l"]))
    new = draw(st.text(max_size=20))
    shapes = [
        json.dumps({"path": path, "old": old, "new": new}),
        json.dumps({"edits": [{"file": path, "content": new}, {"path": path, "delete": True}]}),
        json.dumps([{"path": path, "old": old, "new": new}] * 2),
        f"--- a/{path}\n+++ b/{path}\n@@ -1,1 +1,1 @@\n-{old}\n+{new}\n",
        f"Here you go:\n```diff\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+{new}\n```\n",
        draw(st.text(max_size=120)),
    ]
    text = draw(st.sampled_from(shapes))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = (
            text[:cut] + draw(st.sampled_from(["", "\x00", "}", "@@", "\n+++ b/x\n"])) + text[cut:]
        )
    return text


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@FAST
@given(edit_payload())
def test_edit_payloads_never_write_outside_the_project(payload: str) -> None:
    import tempfile

    from llm_mux.edits import EditError, Transaction, parse_edits, plan_changes

    with tempfile.TemporaryDirectory() as base:
        outside = Path(base)
        root = outside / "project"
        (root / ".git").mkdir(parents=True)
        (root / ".git" / "config").write_text("[core]\n")
        (root / "ok.txt").write_text("hello\n")
        (root / "link").symlink_to(outside)
        (outside / "outside.txt").write_text("keep me\n")
        before_outside = _snapshot(outside)
        before = _snapshot(root)
        try:
            changes = plan_changes(parse_edits(payload), root)
        except EditError as error:
            assert str(error)
            changes = ()
        for change in changes:
            resolved = change.target.resolve()
            assert resolved.is_relative_to(root.resolve()), change.target
            assert ".git" not in resolved.relative_to(root.resolve()).parts
        transaction = Transaction()
        transaction.apply(changes)
        assert transaction.rollback() == []
        assert _snapshot(root) == before
        assert _snapshot(outside) == before_outside
        assert not Path("/tmp/llm-mux-abs.txt").exists()


# -- store payloads ---------------------------------------------------------------------
JSONISH = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "facts",
                    "relationships",
                    "entities",
                    "project",
                    "fact",
                    "source",
                    "confidence",
                    "from",
                    "to",
                    "type",
                    "entity_type",
                    "entity_name",
                    "properties",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@FAST
@given(document=JSONISH, prose=st.booleans())
def test_store_payloads_are_parsed_or_refused(document: object, prose: bool) -> None:
    from llm_mux.memory.items import NoDocument, parse_batch

    text = json.dumps(document)
    if prose:
        text = f"Here is what I found:\n```json\n{text}\n```\nThanks."
    try:
        batch = parse_batch(text)
    except NoDocument as error:
        assert str(error)
    else:
        assert batch is not None

"""Config pass: deep merge, workflow overlays, provenance, and `${VAR}` references."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping

import pytest

from llm_mux.compiler.diagnostics import Diagnostic, Sink
from llm_mux.compiler.envvars import UnsetVariable, env_references, expand_env
from llm_mux.compiler.passes.config import Layer, MergedConfig, merge_config
from llm_mux.compiler.pipeline import check_workflow
from llm_mux.compiler.source import SourceFile

USER = """\
[backends.claude]
command = "claude"
args = ["-p"]
timeout = 300
max_retries = 5

[roles.default]
backends = ["claude"]
"""

PROJECT = """\
[backends.claude]
timeout = 60
"""

WORKFLOW = """\
name = "w"

[backends.local]
command = "http://localhost:11434/v1"
model = "llama3"

[roles.pair]
backends = ["claude", "local"]
execution = "parallel"

[[steps]]
name = "ask"
type = "query"
role = "pair"
prompt = "hi"
"""


def layer(path: str, text: str) -> Layer:
    return Layer(SourceFile(path, text), tomllib.loads(text))


def merge(*layers: Layer, env: Mapping[str, str] | None = None) -> tuple[MergedConfig, Sink]:
    sink = Sink()
    merged = merge_config(list(layers), sink, env or {})
    assert merged is not None, [d.render() for d in sink]
    return merged, sink


def rendered(sink: Sink) -> list[str]:
    return [d.render() for d in sink.sorted()]


# -- deep merge ------------------------------------------------------------------------
def test_a_later_file_changes_only_the_keys_it_writes() -> None:
    merged, sink = merge(layer("user.toml", USER), layer("project.toml", PROJECT))
    claude = merged.config.backends["claude"]
    assert claude.timeout == 60
    assert (claude.command, claude.args, claude.max_retries) == ("claude", ["-p"], 5)
    assert merged.config.roles["default"].backends == ["claude"]
    assert not sink.items


def test_lists_are_replaced_not_appended() -> None:
    merged, _ = merge(layer("u.toml", USER), layer("p.toml", '[backends.claude]\nargs = ["-q"]\n'))
    assert merged.config.backends["claude"].args == ["-q"]


def test_merging_builds_new_values_and_leaves_the_layers_alone() -> None:
    user = layer("u.toml", USER)
    merge(user, layer("p.toml", PROJECT))
    assert user.raw["backends"]["claude"]["timeout"] == 300  # type: ignore[index]


def test_a_key_may_come_from_one_file_and_its_table_from_another() -> None:
    # A project may tune a backend the user defines; neither file alone is complete.
    merged, sink = merge(
        layer("u.toml", '[backends.x]\nmodel = "m"\n'),
        layer("p.toml", '[backends.x]\ncommand = "https://example.com/v1"\n'),
    )
    assert merged.config.backends["x"].model == "m" and not sink.items


# -- workflow overlay --------------------------------------------------------------------
def test_a_workflow_overlay_applies_to_that_workflow_only() -> None:
    base, _ = merge(layer("u.toml", USER), layer("p.toml", PROJECT))
    sink = Sink()
    checked = check_workflow(SourceFile("w.toml", WORKFLOW), sink, config=base, env={})
    assert checked is not None and checked.config is not None, rendered(sink)
    assert checked.config.config.roles["pair"].execution == "parallel"
    assert checked.config.config.backends["claude"].timeout == 60  # base kept
    assert "pair" not in base.config.roles and "local" not in base.config.backends


def test_an_overlay_can_change_one_key_of_a_configured_backend() -> None:
    base, _ = merge(layer("u.toml", USER))
    text = (
        '[backends.claude]\ntimeout = "2m"\n\n[[steps]]\nname = "a"\ntype = "query"\nprompt = "x"\n'
    )
    checked = check_workflow(SourceFile("w.toml", text), Sink(), config=base, env={})
    assert checked is not None and checked.config is not None
    claude = checked.config.config.backends["claude"]
    assert (claude.timeout, claude.args) == ("2m", ["-p"])


# -- provenance --------------------------------------------------------------------------
def test_an_error_in_a_merged_key_points_into_the_file_that_wrote_it() -> None:
    user = '[backends.slow]\ncommand = "slow"\ntimeout = "soon"\n'
    project = '[backends.fast]\ncommand = "fast"\n'
    sink = Sink()
    merge_config([layer("user.toml", user), layer("project.toml", project)], sink, {})
    assert rendered(sink) == [
        "user.toml:3:11: error: 'timeout': 'soon' is not a duration [E501]\n"
        '    hint: write a number with a unit: "500ms", "90s", "5m" or "1h"'
    ]


def test_an_overridden_key_points_into_the_later_file() -> None:
    user = '[backends.x]\ncommand = "x"\ntimeout = 5\n'
    project = '\n[backends.x]\ntimeout = "later"\n'
    sink = Sink()
    merge_config([layer("user.toml", user), layer("project.toml", project)], sink, {})
    (found,) = sink.items
    assert (found.location.path, found.location.line) == ("project.toml", 3)


def test_a_missing_key_points_at_the_header_of_the_file_that_wrote_the_table() -> None:
    sink = Sink()
    merge_config([layer("u.toml", "\n\n[backends.api]\nmodel = 'gpt-4'\n")], sink, {})
    (found,) = sink.items
    assert (found.code, found.location.line, found.location.column) == ("E103", 3, 1)
    assert found.message == "[backends.api] is missing the required key 'command'"


def test_base_config_warnings_after_an_overlay_stay_in_the_config_file() -> None:
    base_text = '[backends.openai]\ncommand = "https://api.openai.com/v1"\nmodel = "gpt-4"\n'
    base_text += 'api_key = "${OPENAI_API_KEY}"\n'
    sink = Sink()
    base = merge_config([layer("config.toml", base_text)], sink, {})
    overlay = (
        '[backends.local]\ncommand = "ollama"\n\n[[steps]]\nname = "a"\ntype = "shell"\nrun = "x"\n'
    )
    check_workflow(SourceFile("w.toml", overlay), sink, config=base, env={})
    assert {(d.location.path, d.location.line, d.location.column) for d in sink} == {
        ("config.toml", 4, 12)
    }


def test_http_backend_needs_a_model() -> None:
    sink = Sink()
    merge_config([layer("c.toml", '[backends.api]\ncommand = "https://x.example/v1"\n')], sink, {})
    (found,) = sink.items
    assert (found.code, found.message) == (
        "E103",
        "HTTP backend 'api' is missing the required key 'model'",
    )


def test_role_backends_must_exist_with_a_suggestion() -> None:
    sink = Sink()
    text = USER + '[roles.pair]\nbackends = ["claude", "cluade"]\n'
    merge_config([layer("c.toml", text)], sink, {})
    (found,) = sink.items
    assert (found.code, found.hint) == ("E402", "did you mean 'claude'?")
    assert (found.location.line, found.location.column) == (10, 23)


# -- ${VAR} ------------------------------------------------------------------------------
KEYED = (
    '[backends.api]\ncommand = "https://x.example/v1"\nmodel = "m"\napi_key = "Bearer ${API_KEY}"\n'
)


def w701(sink: Sink) -> list[Diagnostic]:
    return [d for d in sink if d.code == "W701"]


def test_an_unset_variable_is_a_warning_at_the_dollar() -> None:
    _, sink = merge(layer("c.toml", KEYED))
    (found,) = w701(sink)
    assert found.message == "${API_KEY} is not set, so [backends.api] cannot be used"
    assert (found.location.line, found.location.column) == (4, 19)
    assert found.hint == "export API_KEY=… before running, or remove the reference"


def test_a_set_variable_is_no_warning() -> None:
    _, sink = merge(layer("c.toml", KEYED), env={"API_KEY": "k"})
    assert not w701(sink)


def test_a_doubled_dollar_is_a_literal_not_a_reference() -> None:
    _, sink = merge(layer("c.toml", KEYED.replace("${API_KEY}", "$${API_KEY}")))
    assert not w701(sink)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("${A}", [("A", 0)]),
        ("x ${A_1} y ${b}", [("A_1", 2), ("b", 11)]),
        ("$${A}", []),
        ("${1A} $A ${A", []),
    ],
)
def test_env_references(text: str, names: list[tuple[str, int]]) -> None:
    assert env_references(text) == names


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("${A}", "a"),
        ("$${A}", "${A}"),
        ("${A}-$${B}", "a-${B}"),
        ("$A and ${ A }", "$A and ${ A }"),
    ],
)
def test_expand_env(text: str, expanded: str) -> None:
    assert expand_env(text, {"A": "a"}) == expanded


def test_expand_env_names_the_unset_variable() -> None:
    with pytest.raises(UnsetVariable) as raised:
        expand_env("${A}${MISSING}", {"A": "a"})
    assert raised.value.name == "MISSING"


# -- the Rust llm-mux's config surface --------------------------------------------------
RUST = """\
[defaults]
timeout = 120
parallel = true
max_concurrent = 2
command_wrapper = "nix-shell --run"

[backends.claude]
command = "claude"
args = ["-p"]
env = [["A", "1"]]

[backends.slow]
command = "codex"
timeout = 600

[backends.sonnet]
type = "claude-api"
command = "claude-api"
model = "claude-sonnet-4-20250514"
api_key_env = "ANTHROPIC_API_KEY"
"""


def test_defaults_and_claude_api_are_accepted_with_their_meaning() -> None:
    from llm_mux.compiler.passes.lower import backend_specs

    merged, sink = merge(layer("config.toml", RUST), env={"ANTHROPIC_API_KEY": "k"})
    assert not sink.items, rendered(sink)
    specs = backend_specs(merged.config)
    assert (specs["claude"].timeout, specs["slow"].timeout) == (120.0, 600.0)
    assert specs["claude"].wrapper == ("nix-shell", "--run")
    assert specs["claude"].env == (("A", "1"),)
    sonnet = specs["sonnet"]
    assert (sonnet.kind, sonnet.command, sonnet.wrapper) == ("anthropic", "", ())
    assert sonnet.api_key == "${ANTHROPIC_API_KEY}"
    assert merged.config.defaults.parallel and merged.config.defaults.max_concurrent == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[backends.x]\ncommand = "http://h/v1"\nmodel = "m"\n'
            'api_key = "k"\napi_key_env = "K"\n',
            "config.toml:5:1: error: [backends.x] sets both 'api_key' and 'api_key_env' [E105]",
        ),
        (
            '[defaults]\ncommand_wrapper = "sh -c \'unclosed"\n',
            "config.toml:2:19: error: 'command_wrapper' in [defaults] is not a command: "
            '"sh -c \'unclosed" [E104]',
        ),
        (
            "[defaults]\nmax_concurrent = 0\n",
            "config.toml:2:18: error: 'max_concurrent' must be 1 or more, not 0 [E104]",
        ),
        (
            '[backends.x]\ncommand = "x"\nmax_response_bytes = 0\n',
            "config.toml:3:22: error: 'max_response_bytes' must be 1 or more, not 0 [E104]",
        ),
        (
            "[defaults]\ntimeout = 5000\n",
            "config.toml:2:11: warning: 'timeout' is 5000 seconds (1.4 hours) [W502]",
        ),
    ],
)
def test_defaults_and_api_key_env_mistakes(text: str, expected: str) -> None:
    sink = Sink()
    merge_config([layer("config.toml", text)], sink, {})
    assert [d.render().splitlines()[0] for d in sink.sorted()] == [expected]

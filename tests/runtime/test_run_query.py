"""`llm-mux run` with query steps against a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from support.openai_server import ModelServer, Reply


def project(
    tmp_path: Path, server: ModelServer, workflow: str, *, models: int = 3, extra: str = ""
) -> None:
    """A project whose backends m0..mN are models of the test server."""
    config = "".join(
        f'[backends.m{i}]\ncommand = "{server.url}"\nmodel = "m{i}"\nmax_retries = 1\n'
        f'retry_delay = "10ms"\n'
        for i in range(models)
    )
    (tmp_path / ".llm-mux").mkdir(exist_ok=True)
    (tmp_path / ".llm-mux" / "config.toml").write_text(config + extra)
    (tmp_path / "wf.toml").write_text(workflow)


def run(cli, tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "--trust", "run", "wf.toml", *args, cwd=tmp_path)
    return result.code, json.loads(result.out)


def step(document: dict[str, object], name: str) -> dict[str, object]:
    return document["steps"][name]  # type: ignore[index, no-any-return]


ROLE = """
[roles.team]
backends = ["m0", "m1", "m2"]
execution = "{mode}"
"""

ASK = """
[[steps]]
name = "ask"
type = "query"
role = "team"
prompt = "question {{ args.n | default('1') }}"
"""


def test_parallel_reports_in_role_order_and_formats_blocks(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply("zero", latency=0.3))
    openai_server.script("m1", Reply("one", latency=0.1))
    openai_server.script("m2", Reply("two", latency=0.0))
    project(tmp_path, openai_server, ASK, extra=ROLE.format(mode="parallel"))
    code, document = run(cli, tmp_path)
    assert code == 0
    ask = step(document, "ask")
    assert ask["output"] == "=== m0 ===\nzero\n\n=== m1 ===\none\n\n=== m2 ===\ntwo"
    assert ask["outputs"] == {"m0": "zero", "m1": "one", "m2": "two"}
    assert ask["backends"] == ["m0", "m1", "m2"]
    assert ask["usage"] == {"prompt_tokens": 30, "completion_tokens": 15, "total_tokens": 45}


def test_first_never_falls_through(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    openai_server.script("m0", Reply.fail(401, "bad key"))
    project(tmp_path, openai_server, ASK, extra=ROLE.format(mode="first"))
    code, document = run(cli, tmp_path)
    assert code == 1
    assert "m0" in str(step(document, "ask")["error"])
    assert openai_server.requests("m1") == []


def test_fallback_records_each_failure_then_succeeds(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    openai_server.script("m0", Reply.fail(401, "bad key"))
    openai_server.script("m1", Reply.fail(400, "bad request"))
    openai_server.script("m2", Reply("rescued"))
    project(tmp_path, openai_server, ASK, extra=ROLE.format(mode="fallback"))
    code, document = run(cli, tmp_path)
    assert code == 0
    ask = step(document, "ask")
    assert ask["output"] == "rescued" and ask["backend"] == "m2"
    assert set(ask["errors"]) == {"m0", "m1"}  # type: ignore[arg-type]


def test_parallel_min_success(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    openai_server.script("m0", Reply.fail(401))
    extra = ROLE.format(mode="parallel") + "min_success = 2\n"
    project(tmp_path, openai_server, ASK, extra=extra)
    code, document = run(cli, tmp_path)
    assert code == 0 and step(document, "ask")["backends"] == ["m1", "m2"]
    openai_server.script("m0", Reply.fail(401))
    openai_server.script("m1", Reply.fail(401))
    code, document = run(cli, tmp_path)
    assert code == 1
    assert step(document, "ask")["backends"] == ["m2"]
    assert "1 of 3 backends succeeded, 2 needed" in str(step(document, "ask")["error"])


def test_eight_parallel_backends_overlap_at_the_server(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    for index in range(8):
        openai_server.script(f"m{index}", Reply(f"answer {index}", latency=0.3))
    role = (
        "[roles.team]\nbackends = ["
        + ", ".join(f'"m{i}"' for i in range(8))
        + ']\nexecution = "parallel"\n'
    )
    project(tmp_path, openai_server, ASK, models=8, extra=role)
    code, _ = run(cli, tmp_path)
    assert code == 0
    requests = openai_server.requests()
    span = max(r.finished or 0 for r in requests) - min(r.arrived for r in requests)
    assert len(requests) == 8 and span < 2 * 0.3, f"served over {span:.2f}s"
    assert openai_server.max_in_flight() == 8


def test_independent_query_steps_overlap(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    for index in range(2):
        openai_server.script(f"m{index}", Reply("ok", latency=0.3))
    workflow = "".join(
        f'[[steps]]\nname = "q{i}"\ntype = "query"\nbackend = "m{i}"\nprompt = "hi"\n'
        for i in range(2)
    )
    project(tmp_path, openai_server, workflow, models=2)
    code, _ = run(cli, tmp_path)
    assert code == 0
    first, second = openai_server.requests()
    assert abs(first.arrived - second.arrived) < 0.15


def test_output_schema_reasks_with_the_validation_error(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    openai_server.script(
        "m0", Reply('here you go: {"facts": 3}'), Reply('```json\n{"facts": ["a"]}\n```')
    )
    workflow = """
[[steps]]
name = "ask"
type = "query"
backend = "m0"
prompt = "list facts"
[steps.output_schema]
type = "object"
required = ["facts"]
[steps.output_schema.properties.facts]
type = "array"
"""
    project(tmp_path, openai_server, workflow, models=1)
    code, document = run(cli, tmp_path)
    assert code == 0, document
    assert step(document, "ask")["json"] == {"facts": ["a"]}
    first, second = openai_server.requests("m0")
    assert "JSON Schema" in first.prompt
    assert "is not of type 'array'" in second.prompt and "facts" in second.prompt


def test_unset_key_makes_the_backend_unavailable_with_a_clear_error(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    workflow = '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "m0"\nprompt = "hi"\n'
    project(tmp_path, openai_server, workflow, models=1)
    config = tmp_path / ".llm-mux" / "config.toml"
    config.write_text(config.read_text() + 'api_key = "${LLM_MUX_TEST_NOT_SET}"\n')
    code, document = run(cli, tmp_path)
    assert code == 1
    error = str(step(document, "ask")["error"])
    assert "${LLM_MUX_TEST_NOT_SET}" in error and "backends.m0.api_key" in error
    assert openai_server.requests() == []


def test_bearer_key_is_sent_and_never_shown(
    cli, tmp_path: Path, openai_server: ModelServer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    secret = "sk-test-PLANTED-0123456789"
    monkeypatch.setenv("LLM_MUX_TEST_KEY", secret)
    openai_server.script("m0", Reply.fail(401, "invalid key"))
    workflow = '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "m0"\nprompt = "hi"\n'
    project(tmp_path, openai_server, workflow, models=1)
    config = tmp_path / ".llm-mux" / "config.toml"
    config.write_text(config.read_text() + 'api_key = "${LLM_MUX_TEST_KEY}"\n')
    result = cli("--trust", "run", "wf.toml", cwd=tmp_path)
    assert result.code == 1
    assert openai_server.requests("m0")[0].headers["authorization"] == f"Bearer {secret}"
    assert secret not in result.out + result.err


def test_for_each_queries_in_item_order(cli, tmp_path: Path, openai_server: ModelServer) -> None:
    workflow = """
[[steps]]
name = "each"
type = "query"
backend = "m0"
prompt = "{{ item }}"
for_each = "['c', 'b', 'a']"
concurrency = 3
"""
    project(tmp_path, openai_server, workflow, models=1)
    code, document = run(cli, tmp_path)
    assert code == 0
    assert step(document, "each")["outputs"] == ["c", "b", "a"]

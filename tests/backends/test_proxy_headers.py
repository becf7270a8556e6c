"""What a LiteLLM proxy adds: the cost it reports, and retry-after as providers said it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.backends import http_spec, run
from support.openai_server import ModelServer, Reply

from llm_mux.backends import BackendError, Completion, Request
from llm_mux.backends.client import make_client
from llm_mux.backends.http import AnthropicTransport, OpenAITransport
from llm_mux.compiler.plan import BackendSpec


def ask(spec: BackendSpec, request: Request) -> Completion:
    async def go() -> Completion:
        async with make_client() as client:
            kind = OpenAITransport if spec.kind == "openai" else AnthropicTransport
            return await kind(spec, client=client, env={}).complete(request)

    return run(go())


def fails(spec: BackendSpec) -> BackendError:
    with pytest.raises(BackendError) as caught:
        ask(spec, Request("hi"))
    return caught.value


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_the_cost_a_proxy_reports_is_the_calls_cost(openai_server: ModelServer, kind: str) -> None:
    openai_server.script("m", Reply("ok", headers={"x-litellm-response-cost": "0.00042"}))
    completion = ask(http_spec(openai_server, "m", kind=kind), Request("hi"))  # type: ignore[arg-type]
    assert completion.cost == 0.00042


@pytest.mark.parametrize("value", ["", "free", "-1", "nan", "inf"])
def test_a_cost_header_that_is_not_a_cost_is_ignored(
    openai_server: ModelServer, value: str
) -> None:
    openai_server.script("m", Reply("ok", headers={"x-litellm-response-cost": value}))
    assert ask(http_spec(openai_server, "m"), Request("hi")).cost is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"llm_provider-retry-after": "4"}, 4.0),
        ({"llm_provider-retry-after-ms": "2500"}, 2.5),
        ({"retry-after": "3", "llm_provider-retry-after": "9"}, 3.0),
    ],
)
def test_retry_after_as_litellm_passes_it_on(
    openai_server: ModelServer, headers: dict[str, str], seconds: float
) -> None:
    for status in (429, 503):
        openai_server.script("m", Reply(status=status, headers=headers))
        assert fails(http_spec(openai_server, "m")).retry_after == seconds


def test_a_reported_cost_reaches_the_run_and_its_ledger(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:  # type: ignore[no-untyped-def]
    openai_server.script("m", Reply("ok", headers={"x-litellm-response-cost": "0.0125"}))
    (tmp_path / "wf.toml").write_text(
        f'[backends.proxy]\ncommand = "{openai_server.url}"\nmodel = "m"\n'
        '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "proxy"\nprompt = "hi"\n'
    )
    result = cli("--trust", "--output", "json", "run", "wf.toml", cwd=tmp_path)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["cost"] == 0.0125 and document["steps"]["ask"]["cost"] == 0.0125
    shown = cli("--output", "json", "runs", "show", document["run_id"], cwd=tmp_path)
    assert '"cost": 0.0125' in shown.out

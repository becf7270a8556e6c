"""The run's HTTP client: many concurrent calls, few connections, proxies respected."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.backends import http_spec, run
from support.openai_server import ModelServer, Reply

from llm_mux.backends import BackendPool, Request, RouteResult
from llm_mux.backends.client import _ShardedTransport, make_client
from llm_mux.compiler.plan import Route


def test_sequential_calls_reuse_one_connection(openai_server: ModelServer) -> None:
    route = Route(role=None, execution="first", backends=("m",))

    async def go() -> None:
        async with BackendPool(
            {"m": http_spec(openai_server, "m")}, root=Path("."), env={}
        ) as pool:
            for i in range(20):
                assert (await pool.run_route(route, Request(str(i)))).ok

    run(go())
    assert len({r.port for r in openai_server.requests()}) == 1


def test_2000_calls_at_concurrency_64(openai_server: ModelServer) -> None:
    # 100 ms answers: even on a loaded machine 64 calls are in flight at once.
    openai_server.default = Reply(latency=0.1)
    route = Route(role=None, execution="first", backends=("m",))

    async def go() -> list[RouteResult]:
        async with BackendPool(
            {"m": http_spec(openai_server, "m")}, root=Path("."), env={}
        ) as pool:
            pool.prepare(["m"])
            gate = asyncio.Semaphore(64)

            async def one(i: int) -> RouteResult:
                async with gate:
                    return await pool.run_route(route, Request(str(i)))

            return await asyncio.gather(*(one(i) for i in range(2000)))

    results = run(go(), timeout=60)
    assert all(r.ok for r in results)
    texts = [r.outcomes[0].completion.text for r in results if r.outcomes[0].completion]
    assert texts == [str(i) for i in range(2000)]
    assert 48 <= openai_server.max_in_flight() <= 64
    assert len({r.port for r in openai_server.requests()}) <= 128  # keep-alive, not 2,000
    # How fast is the benchmark's to say (scripts/bench for_each), not a timed test's:
    # 48+ calls in flight at once is what bounds the time here.


def test_a_proxy_in_the_environment_keeps_httpx_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def transport_kind() -> type:
        async with make_client() as client:
            return type(client._transport)

    assert run(transport_kind()) is _ShardedTransport
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert run(transport_kind()) is not _ShardedTransport

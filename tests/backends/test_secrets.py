"""The api key and header secrets never appear in any error message, whatever fails."""

from __future__ import annotations

from pathlib import Path

from support.backends import http_spec, run
from support.openai_server import ModelServer, Reply

from llm_mux.backends import BackendPool, Request, RouteResult
from llm_mux.compiler.plan import BackendSpec, Route

KEY = "sk-PLANTED-7f3a9c2e51d04b8a"
HEADER = "hdr-PLANTED-c0ffee1234"
ENV = {"OPENAI_API_KEY": KEY, "TEAM_SECRET": HEADER}


def leaky_replies() -> list[Reply]:
    """Failures of every kind, several of them echoing the secrets back."""
    echo = f"Incorrect API key provided: {KEY} (header {HEADER})"
    return [
        Reply.fail(401, echo),
        Reply.fail(403, echo),
        Reply.fail(400, echo),
        Reply.fail(500, echo),
        Reply(status=429, error=echo, headers={"Retry-After": "0"}),
        Reply.raw(f"<html>{echo}</html>"),
        Reply.raw(f'{{"echo": "{KEY}", "header": "{HEADER}"}}'),
        Reply.raw(f'{{"error": "{KEY}"}}', status=502),
        Reply(latency=2.0),  # a timeout
    ]


def messages(result: RouteResult) -> list[str]:
    found = [result.error or ""]
    for outcome in result.outcomes:
        found.append(outcome.error or "")
        found.extend(attempt.error or "" for attempt in outcome.attempts)
    return found


def spec(server: ModelServer, kind: str, **settings: object) -> BackendSpec:
    return http_spec(
        server,
        "leaky",
        kind=kind,  # type: ignore[arg-type]
        api_key="${OPENAI_API_KEY}",
        headers=(("X-Team", "${TEAM_SECRET}"),),
        max_retries=0,
        timeout=0.3,
        **settings,
    )


def test_secrets_never_appear_in_any_error(openai_server: ModelServer) -> None:
    collected: list[str] = []
    for kind in ("openai", "anthropic"):
        for reply in leaky_replies():
            openai_server.script("leaky", reply)
            backend = spec(openai_server, kind)
            route = Route(role="r", execution="first", backends=("leaky",))

            async def go(backend: BackendSpec = backend, route: Route = route) -> RouteResult:
                async with BackendPool({"leaky": backend}, root=Path("."), env=ENV) as pool:
                    return await pool.run_route(route, Request("q"))

            result = run(go())
            assert not result.ok
            collected.extend(messages(result))
    refused = spec(openai_server, "openai", command="http://127.0.0.1:9/v1")
    route = Route(role="r", execution="first", backends=("leaky",))

    async def unreachable() -> RouteResult:
        async with BackendPool({"leaky": refused}, root=Path("."), env=ENV) as pool:
            return await pool.run_route(route, Request("q"))

    collected.extend(messages(run(unreachable())))
    assert len([m for m in collected if m]) >= 3 * 19
    for message in collected:
        assert KEY not in message and HEADER not in message, message
        assert "PLANTED" not in message, message
    assert any("***" in message for message in collected)  # the echoes were there, redacted
    # ...while the server really did receive them.
    seen = openai_server.requests("leaky")[0].headers
    assert KEY in (seen.get("authorization", "") + seen.get("x-api-key", ""))

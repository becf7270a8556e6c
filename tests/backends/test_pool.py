"""BackendPool: availability, roles (first, fallback, parallel), limits, checks, cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from support.backends import alive, cli_spec, environ, http_spec, run, write_script
from support.openai_server import ModelServer, Reply

from llm_mux.backends import BackendError, BackendPool, Check, Request, RouteResult
from llm_mux.compiler.plan import BackendSpec, Route


def route(execution: str, *backends: str, min_success: int = 1, role: str | None = "r") -> Route:
    return Route(role=role, execution=execution, backends=backends, min_success=min_success)  # type: ignore[arg-type]


def routed(
    specs: Mapping[str, BackendSpec] | list[BackendSpec],
    the_route: Route,
    prompt: str = "q",
    *,
    check: Check | None = None,
    env: Mapping[str, str] | None = None,
    root: Path = Path("."),
) -> RouteResult:
    by_name = {s.name: s for s in specs} if isinstance(specs, list) else dict(specs)

    async def go() -> RouteResult:
        async with BackendPool(by_name, root=root, env=environ() if env is None else env) as pool:
            return await pool.run_route(the_route, Request(prompt), check=check)

    return run(go())


# -- availability ---------------------------------------------------------------


def test_availability_reasons(openai_server: ModelServer, tmp_path: Path) -> None:
    tool = write_script(tmp_path, "tool", "echo hi\n")
    specs = {
        "ok_cli": cli_spec("tool", name="ok_cli"),
        "ok_path": cli_spec("./tool", name="ok_path"),
        "ok_http": http_spec(openai_server, "ok_http", api_key="${KEY}"),
        "ok_anthropic": http_spec(openai_server, "ok_anthropic", kind="anthropic", command=""),
        "off": http_spec(openai_server, "off", enabled=False),
        "missing": cli_spec("llm-mux-test-missing", name="missing"),
        "keyless": http_spec(openai_server, "keyless", api_key="${OPENAI_API_KEY}"),
        "header": http_spec(openai_server, "header", headers=(("X-Team", "${TEAM_ID}"),)),
        "arg": cli_spec("tool", name="arg", args=("--model", "${MODEL}")),
        "env": cli_spec("tool", name="env", env=(("TOKEN", "${TOKEN}"),)),
        "ftp": http_spec(openai_server, "ftp", command="ftp://example.invalid"),
    }
    env = {"PATH": str(tmp_path), "KEY": "k"}
    pool = BackendPool(specs, root=tmp_path, env=env)
    assert tool.exists()
    reasons = {name: pool.availability(name) for name in [*specs, "ghost"]}
    assert reasons == {
        "ok_cli": None,
        "ok_path": None,
        "ok_http": None,
        "ok_anthropic": None,
        "off": "disabled (enabled = false)",
        "missing": "command 'llm-mux-test-missing' not found on PATH",
        "keyless": "${OPENAI_API_KEY} is not set (backends.keyless.api_key)",
        "header": "${TEAM_ID} is not set (backends.header.headers.X-Team)",
        "arg": "${MODEL} is not set (backends.arg.args[1])",
        "env": "${TOKEN} is not set (backends.env.env.TOKEN)",
        "ftp": "command is not an http:// or https:// URL (backends.ftp.command)",
        "ghost": "no backend named 'ghost' is configured",
    }


def test_the_backends_env_path_is_where_its_command_is_looked_up(tmp_path: Path) -> None:
    write_script(tmp_path, "tool", "echo hi\n")
    spec = cli_spec("tool", env=(("PATH", "${TOOLS}"),))
    pool = BackendPool(
        {"cli": spec}, root=tmp_path, env={"PATH": "/nonexistent", "TOOLS": str(tmp_path)}
    )
    assert pool.availability("cli") is None


def test_unavailable_backends_are_passed_over_by_every_mode(openai_server: ModelServer) -> None:
    specs = [
        http_spec(openai_server, "gone", api_key="${NOT_SET_ANYWHERE}"),
        http_spec(openai_server, "off", enabled=False),
        http_spec(openai_server, "here"),
    ]
    for execution in ("first", "fallback", "parallel"):
        result = routed(specs, route(execution, "gone", "off", "here"), env={})
        assert result.ok and [o.backend for o in result.outcomes] == ["here"]
        assert result.unavailable == {
            "gone": "${NOT_SET_ANYWHERE} is not set (backends.gone.api_key)",
            "off": "disabled (enabled = false)",
        }
    assert {r.model for r in openai_server.requests()} == {"here"}


def test_no_available_backend_names_each_one_and_why(openai_server: ModelServer) -> None:
    specs = [
        http_spec(openai_server, "openai", api_key="${OPENAI_API_KEY}"),
        cli_spec("llm-mux-test-missing", name="claude"),
    ]
    result = routed(
        specs, route("fallback", "openai", "claude", role="reviewer"), env={"PATH": "/nonexistent"}
    )
    assert not result.ok and result.outcomes == ()
    assert result.error == (
        "no available backend for role 'reviewer' — "
        "openai: ${OPENAI_API_KEY} is not set (backends.openai.api_key); "
        "claude: command 'llm-mux-test-missing' not found on PATH"
    )
    direct = routed(specs, route("first", "openai", role=None), env={})
    assert (
        direct.error
        == "backend 'openai' is unavailable: ${OPENAI_API_KEY} is not set (backends.openai.api_key)"
    )
    assert openai_server.requests() == []


def test_complete_refuses_an_unavailable_backend(openai_server: ModelServer) -> None:
    pool = BackendPool({"x": http_spec(openai_server, "x", enabled=False)}, root=Path("."), env={})
    with pytest.raises(BackendError) as caught:
        run(pool.complete("x", Request("q")))
    assert caught.value.kind == "unavailable"
    assert caught.value.message == "backend 'x' is unavailable: disabled (enabled = false)"


# -- first ------------------------------------------------------------------------


def test_first_uses_the_first_backend_only(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply(text="from a"))
    result = routed(
        [http_spec(openai_server, "a"), http_spec(openai_server, "b")], route("first", "a", "b")
    )
    assert result.ok and result.error is None
    (outcome,) = result.outcomes
    assert outcome.backend == "a" and outcome.completion is not None
    assert outcome.completion.text == "from a" and len(outcome.attempts) == 1


def test_first_never_falls_through(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply.fail(401, "bad key"))
    result = routed(
        [http_spec(openai_server, "a"), http_spec(openai_server, "b")], route("first", "a", "b")
    )
    assert not result.ok
    assert [o.backend for o in result.outcomes] == ["a"]
    assert result.error is not None and result.error.startswith("backend 'a': HTTP 401")
    assert openai_server.requests("b") == []


def test_first_fails_only_after_its_own_retries(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply.fail(500), Reply.fail(500), Reply.fail(500))
    specs = [http_spec(openai_server, "a", max_retries=2), http_spec(openai_server, "b")]
    result = routed(specs, route("first", "a", "b"))
    assert not result.ok and len(result.outcomes[0].attempts) == 3
    assert "(gave up after 3 attempts)" in (result.error or "")
    assert openai_server.requests("b") == []


# -- fallback -----------------------------------------------------------------------


def test_fallback_records_each_failure_then_succeeds(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply.fail(401))
    openai_server.script("b", Reply.raw(b"not json"))
    openai_server.script("c", Reply(text="from c"))
    specs = [http_spec(openai_server, n) for n in "abcd"]
    result = routed(specs, route("fallback", "a", "b", "c", "d"))
    assert result.ok and result.error is None
    assert [(o.backend, o.ok) for o in result.outcomes] == [("a", False), ("b", False), ("c", True)]
    assert "HTTP 401" in (result.outcomes[0].error or "")
    assert "malformed" in (result.outcomes[1].error or "")
    assert (
        result.outcomes[2].completion is not None and result.outcomes[2].completion.text == "from c"
    )
    assert openai_server.requests("d") == []


def test_fallback_fails_when_every_backend_fails(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply.fail(403))
    openai_server.script("b", Reply.fail(400))
    specs = [
        http_spec(openai_server, "a"),
        http_spec(openai_server, "b"),
        http_spec(openai_server, "c", enabled=False),
    ]
    result = routed(specs, route("fallback", "a", "b", "c"))
    assert not result.ok and len(result.outcomes) == 2
    error = result.error or ""
    assert error.startswith("all 2 available backends failed: backend 'a': HTTP 403")
    assert "backend 'b': HTTP 400" in error
    assert error.endswith("(passed over: c: disabled (enabled = false))")


# -- parallel -------------------------------------------------------------------------


def test_parallel_reports_in_role_order_even_when_finishing_in_reverse(
    openai_server: ModelServer,
) -> None:
    names = ["slow", "medium", "fast"]
    for latency, name in zip((0.4, 0.2, 0.0), names, strict=True):
        openai_server.script(name, Reply(text=f"from {name}", latency=latency))
    result = routed([http_spec(openai_server, n) for n in names], route("parallel", *names))
    assert result.ok
    assert [o.backend for o in result.outcomes] == names
    assert [o.completion.text for o in result.outcomes if o.completion] == [
        f"from {n}" for n in names
    ]
    finished = {r.model: r.finished or 0 for r in openai_server.requests()}
    assert finished["fast"] < finished["medium"] < finished["slow"]


def test_eight_parallel_backends_take_about_as_long_as_one(openai_server: ModelServer) -> None:
    names = [f"p{i}" for i in range(8)]
    openai_server.default = Reply(latency=0.3)
    started = time.monotonic()
    result = routed(
        [http_spec(openai_server, n) for n in names], route("parallel", *names, min_success=8)
    )
    elapsed = time.monotonic() - started
    assert result.ok and len(result.succeeded) == 8
    requests = openai_server.requests()
    assert len(requests) == 8
    span = max(r.finished or 0 for r in requests) - min(r.arrived for r in requests)
    assert span < 2 * 0.3, f"server saw the 8 calls span {span:.3f}s"
    assert max(o.duration_ms for o in result.outcomes) < 600
    assert elapsed < 2.0


def test_parallel_min_success(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply.fail(500, "down"), Reply.fail(500, "down"))
    specs = [http_spec(openai_server, n, max_retries=0) for n in "abc"]
    assert routed(specs, route("parallel", "a", "b", "c", min_success=2)).ok
    openai_server.script("a", Reply.fail(500, "down"))
    openai_server.script("b", Reply.fail(500, "down too"))
    result = routed(specs, route("parallel", "a", "b", "c", min_success=2))
    assert not result.ok and [o.ok for o in result.outcomes] == [False, False, True]
    error = result.error or ""
    assert error.startswith("1 of 3 backends succeeded, 2 needed: backend 'a': HTTP 500")
    assert "down too" in error


def test_parallel_that_cannot_reach_min_success_calls_nobody(openai_server: ModelServer) -> None:
    specs = [http_spec(openai_server, "a"), http_spec(openai_server, "b", enabled=False)]
    result = routed(specs, route("parallel", "a", "b", min_success=2))
    assert not result.ok and result.outcomes == ()
    assert result.error == (
        "role 'r' needs 2 successful backends but only 1 of 2 are available"
        " (passed over: b: disabled (enabled = false))"
    )
    assert openai_server.requests() == []


def test_parallel_waits_for_each_backend_bounded_by_its_own_timeout(
    openai_server: ModelServer,
) -> None:
    openai_server.script("slow", Reply(latency=3.0))
    openai_server.script("quick", Reply(text="quick", latency=0.1))
    specs = [http_spec(openai_server, "slow", timeout=0.3), http_spec(openai_server, "quick")]
    started = time.monotonic()
    result = routed(specs, route("parallel", "slow", "quick"))
    assert time.monotonic() - started < 2.0
    assert result.ok and [o.ok for o in result.outcomes] == [False, True]
    assert "timed out after 0.3s" in (result.outcomes[0].error or "")


# -- max_concurrent --------------------------------------------------------------------------


def test_max_concurrent_is_observed_at_the_server_across_the_run(
    openai_server: ModelServer,
) -> None:
    openai_server.default = Reply(latency=0.05)
    specs = {
        "limited": http_spec(openai_server, "limited", max_concurrent=2),
        "free": http_spec(openai_server, "free"),
    }

    async def go() -> list[RouteResult]:
        async with BackendPool(specs, root=Path("."), env={}) as pool:
            both = route("parallel", "limited", "free")
            alone = route("first", "limited")
            calls = [pool.run_route(both if i % 2 else alone, Request(str(i))) for i in range(12)]
            return await asyncio.gather(*calls)

    results = run(go())
    assert all(r.ok for r in results)
    assert len(openai_server.requests("limited")) == 12
    assert openai_server.max_in_flight("limited") == 2
    assert openai_server.max_in_flight("free") == 6  # unlimited: all at once


# -- checks (output_schema) ---------------------------------------------------------------------


def must_say_valid(text: str) -> str | None:
    return None if text == "valid" else f"expected 'valid', got {text!r}"


def reprompt(original: str, answer: str, error: str) -> str:
    return f"{original}\nYour answer {answer!r} was wrong: {error}"


def test_check_reasks_the_same_backend_with_the_error(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply(text="nope"), Reply(text="valid"))
    check = Check(validate=must_say_valid, retries=2, reprompt=reprompt)
    result = routed(
        [http_spec(openai_server, "a"), http_spec(openai_server, "b")],
        route("fallback", "a", "b"),
        "Q",
        check=check,
    )
    assert result.ok
    (outcome,) = result.outcomes
    assert outcome.completion is not None and outcome.completion.text == "valid"
    assert len(outcome.attempts) == 2
    prompts = [r.prompt for r in openai_server.requests("a")]
    assert prompts == ["Q", "Q\nYour answer 'nope' was wrong: expected 'valid', got 'nope'"]
    assert openai_server.requests("b") == []


def test_a_still_invalid_answer_fails_that_backend_and_fallback_moves_on(
    openai_server: ModelServer,
) -> None:
    openai_server.script("a", Reply(text="bad 1"), Reply(text="bad 2"))
    openai_server.script("b", Reply(text="valid"))
    check = Check(validate=must_say_valid, retries=1, reprompt=reprompt)
    result = routed(
        [http_spec(openai_server, "a"), http_spec(openai_server, "b")],
        route("fallback", "a", "b"),
        check=check,
    )
    assert result.ok and [o.ok for o in result.outcomes] == [False, True]
    assert len(openai_server.requests("a")) == 2  # the first answer and one re-ask
    assert result.outcomes[0].error == (
        "backend 'a': the answer is still invalid after 1 re-ask: expected 'valid', got 'bad 2'"
        " (last answer: 'bad 2')"
    )


def test_check_with_no_retries_fails_at_once(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply(text="bad"))
    check = Check(validate=must_say_valid, retries=0, reprompt=reprompt)
    result = routed([http_spec(openai_server, "a")], route("first", "a"), check=check)
    assert not result.ok and len(openai_server.requests("a")) == 1
    assert "the answer is invalid: expected 'valid'" in (result.error or "")


def test_parallel_checks_each_backend_separately(openai_server: ModelServer) -> None:
    openai_server.script("a", Reply(text="bad"), Reply(text="valid"))
    openai_server.script("b", Reply(text="valid"))
    check = Check(validate=must_say_valid, retries=1, reprompt=reprompt)
    specs = [http_spec(openai_server, "a"), http_spec(openai_server, "b")]
    result = routed(specs, route("parallel", "a", "b", min_success=2), check=check)
    assert result.ok
    assert [len(o.attempts) for o in result.outcomes] == [2, 1]


# -- CLI backends through the pool, and cancellation ---------------------------------------------


def test_cli_backend_through_a_route(tmp_path: Path) -> None:
    write_script(tmp_path, "answer", 'echo "cli says: $2"\n')  # $1 is --
    spec = cli_spec("answer", name="local")
    result = routed(
        [spec],
        route("first", "local"),
        "hello",
        env=environ(PATH=f"{tmp_path}:/usr/bin:/bin"),
        root=tmp_path,
    )
    assert result.ok and result.outcomes[0].completion is not None
    assert result.outcomes[0].completion.text == "cli says: hello"


def test_cancelling_a_parallel_route_cancels_every_call(
    openai_server: ModelServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    write_script(tmp_path, "hang", f"sleep 60 &\necho $! > {pid_file}\nwait\n")
    openai_server.script("http", Reply(latency=5.0))
    specs = {
        "cli": cli_spec(tmp_path / "hang", name="cli"),
        "http": http_spec(openai_server, "http"),
    }

    async def go() -> float:
        async with BackendPool(specs, root=tmp_path, env=environ()) as pool:
            task = asyncio.create_task(
                pool.run_route(route("parallel", "cli", "http"), Request("q"))
            )
            while not pid_file.exists() or not openai_server.requests("http"):
                await asyncio.sleep(0.02)
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.monotonic() - started

    assert run(go()) < 3.0
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(grandchild)

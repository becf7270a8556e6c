"""Hostile sizes and values at run time: a step failure with a reason, never an internal error.

Issue 12, cases 8, 9 and 11: a command over the system's argument limit, JSON nested
deeper than anything reads (from a step, a model or a server, in for_each, fromjson,
store, apply and HTTP bodies), bytes that are not UTF-8 in an argument, and the sandbox's
refusals inside for_each and map(attribute=…).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.openai_server import ModelServer, Reply

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000


def run(cli, tmp_path: Path, workflow: str, *args: str) -> tuple[int, dict[str, object], str]:  # type: ignore[no-untyped-def]
    (tmp_path / "wf.toml").write_text(workflow)
    result = cli("--trust", "--output", "json", "run", "wf.toml", *args, cwd=tmp_path)
    assert "internal error" not in result.err, result.err
    document = json.loads(result.out) if result.out.strip() else {}
    return result.code, document, result.err


def step(document: dict[str, object], name: str) -> dict[str, object]:
    return document["steps"][name]  # type: ignore[index,no-any-return]


def printing(text: str, name: str = "make") -> str:
    return f"[[steps]]\nname = '{name}'\ntype = 'shell'\nrun = 'cat value.txt'\n"


# -- 8 -------------------------------------------------------------------------------------
def test_a_command_over_the_argument_limit_fails_its_step_and_continue_on_error_holds(
    cli, tmp_path: Path
) -> None:
    (tmp_path / "value.txt").write_text("a" * 200_000)
    code, document, _ = run(
        cli,
        tmp_path,
        printing("")
        + "[[steps]]\nname = 'use'\ntype = 'shell'\nrun = 'echo {{ steps.make.output }}'\n"
        "continue_on_error = true\n"
        "[[steps]]\nname = 'after'\ntype = 'shell'\ndepends_on = ['use']\nrun = 'echo ok'\n",
    )
    assert step(document, "use")["status"] == "failed"
    error = str(step(document, "use")["error"])
    assert "more than the system lets one command take" in error
    assert "through a file or stdin" in error
    assert step(document, "after")["output"] == "ok"
    assert code == 0  # the failure was allowed


# -- 9 -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("use", "expected"),
    [
        (
            "[[steps]]\nname = 'use'\ntype = 'shell'\n"
            "run = 'echo {{ steps.make.output | fromjson }}'\n",
            "nests more than",
        ),
        (
            "[[steps]]\nname = 'use'\ntype = 'shell'\nfor_each = 'steps.make.output'\n"
            "run = 'echo {{ item }}'\n",
            "for_each",
        ),
        ("[[steps]]\nname = 'use'\ntype = 'store'\ninput = '{{ steps.make.output }}'\n", ""),
        ("[[steps]]\nname = 'use'\ntype = 'apply'\nsource = 'make'\n", ""),
    ],
)
@pytest.mark.parametrize("deep", [DEEP, DEEP_OBJECT])
def test_deeply_nested_json_from_a_step_is_a_step_failure(
    cli, tmp_path: Path, use: str, expected: str, deep: str
) -> None:
    (tmp_path / "value.txt").write_text(deep)
    code, document, _ = run(cli, tmp_path, printing("") + use)
    assert code == 1
    assert step(document, "use")["status"] == "failed"
    assert expected in str(step(document, "use")["error"])


@pytest.mark.parametrize("status", [200, 500])
def test_deeply_nested_json_from_a_server_is_a_backend_error(
    cli, tmp_path: Path, openai_server: ModelServer, status: int
) -> None:
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(
        f'[backends.api]\ncommand = "{openai_server.url}"\nmodel = "m"\nmax_retries = 0\n'
    )
    openai_server.default = Reply.raw(DEEP_OBJECT, status=status)
    code, document, _ = run(
        cli, tmp_path, "[[steps]]\nname = 'ask'\ntype = 'query'\nbackend = 'api'\nprompt = 'hi'\n"
    )
    assert code == 1
    assert "backend 'api'" in str(step(document, "ask")["error"])


def test_a_deep_answer_is_not_json_for_output_schema(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(
        f'[backends.api]\ncommand = "{openai_server.url}"\nmodel = "m"\nmax_retries = 0\n'
    )
    openai_server.default = Reply(text=DEEP)
    code, document, _ = run(
        cli,
        tmp_path,
        "[[steps]]\nname = 'ask'\ntype = 'query'\nbackend = 'api'\nprompt = 'hi'\n"
        "[[steps]]\nname = 'each'\ntype = 'shell'\nfor_each = 'steps.ask.output'\n"
        "run = 'echo {{ item }}'\n",
    )
    assert code == 1
    assert step(document, "each")["status"] == "failed"


# -- 11 ------------------------------------------------------------------------------------
def test_an_argument_that_is_not_utf8_is_a_usage_error(cli, tmp_path: Path) -> None:
    (tmp_path / "wf.toml").write_text(
        "[[steps]]\nname = 'a'\ntype = 'shell'\nrun = 'echo {{ args.x }}'\n"
    )
    result = cli("run", "wf.toml", "x=a\udcffb", cwd=tmp_path)
    assert result.code == 2
    assert "is not UTF-8 text (byte 0xff at position 4)" in result.err
    assert "internal error" not in result.err


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("for_each = 'lipsum.__globals__'\nrun = 'echo {{ item }}'\n", "__globals__"),
        ("for_each = '[1]'\nrun = 'echo {{ lipsum.__globals__ }}'\n", "__globals__"),
        ("run = \"echo {{ [1, 2] | map(attribute='__class__') | list }}\"\n", "__class__"),
        ("if = 'lipsum.__globals__'\nrun = 'echo'\n", "__globals__"),
    ],
)
def test_the_sandbox_refusing_is_a_step_failure(
    cli, tmp_path: Path, keys: str, expected: str
) -> None:
    code, document, _ = run(cli, tmp_path, f"[[steps]]\nname = 'a'\ntype = 'shell'\n{keys}")
    assert code == 1
    error = str(step(document, "a")["error"])
    assert expected in error and "unsafe" in error


# -- 12 ------------------------------------------------------------------------------------
def test_a_response_over_max_response_bytes_is_a_clear_error(
    cli, tmp_path: Path, openai_server: ModelServer
) -> None:
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(
        f'[backends.api]\ncommand = "{openai_server.url}"\nmodel = "m"\nmax_retries = 0\n'
        "max_response_bytes = 100000\n"
    )
    openai_server.default = Reply(text="x" * 300_000)
    code, document, _ = run(
        cli, tmp_path, "[[steps]]\nname = 'ask'\ntype = 'query'\nbackend = 'api'\nprompt = 'hi'\n"
    )
    assert code == 1
    error = str(step(document, "ask")["error"])
    assert "larger than max_response_bytes (100,000 bytes)" in error
    assert "backends.api.max_response_bytes" in error
    openai_server.default = Reply(text="x" * 50_000)
    code, document, _ = run(
        cli, tmp_path, "[[steps]]\nname = 'ask'\ntype = 'query'\nbackend = 'api'\nprompt = 'hi'\n"
    )
    assert code == 0 and step(document, "ask")["output"] == "x" * 50_000

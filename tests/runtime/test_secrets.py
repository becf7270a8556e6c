"""A planted secret appears in no output channel: console, JSON, ledger, runs, doctor."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from support.openai_server import ModelServer, Reply

from llm_mux.redact import Redactor, is_placeholder

SECRET = "sk-PLANTED-4f1d9a7c2b6e"


def test_a_planted_secret_appears_nowhere(
    cli, tmp_path: Path, openai_server: ModelServer, monkeypatch, isolated_home: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLM_MUX_TEST_API_KEY", SECRET)
    # The server echoes the prompt, which carries the secret through a template.
    (tmp_path / ".llm-mux").mkdir()
    (tmp_path / ".llm-mux" / "config.toml").write_text(
        f'[backends.api]\ncommand = "{openai_server.url}"\nmodel = "m"\n'
        'api_key = "${LLM_MUX_TEST_API_KEY}"\nmax_retries = 0\n'
    )
    (tmp_path / "wf.toml").write_text(
        '[[steps]]\nname = "leak"\ntype = "shell"\nrun = "echo key=$LLM_MUX_TEST_API_KEY"\n'
        '[[steps]]\nname = "echoed"\ntype = "query"\nbackend = "api"\n'
        'prompt = "the key is {{ env.LLM_MUX_TEST_API_KEY }}"\n'
        '[[steps]]\nname = "refused"\ntype = "query"\nbackend = "api"\n'
        'prompt = "{{ steps.echoed.output }}"\n'
    )
    channels = []
    for mode in ("console", "json", "quiet"):
        openai_server.script("m", Reply(), Reply.fail(401, f"invalid key {SECRET}"))
        result = cli("--trust", "--output", mode, "run", "wf.toml", cwd=tmp_path)
        assert result.code == 1
        channels += [result.out, result.err]
    assert "[redacted:LLM_MUX_TEST_API_KEY]" in channels[2]  # the JSON document
    runs = cli("--output", "json", "runs", "list", cwd=tmp_path)
    channels += [runs.out, runs.err]
    run_id = runs.out.split('"run_id": "')[1].split('"')[0]
    shown = cli("runs", "show", run_id, cwd=tmp_path)
    channels += [shown.out, shown.err]
    doctor = cli("--trust", "doctor", cwd=tmp_path)
    channels += [doctor.out, doctor.err]
    for index, text in enumerate(channels):
        assert SECRET not in text, f"channel {index} leaks the secret:\n{text}"
    state = isolated_home / ".local" / "state" / "llm-mux"
    for path in state.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"{path} leaks the secret"


# -- issue 12: redaction survives every encoding, quoting and cut --------------------------
AWKWARD = "sk-quote\"back\\slash'apos\nnewline-é-ünï-" + "9" * 12
KEY = "sk-quote\"back\\slash'apos-" + "7" * 12  # what an HTTP header can carry


def _project(tmp_path: Path, url: str, workflow: str) -> None:
    (tmp_path / ".llm-mux").mkdir(exist_ok=True)
    (tmp_path / ".llm-mux" / "config.toml").write_text(
        f'[backends.api]\ncommand = "{url}"\nmodel = "m"\n'
        'api_key = "${LLM_MUX_TEST_API_KEY}"\nmax_retries = 0\n'
    )
    (tmp_path / "wf.toml").write_text(workflow)


def _channels(cli, tmp_path: Path, isolated_home: Path) -> list[str]:  # type: ignore[no-untyped-def]
    texts = []
    for mode in ("console", "json"):
        out = tmp_path / f"out-{mode}.txt"
        result = cli(
            "--trust", "--output", mode, "run", "wf.toml", "--output-file", str(out), cwd=tmp_path
        )
        texts += [result.out, result.err, out.read_text() if out.exists() else ""]
    listed = cli("--output", "json", "runs", "list", cwd=tmp_path)
    texts += [listed.out, listed.err]
    for run_id in {line.split('"')[3] for line in listed.out.splitlines() if '"id":' in line}:
        for mode in ("console", "json"):
            shown = cli("--output", mode, "runs", "show", run_id, cwd=tmp_path)
            texts += [shown.out, shown.err]
    state = isolated_home / ".local" / "state" / "llm-mux"
    texts += [p.read_bytes().decode("utf-8", "replace") for p in state.rglob("*") if p.is_file()]
    return texts


def _leaks(secret: str, texts: list[str]) -> list[str]:
    """Texts holding the secret in any form: as is, escaped, or a piece of 8+ characters."""
    import json as json_

    forms = {secret, json_.dumps(secret)[1:-1], json_.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {repr(secret)[1:-1]}
    pieces = {form[i : i + 8] for form in forms for i in range(len(form) - 7)}
    pieces = {p for p in pieces if "\n" not in p and not p.isdigit()}
    return [text for text in texts if any(piece in text for piece in pieces | forms)]


def test_an_awkward_secret_is_redacted_in_json_files_ledger_and_runs_show(
    cli, tmp_path: Path, monkeypatch, isolated_home: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLM_MUX_TEST_TOKEN", AWKWARD)
    (tmp_path / "wf.toml").write_text(
        '[[steps]]\nname = "printed"\ntype = "shell"\nrun = "printf %s \\"$LLM_MUX_TEST_TOKEN\\""\n'
        '[[steps]]\nname = "failed"\ntype = "shell"\n'
        "run = \"printf '%s' {{ steps.printed.output }} >&2; exit 3\"\n"
    )
    texts = _channels(cli, tmp_path, isolated_home)
    assert any("[redacted:LLM_MUX_TEST_TOKEN]" in text for text in texts)
    assert _leaks(AWKWARD, texts) == []


def test_a_key_echoed_in_a_non_json_error_body_is_redacted_before_it_is_quoted_or_cut(
    cli, tmp_path: Path, openai_server: ModelServer, monkeypatch, isolated_home: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLM_MUX_TEST_API_KEY", KEY)
    _project(
        tmp_path,
        openai_server.url,
        '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "api"\nprompt = "hi"\n',
    )
    # 180 characters then the key: a cut at 200 characters falls inside it.
    body = ("x" * 180 + KEY + " trailing").encode()
    openai_server.default = Reply.raw(body, status=401)
    texts = _channels(cli, tmp_path, isolated_home)
    assert any("HTTP 401" in text for text in texts)
    assert _leaks(KEY, texts) == []


def test_a_non_ascii_api_key_is_a_configuration_error(
    cli, tmp_path: Path, openai_server: ModelServer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLM_MUX_TEST_API_KEY", "sk-clé-secrète-1234")
    _project(
        tmp_path,
        openai_server.url,
        '[[steps]]\nname = "ask"\ntype = "query"\nbackend = "api"\nprompt = "hi"\n',
    )
    result = cli("--trust", "run", "wf.toml", cwd=tmp_path)
    assert result.code == 1
    assert "internal error" not in result.err
    assert "api_key holds a character that cannot be sent in an HTTP header" in result.err
    assert "clé" not in result.err + result.out


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(min_size=8, max_size=30).filter(
        lambda s: len(set(s)) > 4 and not is_placeholder(s)  # placeholders are not secrets
    ),
    before=st.text(max_size=60),
    after=st.text(max_size=60),
    limit=st.integers(min_value=1, max_value=120),
    keep_end=st.booleans(),
)
def test_a_cut_never_keeps_a_piece_of_a_secret(
    secret: str, before: str, after: str, limit: int, keep_end: bool
) -> None:
    redactor = Redactor({"K": secret})
    cut = redactor.cut(before + secret + after, limit, keep_end=keep_end)
    assert len(cut) <= limit
    if "[redacted" not in cut:  # the secret was outside the part kept, or replaced
        piece = secret[len(secret) // 2 - 2 : len(secret) // 2 + 2]
        assert piece not in cut or piece in before + after


def test_values_are_redacted_before_they_are_encoded() -> None:
    redactor = Redactor({"K": 'a"b\\c\né-42'})  # 8+ characters: short values are placeholders
    document = {"out": 'x a"b\\c\né-42 y', 'a"b\\c\né-42': ['a"b\\c\né-42']}
    assert redactor.value(document) == {
        "out": "x [redacted:K] y",
        "[redacted:K]": ["[redacted:K]"],
    }

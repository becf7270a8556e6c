"""A planted secret appears in no output channel: console, JSON, ledger, runs, doctor."""

from __future__ import annotations

from pathlib import Path

from support.openai_server import ModelServer, Reply

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
    run_id = runs.out.split('"id": "')[1].split('"')[0]
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

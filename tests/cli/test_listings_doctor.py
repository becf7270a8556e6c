"""`llm-mux backends|roles|teams|ecosystems|workflows` and `llm-mux doctor`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.openai_server import ModelServer, Reply


def project(tmp_path: Path, config: str) -> Path:
    (tmp_path / ".llm-mux" / "workflows").mkdir(parents=True)
    (tmp_path / ".llm-mux" / "config.toml").write_text(config)
    return tmp_path


def fake_cli(directory: Path, name: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\necho fake\n")
    path.chmod(0o755)


def test_listings_as_tables_and_json(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_cli(bin_dir, "claude")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    root = project(
        tmp_path / "p",
        """
[backends.claude]
command = "claude"
[backends.ghost]
command = "no-such-tool-here"
[backends.api]
command = "https://example.invalid/v1"
model = "m"
api_key = "${LLM_MUX_TEST_UNSET}"
[roles.analyzer]
backends = ["claude", "ghost"]
execution = "fallback"
[teams.py]
detect = ["*.py"]
verify = "pytest"
[teams.py.roles]
analyzer = ["claude"]
[ecosystems.eco.projects.p]
path = "PLACEHOLDER"
""".replace("PLACEHOLDER", str(tmp_path / "p")),
    )
    (root / "main.py").write_text("")
    (root / ".llm-mux" / "workflows" / "hello.toml").write_text(
        'description = "says hello"\n[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo hi"\n'
    )
    backends = json.loads(cli("--output", "json", "backends", cwd=root).out)
    by_name = {row["name"]: row for row in backends}
    assert by_name["claude"]["available"] is True
    assert "not found on PATH" in by_name["ghost"]["reason"]
    assert (
        by_name["api"]["api_key_set"] is False and "LLM_MUX_TEST_UNSET" in by_name["api"]["reason"]
    )
    roles = json.loads(cli("--output", "json", "roles", cwd=root).out)
    assert roles[0]["backends"] == ["claude", "ghost"] and roles[0]["team_backends"] == ["claude"]
    teams = json.loads(cli("--output", "json", "teams", cwd=root).out)
    assert teams[0]["detected"] is True
    ecosystems = json.loads(cli("--output", "json", "ecosystems", cwd=root).out)
    assert ecosystems[0]["detected"] is True and ecosystems[0]["current_project"] == "p"
    workflows = json.loads(cli("--output", "json", "workflows", cwd=root).out)
    assert {"name": "hello", "origin": "project"}.items() <= workflows[0].items()
    table = cli("backends", cwd=root)
    assert table.code == 0 and table.out.splitlines()[0].split()[:3] == ["NAME", "TYPE", "COMMAND"]


def test_doctor_reports_missing_cli_and_exits_1(cli, tmp_path: Path) -> None:
    root = project(
        tmp_path,
        '[backends.ghost]\ncommand = "no-such-tool-here"\n[roles.r]\nbackends = ["ghost"]\n',
    )
    result = cli("doctor", "--offline", cwd=root)
    assert result.code == 1
    assert "✗ backend ghost: command 'no-such-tool-here' not found on PATH" in result.out
    assert "✗ role r: none of ghost is available" in result.out


def test_doctor_contacts_http_backends_and_checks_workflows(
    cli, tmp_path: Path, openai_server: ModelServer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLM_MUX_TEST_KEY", "sk-PLANTED-secret-value")
    openai_server.script("m", Reply("unused"))
    root = project(
        tmp_path,
        f'[backends.api]\ncommand = "{openai_server.url}"\nmodel = "m"\n'
        'api_key = "${LLM_MUX_TEST_KEY}"\n[roles.r]\nbackends = ["api"]\n'
        '[backends.down]\ncommand = "http://127.0.0.1:9/v1"\nmodel = "m"\n',
    )
    (root / ".llm-mux" / "workflows" / "bad.toml").write_text(
        '[[steps]]\nname = "a"\ntype = "shel"\n'
    )
    untrusted = json.loads(cli("--output", "json", "doctor", cwd=root).out)
    down = {c["name"]: c for c in untrusted["checks"] if c["kind"] == "backend"}["down"]
    assert "not contacted (defined by an untrusted project" in down["detail"]
    assert cli("trust", cwd=root).code == 0
    result = cli("--output", "json", "doctor", cwd=root)
    document = json.loads(result.out)
    checks = {(c["kind"], c["name"]): c for c in document["checks"]}
    assert checks[("backend", "api")]["status"] == "ok"
    assert checks[("workflow", "bad")]["status"] == "broken"
    assert result.code == 1 and document["ok"] is False
    assert "sk-PLANTED-secret-value" not in result.out + result.err
    assert checks[("backend", "down")]["status"] == "broken"
    assert "not reachable" in checks[("backend", "down")]["detail"]

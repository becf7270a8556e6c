"""Project trust: a project's .llm-mux/ runs nothing until `llm-mux trust`."""

from __future__ import annotations

from pathlib import Path

import pytest


def make_project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "cloned"
    (root / ".llm-mux" / "workflows").mkdir(parents=True)
    marker = tmp_path / "executed"
    (root / ".llm-mux" / "config.toml").write_text('[backends.x]\ncommand = "true"\n')
    (root / ".llm-mux" / "workflows" / "evil.toml").write_text(
        f'[[steps]]\nname = "a"\ntype = "shell"\nrun = "touch {marker}"\n'
    )
    return root, marker


def test_untrusted_project_is_refused_with_the_command_to_run(cli, tmp_path: Path) -> None:
    root, marker = make_project(tmp_path)
    refused = cli("run", "evil", cwd=root)
    assert refused.code == 2 and not marker.exists()
    assert ".llm-mux is not trusted" in refused.err
    assert "config.toml" in refused.err and "workflows/evil.toml" in refused.err
    assert "run `llm-mux trust`" in refused.err  # from the project root: the plain form


def test_the_refusal_names_the_project_with_dash_c_only_from_elsewhere(cli, tmp_path: Path) -> None:
    root, marker = make_project(tmp_path)
    (root / "src").mkdir()
    for cwd in (tmp_path, root / "src"):
        refused = cli("-C", str(root), "run", "evil", cwd=cwd)
        assert refused.code == 2 and not marker.exists()
        assert f"run `llm-mux -C {root} trust`" in refused.err


def test_the_rust_trust_flags_each_trust_their_part_for_one_run(cli, tmp_path: Path) -> None:
    root, marker = make_project(tmp_path)
    workflows_only = cli("run", "evil", "--allow-project-workflows", cwd=root)
    assert workflows_only.code == 2 and not marker.exists()
    assert "(.llm-mux/config.toml)" in workflows_only.err  # the config is still untrusted
    backends_only = cli("--allow-project-backends", "run", "evil", cwd=root)
    assert backends_only.code == 2 and "(.llm-mux/workflows/evil.toml)" in backends_only.err
    both = cli("run", "evil", "--allow-project-workflows", "--allow-project-backends", cwd=root)
    assert both.code == 0 and marker.exists()
    marker.unlink()
    assert cli("run", "evil", cwd=root).code == 2, "the flags trust that run only"
    (root / ".llm-mux" / "config.toml").unlink()
    assert cli("run", "evil", "--allow-project-workflows", cwd=root).code == 0


def test_trust_then_change_asks_again_and_revoke(cli, tmp_path: Path) -> None:
    root, marker = make_project(tmp_path)
    assert cli("trust", cwd=root).code == 0
    assert cli("run", "evil", cwd=root).code == 0 and marker.exists()
    marker.unlink()
    (root / ".llm-mux" / "config.toml").write_text('[backends.x]\ncommand = "false"\n')
    changed = cli("run", "evil", cwd=root)
    assert changed.code == 2 and "changed since you trusted it" in changed.err
    assert not marker.exists()
    assert cli("trust", cwd=root).code == 0
    assert cli("trust", "--revoke", cwd=root).code == 0
    assert cli("run", "evil", cwd=root).code == 2


@pytest.mark.parametrize("how", ["flag", "env"])
def test_one_run_can_be_trusted(cli, tmp_path: Path, monkeypatch, how: str) -> None:  # type: ignore[no-untyped-def]
    root, marker = make_project(tmp_path)
    if how == "env":
        monkeypatch.setenv("LLM_MUX_TRUST", "1")
        assert cli("run", "evil", cwd=root).code == 0
    else:
        assert cli("run", "evil", "--trust", cwd=root).code == 0
    assert marker.exists()
    monkeypatch.delenv("LLM_MUX_TRUST", raising=False)
    assert cli("run", "evil", cwd=root).code == 2, "trust was for that run only"


def test_compile_only_commands_work_untrusted(cli, tmp_path: Path) -> None:
    root, marker = make_project(tmp_path)
    assert cli("validate", cwd=root).code == 0
    assert cli("plan", "evil", cwd=root).code == 0
    assert cli("run", "evil", "--dry-run", cwd=root).code == 0
    assert cli("backends", cwd=root).code == 0
    assert not marker.exists()


def test_files_outside_any_llm_mux_dir_need_no_trust(cli, tmp_path: Path) -> None:
    workflow = tmp_path / "plain.toml"
    workflow.write_text('[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo ok"\n')
    assert cli("run", str(workflow), cwd=tmp_path).code == 0


def test_a_config_file_from_another_project_needs_its_trust(cli, tmp_path: Path) -> None:
    root, _ = make_project(tmp_path)
    workflow = tmp_path / "plain.toml"
    workflow.write_text('[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo ok"\n')
    config = str(root / ".llm-mux" / "config.toml")
    refused = cli("run", str(workflow), "--config", config, cwd=tmp_path)
    assert refused.code == 2 and "not trusted" in refused.err


def test_trust_outside_a_project_is_an_error(cli, tmp_path: Path) -> None:
    result = cli("trust", cwd=tmp_path)
    assert result.code == 1 and "no .llm-mux/ directory" in result.err


def test_the_refusal_offers_both_ways_to_trust(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, _ = make_project(tmp_path)
    refused = cli("run", "evil", cwd=root)
    assert "`llm-mux trust` (trusts exactly this content" in refused.err  # run from the root
    assert "`llm-mux trust --any-content` (trusts whatever it will contain" in (
        " ".join(refused.err.split())
    )
    assert "weaker" in refused.err


def test_any_content_trust_survives_edits_until_revoked(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, marker = make_project(tmp_path)
    trusted = cli("trust", "--any-content", cwd=root)
    assert trusted.code == 0 and "whatever it will contain" in trusted.out
    workflow = root / ".llm-mux" / "workflows" / "evil.toml"
    workflow.write_text(workflow.read_text() + "# edited\n")
    (root / ".llm-mux" / "workflows" / "new.toml").write_text(
        f'[[steps]]\nname = "b"\ntype = "shell"\nrun = "touch {marker}-new"\n'
    )
    assert cli("run", "evil", cwd=root).code == 0 and marker.exists()
    assert cli("run", "new", cwd=root).code == 0
    assert cli("trust", cwd=root).code == 0  # pinned again: the next edit asks
    workflow.write_text(workflow.read_text() + "# edited again\n")
    assert cli("run", "evil", cwd=root).code == 2
    assert cli("trust", "--any-content", cwd=root).code == 0
    assert cli("trust", "--revoke", cwd=root).code == 0
    assert cli("run", "evil", cwd=root).code == 2


def test_any_content_trust_is_one_project_only(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mine, _ = make_project(tmp_path / "mine")
    other, marker = make_project(tmp_path / "other")
    assert cli("trust", "--any-content", cwd=mine).code == 0
    assert cli("run", "evil", cwd=other).code == 2 and not marker.exists()

"""The README cannot rot: its tutorial, its set-up command and its first example are run
here as written, its links resolve, and it stays short (the reference lives in docs/)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = sorted((REPO / "docs").glob("*.md"))
BIN = Path(sys.executable).parent
TUTORIAL_DIR = "/tmp/llm-mux-tutorial"


def section(title: str) -> str:
    """The README's text from the `## title…` heading to the next `## `."""
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def shell(script: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
    )
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_the_readme_is_short() -> None:
    assert len(README.encode()) <= 12_500


@pytest.mark.parametrize("path", [REPO / "README.md", *DOCS], ids=lambda p: p.name)
def test_no_reference_to_documents_a_reader_cannot_open(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for phrase in ("SPEC", "seed", "original README", "example.invalid"):
        assert phrase not in text, f"{path.name} mentions {phrase!r}"


def test_every_relative_link_of_the_readme_resolves() -> None:
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    assert targets
    for target in targets:
        if "://" not in target:
            assert (REPO / target).exists(), target


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    tutorial = section("Five minutes")
    script = "\n".join(blocks(tutorial, "sh")).replace(TUTORIAL_DIR, str(tmp_path / "t"))
    script = script.replace(
        "llm-mux validate words.toml\n", "llm-mux validate words.toml || :\n", 1
    )
    result = shell(script, tmp_path, tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    expected = blocks(tutorial, "console")[0]
    assert result.stdout.startswith(expected)  # the validate error shown, word for word
    assert "1 file checked: 0 errors, 0 warnings" in result.stdout  # fixed
    assert "[stand-in model] your prompt has" in result.stdout  # run
    assert "words succeeded" in result.stdout  # runs show last
    assert "✓ ask" in result.stderr


def test_the_set_up_command_runs_an_example_offline(tmp_path: Path) -> None:
    first = blocks(section("Set up"), "sh")[0]
    command = next(line for line in first.splitlines() if "llm-mux -C examples" in line)
    run = command.split(" && ")[-1].replace(".venv/bin/llm-mux", "llm-mux")
    result = shell(run, REPO, tmp_path)
    assert result.returncode == 0, result.stderr
    for backend in ("claude", "codex", "gemini"):
        assert f"[{backend} stand-in]" in result.stdout
    assert (REPO / "examples" / "fixme" / "stats.py").is_file()  # the file it names


def test_the_first_example_runs_in_a_one_commit_repository(tmp_path: Path) -> None:
    toml = blocks(README.split("\n## ")[0], "toml")[0]
    name = re.search(r"\.llm-mux/workflows/([\w-]+)\.toml", toml)
    assert name is not None and name.group(1) not in {"review"}  # shadows no built-in
    project = tmp_path / "project"
    workflows = project / ".llm-mux" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / f"{name.group(1)}.toml").write_text(toml)
    (project / "notes.txt").write_text("one\n")
    home = tmp_path / "home"
    (home / ".config" / "llm-mux").mkdir(parents=True)
    (home / ".config" / "llm-mux" / "config.toml").write_text(  # as `llm-mux init` writes it
        '[backends.echo]\ncommand = "sh"\nargs = ["-c", "echo summarized", "echo"]\n'
        '[roles.default]\nbackends = ["echo"]\nexecution = "fallback"\n'
    )
    git = "git -c user.name=t -c user.email=t@t"
    script = f"git init -q && {git} add . && {git} commit -qm one && echo two >> notes.txt\n"
    script += f"llm-mux validate && llm-mux --trust run {name.group(1)}"
    result = shell(script, project, home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "summarized" in result.stdout

    broken = toml.replace("steps.diff.output", "steps.dif.output")
    (workflows / f"{name.group(1)}.toml").write_text(broken)
    result = shell("llm-mux validate", project, home)
    shown = blocks(README.split("\n## ")[0], "console")[0].split("\n", 1)[1]
    assert result.stdout.startswith(shown)


def test_the_commands_at_a_glance_exist() -> None:
    from llm_mux.cli import cli

    block = section("Commands at a glance").split("```\n", 2)[1]
    for line in block.splitlines():
        words = line.split("  ")[0].replace("|", " ").split()[1:]
        named = [w for w in words if w.isalpha() and w.islower()]
        assert named and named[0] in cli.commands, line
        for word in named[1:]:
            group = cli.commands[named[0]]
            known = set(cli.commands) | set(getattr(group, "commands", {})) | {"last"}
            assert word in known, (line, word)

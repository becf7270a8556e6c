"""`--help`: global options documented once (in `llm-mux --help`) and accepted anywhere;
every command's help lists its own options, an example and a pointer to the globals;
no description is cut short."""

from __future__ import annotations

import json
from collections.abc import Iterator

import click
import pytest

from llm_mux.cli import cli as root
from llm_mux.commandline import GLOBAL_OPTIONS, Command, Group

GLOBAL_NAMES = [n for names, _ in GLOBAL_OPTIONS for n in names if n.startswith("-")]
POINTER = "see llm-mux --help"


def commands(group: click.Group = root, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


ALL = list(commands())


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = root
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def options_section(text: str) -> str:
    return text.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]


def test_the_top_level_help_documents_every_global_option_once(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--help")
    assert result.code == 0
    section = result.out.split("Global options (before or after the command):\n", 1)[1]
    for name in GLOBAL_NAMES:
        assert result.out.count(f"{name} ") + result.out.count(f"{name},") >= 1, name
        assert name in section, name
    assert "Examples:\n  llm-mux validate" in result.out


def test_the_top_level_help_lists_every_command_with_a_whole_sentence(cli) -> None:  # type: ignore[no-untyped-def]
    text = cli("--help").out
    for name, command in root.commands.items():
        assert f"\n  {name} " in text, name
        assert command.help is not None
        first = " ".join(command.help.split()).split(". ")[0].rstrip(".")
        assert first in " ".join(text.split()), name


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_each_command_help_has_its_own_options_an_example_and_the_pointer(
    cli,  # type: ignore[no-untyped-def]
    path: tuple[str, ...],
) -> None:
    command = command_at(path)
    assert isinstance(command, (Command, Group))
    assert command.example, (
        f"`llm-mux {' '.join(path)}` has no example: declare it with "
        f'example="llm-mux {" ".join(path)} …" in its @….command(…) (llm_mux/cli.py)'
    )
    result = cli(*path, "--help")
    assert result.code == 0, result.err
    options = options_section(result.out)
    for name in GLOBAL_NAMES:
        assert f"  {name} " not in options and f"  {name}," not in options, (path, name)
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.opts[-1] in options, (path, param.opts)
    assert "\nExample" in result.out and f"llm-mux {' '.join(path)}" in result.out
    assert result.out.rstrip().endswith(POINTER + ".")
    assert "..." not in result.out.split("\n", 1)[1]  # after the usage line: nothing cut


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_still_work_on_either_side(cli, where: str) -> None:  # type: ignore[no-untyped-def]
    options = ["--output", "json", "-C", "examples"]
    command = ["plan", "workflows/parallel-analysis.toml"]
    result = cli(*(options + command if where == "before" else command + options))
    assert result.code == 0, result.err
    assert json.loads(result.out)["workflow"] == "analyze"


RUN = ["-C", "examples", "--config", "offline.toml", "--trust", "run"]
WORKFLOW = ["workflows/parallel-analysis.toml", "file=fixme/stats.py"]


@pytest.mark.parametrize("spelling", [["--quiet"], ["-q"], ["--output", "quiet"]])
def test_quiet_and_output_quiet_are_one_mode(cli, spelling: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = cli(*RUN, *spelling, *WORKFLOW)
    assert result.code == 0, result.err
    assert result.err == ""  # no progress, no summary
    assert result.out.startswith("=== claude ===\n[claude stand-in]")


def test_quiet_leaves_json_alone(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(*RUN, "--output", "json", "-q", *WORKFLOW)
    assert result.code == 0 and result.err == ""
    assert json.loads(result.out)["success"] is True

"""How `llm-mux` reads its command line and prints its help (the commands are in cli.py).

Input: argv and the commands cli.py declares. Output: each command called with one
`GlobalOptions` value, and help texts in which

- the global options (`GLOBAL_OPTIONS` below) are documented once, in `llm-mux --help`,
  and accepted before or after any command name (`llm-mux --output json run WF` and
  `llm-mux run --output json WF` are the same);
- each command's help lists its own options, one example (`example=` on the command:
  a test fails for a command without one) and one line pointing at the global options;
- command lists keep declaration order and show whole first sentences, never "...".

To add a global option, add it to `GLOBAL_OPTIONS` and a field to `GlobalOptions`
(options.py). To add a command option, decorate the command with `click.option` as usual.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from .options import GlobalOptions

__all__ = ["GLOBAL_OPTIONS", "Command", "Group", "with_globals"]

F = TypeVar("F", bound=Callable[..., int])

# (names, settings) of each option every command accepts, in the order `--help` shows them.
GLOBAL_OPTIONS: list[tuple[list[str], dict[str, Any]]] = [
    (
        ["-C", "--dir", "directory"],
        {
            "type": click.Path(file_okay=False, path_type=Path),
            "metavar": "DIR",
            "help": "Work as if started in DIR.",
        },
    ),
    (
        ["--config", "configs"],
        {
            "multiple": True,
            "type": click.Path(path_type=Path),
            "metavar": "FILE",
            "help": "Extra config file, merged last (repeatable).",
        },
    ),
    (["--team"], {"metavar": "NAME", "help": "Use this team instead of detecting one."}),
    (
        ["--output"],
        {
            "type": click.Choice(["console", "json", "quiet"]),
            "default": None,
            "help": "How to print results: console (progress on stderr, result on stdout) "
            "[default], json (one JSON document on stdout), quiet (the result alone).",
        },
    ),
    (
        ["-q", "--quiet"],
        {"is_flag": True, "help": "The same as --output quiet: the result alone."},
    ),
    (
        ["--output-file"],
        {
            "type": click.Path(dir_okay=False, path_type=Path),
            "metavar": "PATH",
            "help": "Also write the result to PATH.",
        },
    ),
    (["--debug"], {"is_flag": True, "help": "Show tracebacks and timings."}),
    (
        ["--trust"],
        {"is_flag": True, "help": "Trust this project's .llm-mux/ for this run only."},
    ),
    (
        ["--allow-project-workflows"],
        {
            "is_flag": True,
            "help": "Trust this project's .llm-mux/workflows/ for this run only "
            "(the Rust llm-mux's flag).",
        },
    ),
    (
        ["--allow-project-backends"],
        {
            "is_flag": True,
            "help": "Trust this project's .llm-mux/config.toml for this run only "
            "(the Rust llm-mux's flag).",
        },
    ),
]

_HIDDEN = [click.Option(names, hidden=True, **settings) for names, settings in GLOBAL_OPTIONS]
_SHOWN = [click.Option(names, **settings) for names, settings in GLOBAL_OPTIONS]
_NAMES = {name for option in _HIDDEN for name in option.opts + option.secondary_opts}
_FLAGS = {name for option in _HIDDEN if option.is_flag for name in option.opts}
_POINTER = "Global options (-C, --config, --output, -q, --trust, …): see llm-mux --help."


def with_globals(command: F) -> F:
    """Add the global options to a command and hand them over as one `GlobalOptions`."""

    @functools.wraps(command)
    def wrapper(**kwargs: object) -> int:
        values = {o.name: kwargs.pop(o.name) for o in _HIDDEN if o.name in kwargs}
        if values.get("output") is None:
            values["output"] = "quiet" if values.get("quiet") else "console"
        values["quiet"] = values["output"] == "quiet"
        options = GlobalOptions(**values)  # type: ignore[arg-type]
        return command(options, **kwargs)

    params = list(getattr(command, "__click_params__", []))
    wrapper.__click_params__ = params + list(reversed(_HIDDEN))  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def move_globals(args: Sequence[str]) -> list[str]:
    """`llm-mux --debug plan x` → `llm-mux plan --debug x`: globals may come first."""
    leading: list[str] = []
    index = 0
    while index < len(args) and _is_global(args[index]):
        width = 2 if _takes_value(args[index]) else 1
        leading.extend(args[index : index + width])
        index += width
    rest = list(args[index:])
    return rest[:1] + leading + rest[1:] if rest else leading


def _is_global(word: str) -> bool:
    return word.partition("=")[0] in _NAMES or (word[:2] == "-C" and word[:3] != "-C=")


def _takes_value(word: str) -> bool:
    name, equals, _ = word.partition("=")
    attached = name[:2] == "-C" and len(name) > 2  # -Cdir
    return not equals and not attached and name not in _FLAGS


class Command(click.Command):
    """A command whose help ends with its example and a pointer to the global options."""

    def __init__(self, *args: Any, example: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.example = example

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        _write_example(formatter, self.example)
        formatter.write_paragraph()
        formatter.write_text(_POINTER)


class Group(click.Group):
    """Commands in declaration order, described by whole sentences; globals anywhere."""

    command_class = Command

    def __init__(self, *args: Any, example: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.example = example

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, move_globals(args))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if ctx.parent is None:  # `llm-mux --help`: the one place globals are described
            with formatter.section("Global options (before or after the command)"):
                formatter.write_dl([r for o in _SHOWN if (r := o.get_help_record(ctx))])
        super().format_epilog(ctx, formatter)
        _write_example(formatter, self.example)
        if ctx.parent is not None:
            formatter.write_paragraph()
            formatter.write_text(_POINTER)


Group.group_class = type  # a subgroup (`runs`, `memory`) is a Group too


def _write_example(formatter: click.HelpFormatter, example: str | None) -> None:
    if not example:
        return
    lines = example.splitlines()
    with formatter.section("Example" if len(lines) == 1 else "Examples"):
        for line in lines:
            formatter.write(f"{'':>{formatter.current_indent}}{line}\n")

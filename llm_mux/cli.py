"""The `llm-mux` command line: parse options, call one library function, exit.

Input: argv. Output: text on stdout/stderr and an exit code (0 ok, 1 failed,
2 usage, 130 interrupted). Each command imports what it needs when it runs, so
`llm-mux validate` never pays for the interpreter, httpx or rich.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import click

from .errors import EXIT_FAILED, EXIT_INTERRUPTED, MuxError
from .options import GlobalOptions

__all__ = ["GlobalOptions", "cli", "main"]

F = TypeVar("F", bound=Callable[..., int])


_GLOBALS = [
    click.Option(
        ["-C", "--dir", "directory"],
        type=click.Path(file_okay=False, path_type=Path),
        help="Work as if started in this directory.",
    ),
    click.Option(
        ["--config", "configs"],
        multiple=True,
        type=click.Path(path_type=Path),
        help="Extra config file, merged last (repeatable).",
    ),
    click.Option(["--team"], help="Use this team instead of detecting one."),
    click.Option(
        ["--output"],
        type=click.Choice(["console", "json", "quiet"]),
        default="console",
        show_default=True,
        help="How to print results.",
    ),
    click.Option(
        ["--output-file"],
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the result to this file.",
    ),
    click.Option(["--debug"], is_flag=True, help="Show tracebacks and timings."),
    click.Option(["--quiet"], is_flag=True, help="Print only the result."),
    click.Option(["--trust"], is_flag=True, help="Trust this project's .llm-mux/ for this run."),
]
_GLOBAL_NAMES = {name for option in _GLOBALS for name in option.opts}
_GLOBAL_FLAGS = {name for option in _GLOBALS if option.is_flag for name in option.opts}


def with_globals(command: F) -> F:
    """Add the global options to a command and hand them over as one `GlobalOptions`."""

    @functools.wraps(command)
    def wrapper(**kwargs: object) -> int:
        names = [o.name for o in _GLOBALS]
        values = {name: kwargs.pop(name) for name in names if name in kwargs}
        options = GlobalOptions(**values)  # type: ignore[arg-type]
        return command(options, **kwargs)

    params = list(getattr(command, "__click_params__", []))
    wrapper.__click_params__ = params + list(reversed(_GLOBALS))  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _move_globals(args: Sequence[str]) -> list[str]:
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
    return word.partition("=")[0] in _GLOBAL_NAMES or (word[:2] == "-C" and word[:3] != "-C=")


def _takes_value(word: str) -> bool:
    name, equals, _ = word.partition("=")
    attached = name[:2] == "-C" and len(name) > 2  # -Cdir
    return not equals and not attached and name not in _GLOBAL_FLAGS


class _Group(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _move_globals(args))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="llm-mux", prog_name="llm-mux")
def cli() -> None:
    """make for LLM work: compile and run TOML workflows over many model backends."""


@cli.command()
@click.argument("targets", nargs=-1)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--no-config", is_flag=True, help="Skip checks that need the merged config.")
@click.option(
    "--explain",
    metavar="CODE",
    help="Print what a diagnostic code means, an example and the fix; check nothing.",
)
@with_globals
def validate(
    options: GlobalOptions,
    targets: tuple[str, ...],
    strict: bool,
    no_config: bool,
    explain: str | None,
) -> int:
    """Lint workflows and config: files, directories or workflow names (none = all)."""
    from .commands import explain_command, validate_command

    if explain is not None:
        return explain_command(explain)
    return validate_command(options, targets, strict=strict, use_config=not no_config)


@cli.command()
@click.argument("workflow")
@click.argument("assignments", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "dot", "mermaid"]),
    default=None,
    help="How to print the plan [default: text, or json with --output json].",
)
@with_globals
def plan(
    options: GlobalOptions, workflow: str, assignments: tuple[str, ...], fmt: str | None
) -> int:
    """Print the compiled plan of WORKFLOW without running anything."""
    from .commands import plan_command

    fmt = fmt or ("json" if options.output == "json" else "text")
    return plan_command(options, workflow, assignments, fmt)


@cli.command(add_help_option=False)
@click.argument("workflow", required=False)
@click.argument("assignments", nargs=-1)
@click.option(
    "--input",
    "answers",
    multiple=True,
    metavar="STEP=VALUE",
    help="Answer an input step without asking (repeatable).",
)
@click.option(
    "--context",
    "context_files",
    multiple=True,
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="Put this file, under a header naming it, before every query prompt (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Compile and show what would run; run nothing.")
@click.option(
    "--preview", is_flag=True, help="Run, but apply steps only show their edits as a diff."
)
@click.option(
    "-h", "--help", "show_help", is_flag=True, help="Show this message, or a workflow's args."
)
@with_globals
def run(
    options: GlobalOptions,
    workflow: str | None,
    assignments: tuple[str, ...],
    answers: tuple[str, ...],
    context_files: tuple[Path, ...],
    dry_run: bool,
    preview: bool,
    show_help: bool,
) -> int:
    """Run WORKFLOW with KEY=VALUE args (`llm-mux run WORKFLOW --help` lists them)."""
    from .run import run_command, workflow_help

    if show_help or workflow is None:
        if workflow is None:
            click.echo(click.get_current_context().get_help())
            return 0 if show_help else 2
        return workflow_help(options, workflow)
    return run_command(
        options,
        workflow,
        assignments,
        answers=answers,
        dry_run=dry_run,
        preview=preview,
        context_files=context_files,
    )


@cli.command()
@click.option("--revoke", is_flag=True, help="Stop trusting this project.")
@with_globals
def trust(options: GlobalOptions, revoke: bool) -> int:
    """Trust this project's .llm-mux/ (its config and workflows can run commands)."""
    from .commands import trust_command

    return trust_command(options, revoke=revoke)


@cli.command()
@click.option(
    "--global/--project",
    "user_level",
    default=True,
    help="Write the user config [default], or this project's .llm-mux/ and a starter workflow.",
)
@click.option("--force", is_flag=True, help="Replace files that exist.")
@with_globals
def init(options: GlobalOptions, user_level: bool, force: bool) -> int:
    """Write a starter config from the model backends installed here."""
    from .init import init_command

    return init_command(options, project=not user_level, force=force)


@cli.command()
@click.option("--offline", is_flag=True, help="Do not contact HTTP backends.")
@with_globals
def doctor(options: GlobalOptions, offline: bool) -> int:
    """Check config, backends, roles, team, ecosystem and workflows."""
    from .commands import doctor_command

    return doctor_command(options, offline=offline)


def _listing(kind: str, summary: str) -> None:
    @with_globals
    def command(options: GlobalOptions) -> int:
        from .commands import listing_command

        return listing_command(options, kind)

    command.__doc__ = summary
    cli.command(name=kind)(command)


_listing("backends", "List configured backends and whether each is available.")
_listing("roles", "List roles and their backends (team overrides shown).")
_listing("teams", "List teams and which one is detected here.")
_listing("ecosystems", "List ecosystems and the current project.")
_listing("workflows", "List workflows by name: project, user and built-in.")


@cli.group(cls=_Group)
def runs() -> None:
    """Past runs, from the run ledger."""


@runs.command(name="list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@with_globals
def runs_list(options: GlobalOptions, limit: int) -> int:
    """List recorded runs, newest first."""
    from .ledger.commands import runs_list_command

    return runs_list_command(options, limit=limit)


@runs.command(name="show")
@click.argument("run_id")
@with_globals
def runs_show(options: GlobalOptions, run_id: str) -> int:
    """Show one run: its steps, backends, tokens, cost and errors."""
    from .ledger.commands import runs_show_command

    return runs_show_command(options, run_id)


@runs.command(name="resume")
@click.argument("run_id")
@click.option(
    "--input",
    "answers",
    multiple=True,
    metavar="STEP=VALUE",
    help="Answer an input step that runs again (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Say which steps would be reused; run nothing.")
@with_globals
def runs_resume(
    options: GlobalOptions, run_id: str, answers: tuple[str, ...], dry_run: bool
) -> int:
    """Finish a failed or cancelled run: reuse steps whose inputs are unchanged, run the rest."""
    from .ledger.resume import runs_resume_command

    return runs_resume_command(options, run_id, answers=answers, dry_run=dry_run)


@cli.group(cls=_Group)
def memory() -> None:
    """What workflows stored about an ecosystem (store steps)."""


def _memory_query(kind: str, summary: str) -> None:
    @click.option("--ecosystem", help="Ecosystem to read [default: the detected one].")
    @click.option("--project", help="Only this project (relationships: from or to it).")
    @click.option("--search", metavar="TEXT", help="Only rows containing TEXT (any case).")
    @with_globals
    def command(
        options: GlobalOptions,
        ecosystem: str | None,
        project: str | None,
        search: str | None,
        history: bool = False,
    ) -> int:
        from .memory.commands import memory_command

        return memory_command(
            options, kind, ecosystem=ecosystem, project=project, search=search, history=history
        )

    command.__doc__ = summary
    if kind == "entities":
        flag = click.option("--history", is_flag=True, help="Every value each property had.")
        command = flag(command)
    memory.command(name=kind)(command)


_memory_query("facts", "List stored facts.")
_memory_query("relationships", "List stored relationships between projects.")
_memory_query("entities", "List stored entities and their current properties.")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="llm-mux", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        code = error.exit_code
    except click.exceptions.Exit as error:
        code = error.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("llm-mux: interrupted", err=True)
        code = EXIT_INTERRUPTED
    except MuxError as error:
        _show_error(error)
        code = error.exit_code
    except Exception as error:  # a bug: say so plainly, traceback only on --debug
        if debug:
            raise
        click.echo(f"llm-mux: internal error: {type(error).__name__}: {error}", err=True)
        click.echo("  run again with --debug for the traceback, and please report it", err=True)
        code = EXIT_FAILED
    sys.exit(code if isinstance(code, int) else 0)


def _show_error(error: MuxError) -> None:
    click.echo(f"llm-mux: error: {error}", err=True)
    if error.hint:
        click.echo(f"  hint: {error.hint}", err=True)

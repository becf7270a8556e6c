"""The `llm-mux` command line: parse options, call one library function, exit.

Input: argv. Output: text on stdout/stderr and an exit code (0 ok, 1 failed,
2 usage, 130 interrupted). Each command imports what it needs when it runs, so
`llm-mux validate` never pays for the interpreter, httpx or rich.

A command is `@cli.command(example="llm-mux …")` (or `@runs.command`, …) with its
own `click.option`s, then `@with_globals`; global options and the help layout live
in commandline.py.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from .commandline import Group, with_globals
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED, MuxError, Terminated
from .options import GlobalOptions

if TYPE_CHECKING:
    from .validate import ReportFormat

__all__ = ["GlobalOptions", "cli", "main"]

_F = TypeVar("_F", bound=Callable[..., int])


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    options_metavar="[GLOBAL OPTIONS]",
    example="llm-mux validate                       lint this project's workflows and config\n"
    "llm-mux plan review                    show what a workflow would do\n"
    "llm-mux run review base=main           run one, with an arg\n"
    "llm-mux run --output json review       the same, as one JSON document\n"
    "llm-mux runs show last                 what the last run did",
)
@click.version_option(package_name="llm-mux", prog_name="llm-mux")
def cli() -> None:
    """make for LLM work: compile and run TOML workflows over many model backends."""


@cli.command(example="llm-mux validate .llm-mux/workflows/ --strict")
@click.argument("targets", nargs=-1)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--no-config", is_flag=True, help="Skip checks that need the merged config.")
@click.option(
    "--explain",
    metavar="CODE",
    help="Print what a diagnostic code means, an example and the fix; check nothing.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default=None,
    help="text, json (a list), github (workflow annotations) or sarif (SARIF 2.1.0) "
    "[default: text, or json with --output json].",
)
@with_globals
def validate(
    options: GlobalOptions,
    targets: tuple[str, ...],
    strict: bool,
    no_config: bool,
    explain: str | None,
    fmt: ReportFormat | None,
) -> int:
    """Lint workflows and config: files, directories or workflow names (none = all)."""
    from .commands import explain_command, validate_command

    if explain is not None:
        return explain_command(explain)
    return validate_command(options, targets, strict=strict, use_config=not no_config, fmt=fmt)


@cli.command(example="llm-mux schema workflow > llm-mux-workflow.schema.json")
@click.argument("kind", type=click.Choice(["workflow", "config"]))
@with_globals
def schema(options: GlobalOptions, kind: str) -> int:
    """Print the JSON Schema of a workflow or config file, for editors (see docs/ci.md)."""
    from .commands import schema_command

    return schema_command(options, kind)


@cli.command(example="llm-mux plan review base=main --format mermaid")
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


def _budget_options(command: _F) -> _F:
    """--max-cost, --max-tokens and --allow-unknown-cost (run, runs resume)."""
    options = [
        click.option(
            "--max-cost",
            type=click.FloatRange(min=0),
            metavar="AMOUNT",
            help="Start no backend call once the run has spent this much (prices' currency).",
        ),
        click.option(
            "--max-tokens",
            type=click.IntRange(min=1),
            metavar="N",
            help="Start no backend call once the run has used this many tokens.",
        ),
        click.option(
            "--allow-unknown-cost",
            is_flag=True,
            help="Under a budget, also call backends whose cost cannot be known.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command(add_help_option=False, example="llm-mux run review base=main --context notes.md")
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
    "--executor",
    metavar="ADDRESS",
    help="Run shell steps and CLI backend calls on a Dask cluster (dask://HOST:PORT, "
    "tls://HOST:PORT), or 'local'; overrides the config's [executor] table.",
)
@click.option(
    "-h", "--help", "show_help", is_flag=True, help="Show this message, or a workflow's args."
)
@click.option("--cache", "use_cache", is_flag=True, help="Cache every query and shell step.")
@click.option("--no-cache", is_flag=True, help="Neither reuse nor write cached results.")
@click.option(
    "--refresh",
    multiple=True,
    metavar="STEP",
    help="Run STEP even when cached, and cache its new result (repeatable).",
)
@_budget_options
@with_globals
def run(
    options: GlobalOptions,
    workflow: str | None,
    assignments: tuple[str, ...],
    answers: tuple[str, ...],
    context_files: tuple[Path, ...],
    dry_run: bool,
    preview: bool,
    executor: str | None,
    show_help: bool,
    use_cache: bool,
    no_cache: bool,
    refresh: tuple[str, ...],
    max_cost: float | None,
    max_tokens: int | None,
    allow_unknown_cost: bool,
) -> int:
    """Run WORKFLOW with KEY=VALUE args (`llm-mux run WORKFLOW --help` lists them)."""
    from .budget import Limits
    from .running.run import RunRequest, RunSettings, run_command, workflow_help

    if use_cache and no_cache:
        raise click.UsageError("--cache and --no-cache cannot be used together")

    if show_help or workflow is None:
        if workflow is None:
            click.echo(click.get_current_context().get_help())
            return 0 if show_help else 2
        return workflow_help(options, workflow)
    request = RunRequest(workflow, assignments, answers, context_files, dry_run)
    settings = RunSettings(
        preview=preview,
        limits=Limits(max_cost, max_tokens, allow_unknown_cost),
        cache_mode="on" if use_cache else "off" if no_cache else "default",
        refresh=refresh,
        executor=executor,
    )
    return run_command(options, request, settings)


@cli.command(example="llm-mux migrate --diff .llm-mux/workflows/*.toml")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--diff", is_flag=True, help="Print the changes as a diff; write nothing.")
@with_globals
def migrate(options: GlobalOptions, files: tuple[Path, ...], diff: bool) -> int:
    """Rewrite files written for the Rust llm-mux in place: millisecond timeouts, old spellings.

    Comments and layout are kept. See docs/migrating.md for what changes.
    """
    from .migrate import migrate_command

    directory = options.directory or Path.cwd()
    return migrate_command([directory / f for f in files], diff=diff)


@cli.command(example="llm-mux -C ~/src/myapp trust")
@click.option("--revoke", is_flag=True, help="Stop trusting this project.")
@click.option(
    "--any-content",
    is_flag=True,
    help="Trust it whatever it will contain, so edits never ask again: for a project of "
    "your own; weaker than the default, which pins the content trusted.",
)
@with_globals
def trust(options: GlobalOptions, revoke: bool, any_content: bool) -> int:
    """Trust this project's .llm-mux/ (its config and workflows can run commands).

    By default the files' exact content is trusted, and any change asks again.
    """
    from .commands import trust_command

    return trust_command(options, revoke=revoke, any_content=any_content)


@cli.command(example="llm-mux init --project")
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


@cli.command(example="llm-mux doctor --probe claude")
@click.option("--offline", is_flag=True, help="Do not contact HTTP backends.")
@click.option(
    "--probe",
    is_flag=True,
    help="Send a one-line prompt to each backend (or each one named): costs tokens.",
)
@click.option(
    "--executor",
    metavar="ADDRESS",
    help="Also check this Dask cluster (dask://HOST:PORT): its workers, their resources, "
    "and where each backend can run.",
)
@click.argument("backends", nargs=-1)
@with_globals
def doctor(
    options: GlobalOptions,
    offline: bool,
    probe: bool,
    executor: str | None,
    backends: tuple[str, ...],
) -> int:
    """Check config, backends, roles, team, ecosystem and workflows."""
    from .commands import doctor_command

    return doctor_command(
        options, offline=offline, probe=probe, backends=backends, executor=executor
    )


def _listing(kind: str, summary: str) -> None:
    @with_globals
    def command(options: GlobalOptions) -> int:
        from .commands import listing_command

        return listing_command(options, kind)

    command.__doc__ = summary
    cli.command(name=kind, example=f"llm-mux {kind} --output json")(command)


_listing("backends", "List configured backends and whether each is available.")
_listing("roles", "List roles and their backends (team overrides shown).")
_listing("teams", "List teams and which one is detected here.")
_listing("ecosystems", "List ecosystems and the current project.")
_listing("workflows", "List workflows by name: project, user and built-in.")


@cli.group(example="llm-mux runs show last")
def runs() -> None:
    """Past runs, from the run ledger."""


@runs.command(name="list", example="llm-mux runs list --limit 5")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@with_globals
def runs_list(options: GlobalOptions, limit: int) -> int:
    """List recorded runs, newest first."""
    from .ledger.commands import runs_list_command

    return runs_list_command(options, limit=limit)


@runs.command(name="show", example="llm-mux runs show last --output json")
@click.argument("run_id")
@with_globals
def runs_show(options: GlobalOptions, run_id: str) -> int:
    """Show one run: its steps, backends, tokens, cost and errors."""
    from .ledger.commands import runs_show_command

    return runs_show_command(options, run_id)


@runs.command(name="resume", example="llm-mux runs resume last --dry-run")
@click.argument("run_id")
@click.option(
    "--input",
    "answers",
    multiple=True,
    metavar="STEP=VALUE",
    help="Answer an input step that runs again (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Say which steps would be reused; run nothing.")
@_budget_options
@with_globals
def runs_resume(
    options: GlobalOptions,
    run_id: str,
    answers: tuple[str, ...],
    dry_run: bool,
    max_cost: float | None,
    max_tokens: int | None,
    allow_unknown_cost: bool,
) -> int:
    """Finish a failed or cancelled run: reuse steps whose inputs are unchanged, run the rest.

    A budget covers the whole chain: what the resumed runs spent counts against it, so a
    run stopped by its budget resumes with a higher --max-cost.
    """
    from .budget import Limits
    from .ledger.resume import runs_resume_command

    limits = Limits(max_cost, max_tokens, allow_unknown_cost)
    return runs_resume_command(options, run_id, answers=answers, dry_run=dry_run, limits=limits)


@cli.group(example="llm-mux cache clear --older-than 30d")
def cache() -> None:
    """The step cache: results reused by steps with `cache = true`."""


@cache.command(name="list", example="llm-mux cache list --output json")
@with_globals
def cache_list(options: GlobalOptions) -> int:
    """List cached results, most recently used first."""
    from .cache.commands import cache_list_command

    return cache_list_command(options)


@cache.command(name="clear", example="llm-mux cache clear --older-than 30d")
@click.option("--older-than", metavar="AGE", help="Only results not used for AGE (12h, 30d, 2w).")
@with_globals
def cache_clear(options: GlobalOptions, older_than: str | None) -> int:
    """Remove cached results: all of them, or those not used for a while."""
    from .cache.commands import cache_clear_command

    return cache_clear_command(options, older_than=older_than)


@cli.group(example="llm-mux memory facts --search database")
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
    example = f"llm-mux memory {kind} --project api --search test"
    memory.command(name=kind, example=example)(command)


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
    except (click.Abort, KeyboardInterrupt) as interrupted:
        click.echo("llm-mux: interrupted", err=True)
        cause = interrupted.__cause__ if isinstance(interrupted, click.Abort) else interrupted
        code = EXIT_TERMINATED if isinstance(cause, Terminated) else EXIT_INTERRUPTED
    except MuxError as error:
        _show_error(error)
        code = error.exit_code
    except Exception as error:  # a bug: say so plainly, traceback only on --debug
        redact = _environment_redactor()  # the run's own redactor is out of reach
        if debug:
            click.echo(redact(traceback.format_exc()), err=True, nl=False)
        else:
            text = redact(f"{type(error).__name__}: {error}")
            click.echo(f"llm-mux: internal error: {text}", err=True)
            click.echo("  run again with --debug for the traceback, and please report it", err=True)
        code = EXIT_FAILED
    sys.exit(code if isinstance(code, int) else 0)


def _environment_redactor() -> Callable[[str], str]:
    """Secrets of the environment, for messages that leave before (or without) a run."""
    from .redact import Redactor

    return Redactor.for_run(os.environ, ())


def _show_error(error: MuxError) -> None:
    redact = _environment_redactor()
    click.echo(f"llm-mux: error: {redact(str(error))}", err=True)
    if error.hint:
        click.echo(f"  hint: {error.hint}", err=True)

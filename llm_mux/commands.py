"""What the compile-only commands do: `validate` and `plan`.

Input: parsed command-line values. Output: text written to stdout/stderr (or
`--output-file`) and an exit code. The commands that run workflows live in
their own module so this one stays cheap to import.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
import msgspec

from llm_mux.compiler.diagnostics import Diagnostic, Severity, Sink
from llm_mux.compiler.plan import Plan
from llm_mux.compiler.schema import Config

from . import collector
from .config import config_paths, environment, load_merged, read_source
from .errors import EXIT_FAILED, MuxError, UsageError
from .options import GlobalOptions
from .paths import Places, find_places, find_workflow

if TYPE_CHECKING:
    from llm_mux.compiler.passes.config import MergedConfig

    from .cache.plans import CachedPlan
    from .doctor import Check
    from .validate import ReportFormat

__all__ = ["plan_command", "validate_command"]


def places_for(options: GlobalOptions) -> Places:
    """Where the command works; a bad `-C` or `--output-file` is refused before anything runs."""
    cwd = options.directory or Path.cwd()
    if not cwd.is_dir():
        raise UsageError(f"-C: not a directory: {cwd}")
    if options.output_file is not None:
        _prepare_output_file(options.output_file)
    return find_places(cwd, environment())


def _prepare_output_file(path: Path) -> None:
    """Create the `--output-file`'s missing parent directories, or say why it cannot be written."""
    if path.is_dir():
        raise UsageError(f"--output-file: {path} is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--output-file: cannot create {path.parent}: {error.strerror}") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--output-file: {path} is not writable")


_WRITE_CHUNK = 1 << 20  # characters: a huge result is encoded a piece at a time


def emit(text: str, options: GlobalOptions, *, end: str = "") -> None:
    """The command's result, then `end`: stdout, and the --output-file when given.

    Written in pieces and never concatenated with `end`, so a 200 MB output costs no
    second (or third, encoded) copy of itself.
    """
    _write(sys.stdout, text, end)
    if options.output_file is not None:
        try:
            with options.output_file.open("w", encoding="utf-8") as file:
                _write(file, text, end)
        except OSError as error:
            raise MuxError(f"--output-file: cannot write {options.output_file}: {error}") from None


def _write(stream: TextIO, text: str, end: str) -> None:
    for start in range(0, len(text), _WRITE_CHUNK):
        stream.write(text[start : start + _WRITE_CHUNK])
    stream.write(end)


def validate_command(
    options: GlobalOptions,
    targets: Sequence[str],
    *,
    strict: bool,
    use_config: bool,
    fmt: ReportFormat | None = None,
) -> int:
    from .validate import collect_targets, render_report, validate

    places = places_for(options)
    found = collect_targets(targets, places)
    with collector.paused():
        report = validate(
            found, places, extra_configs=options.configs, env=environment(), use_config=use_config
        )
    fmt = fmt or ("json" if options.output == "json" else "text")
    emit(render_report(report, fmt), options)
    failed = report.errors > 0 or (strict and report.warnings > 0)
    return EXIT_FAILED if failed else 0


def explain_command(code: str) -> int:
    """`llm-mux validate --explain CODE`: the code's entry of docs/diagnostics.md."""
    from llm_mux.compiler.diagnostics import CODES, did_you_mean
    from llm_mux.compiler.explanations import explain

    known = code.upper()
    if known not in CODES:
        close = did_you_mean(known, CODES)
        hint = f"did you mean {close}?" if close else "codes are like E303 or W701"
        raise UsageError(f"no diagnostic code '{code}'", hint=hint)
    click.echo(explain(known), nl=False)
    return 0


def schema_command(options: GlobalOptions, kind: str) -> int:
    from llm_mux.compiler.json_schema import json_schema

    document = json_schema("config" if kind == "config" else "workflow")
    emit(json.dumps(document, indent=2, ensure_ascii=False), options, end="\n")
    return 0


def plan_command(
    options: GlobalOptions, workflow: str, assignments: Sequence[str], fmt: str
) -> int:
    from llm_mux.compiler.render import render

    from .running.arguments import bind_args, parse_assignments

    started = time.perf_counter()
    _import_compiler()
    imported = time.perf_counter()
    plan = compile_plan(options, workflow).plan
    if options.debug:
        took, imports = time.perf_counter() - imported, imported - started
        click.echo(
            f"compiled in {took * 1000:.1f} ms (modules imported in {imports * 1000:.1f} ms)",
            err=True,
        )
    given = bind_args(plan.args, parse_assignments(assignments), require=False)
    text = render(plan, fmt)
    if fmt in ("text", "json"):
        text = _with_estimate(text, plan, given, fmt)
    emit(text, options)
    return 0


def _with_estimate(text: str, plan: Plan, given: Mapping[str, object], fmt: str) -> str:
    """The plan followed by what it may cost (text), or with an `estimate` key (JSON)."""
    import json

    from .budget.estimate import estimate, render_estimate
    from .running.arguments import resolve_args

    env = environment()
    found = estimate(plan, resolve_args(plan.args, given, env), env)
    if fmt == "text":
        return text + "\n" + render_estimate(found)
    document = json.loads(text)
    document["estimate"] = found.to_json()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_COMPILER_MODULES = (
    "llm_mux.compiler.pipeline",
    "llm_mux.compiler.passes.graph",  # networkx: ~0.1 s
    "llm_mux.compiler.passes.lower",
    "llm_mux.teams",
)


def _import_compiler() -> None:
    """Import what compiling imports, so --debug's compile time is the compile's own."""
    for module in _COMPILER_MODULES:
        importlib.import_module(module)


class Compiled(msgspec.Struct, frozen=True):
    plan: Plan
    config: Config
    files: tuple[Path, ...]  # every file the plan was built from (for the trust check)


def compile_plan(options: GlobalOptions, target: str, *, reuse: bool = False) -> Compiled:
    """Find, read and compile a workflow; diagnostics on stderr and exit 1 on errors.

    `reuse` (run, runs resume): a plan compiled before from the same files is read
    back instead (`cache.plans`), its diagnostics printed again."""
    places = places_for(options)
    path = find_workflow(target, places)
    env = environment()
    paths = config_paths(places, options.configs)
    files = (*paths, path)
    key = None
    if reuse:
        from .cache import plans

        key = plans.plan_key(files, places.cwd, options.team, env)
        cached = _reusable(places, key, options.team)
        if cached is not None:
            for line in cached.diagnostics:
                click.echo(line, err=True)
            return Compiled(cached.plan, cached.config, files)
    compiled, printed = _compile(places, path, paths, env, options.team, target)
    if key is not None:
        cached = plans.CachedPlan(compiled.plan, compiled.config, tuple(printed))
        plans.save(places.state_dir / "plans", key, cached)
    return compiled


def _reusable(places: Places, key: str | None, team: str | None) -> CachedPlan | None:
    """The plan saved under `key`, if the team detected now is still the one it has."""
    from .cache import plans
    from .teams import select_team

    cached = plans.load(places.state_dir / "plans", key) if key is not None else None
    if cached is None:
        return None
    detected = select_team(cached.config, places.project_root, team)
    return cached if detected == (cached.plan.team.name if cached.plan.team else None) else None


def _compile(
    places: Places,
    path: Path,
    paths: Sequence[Path],
    env: Mapping[str, str],
    team_option: str | None,
    target: str,
) -> tuple[Compiled, list[str]]:
    """The compile itself; every diagnostic printed (and returned, as printed)."""
    from llm_mux.compiler.pipeline import compile_workflow, finish

    from .teams import select_team

    sink = Sink()
    with collector.paused():
        config, sources = load_merged(paths, places, sink, env)
        source = read_source(path, places.cwd, sink)
        plan = None
        if config is not None and source is not None:
            sources.append(source)
            team = select_team(config.config, places.project_root, team_option)
            plan = compile_workflow(source, sink, config=config, env=env, team=team)
    diagnostics = finish(sink, sources)
    printed = [diagnostic.render() for diagnostic in diagnostics]
    for line in printed:
        click.echo(line, err=True)
    # Any error stops it, even one the plan could do without (a role naming an
    # undefined backend beside defined ones): an error means the run does not start.
    errors = any(d.severity is Severity.ERROR for d in diagnostics)
    if plan is None or config is None or errors:
        raise CompileFailed(f"{target} does not compile; fix the errors above")
    return Compiled(plan, config.config, (*paths, path)), printed


class CompileFailed(MuxError):
    """The workflow has errors; they were already printed."""


def load_config_or_fail(options: GlobalOptions) -> tuple[Places, MergedConfig]:
    """The merged config for the listings and doctor; its diagnostics go to stderr."""
    places, config, _ = load_config(options)
    return places, config


def load_config(options: GlobalOptions) -> tuple[Places, MergedConfig, list[Diagnostic]]:
    """The merged config and its diagnostics (also shown on stderr); exit 1 when there
    is no config to show at all."""
    from llm_mux.compiler.pipeline import finish

    places = places_for(options)
    sink = Sink()
    config, sources = load_merged(
        config_paths(places, options.configs), places, sink, environment()
    )
    diagnostics = finish(sink, sources)
    for diagnostic in diagnostics:
        click.echo(diagnostic.render(), err=True)
    if config is None:
        raise CompileFailed("the configuration has errors; fix the errors above")
    return places, config, diagnostics


def listing_command(options: GlobalOptions, kind: str) -> int:
    from .listings import LISTINGS, render_listing

    places, merged = load_config_or_fail(options)
    rows = LISTINGS[kind](places, merged)
    emit(render_listing(kind, rows, as_json=options.output == "json"), options)
    return 0


def doctor_command(
    options: GlobalOptions,
    *,
    offline: bool,
    probe: bool = False,
    backends: tuple[str, ...] = (),
    executor: str | None = None,
) -> int:
    from .doctor import diagnose, render_checks

    places, merged, diagnostics = load_config(options)
    if backends and not probe:
        raise MuxError("naming backends needs --probe: llm-mux doctor --probe NAME…")
    unknown = [name for name in backends if name not in merged.config.backends]
    if unknown:
        raise MuxError(f"no backend named {', '.join(unknown)}: llm-mux backends lists them")
    if probe and offline:
        raise MuxError("--probe contacts every backend; it cannot be combined with --offline")
    probed = backends if probe else None
    checks = diagnose(places, merged, offline=offline, probe=probed, diagnostics=diagnostics)
    checks += _cluster_checks(places, merged.config, executor)
    emit(render_checks(checks, as_json=options.output == "json"), options)
    return EXIT_FAILED if any(c.status == "broken" for c in checks) else 0


def _cluster_checks(places: Places, config: Config, given: str | None) -> list[Check]:
    """`doctor --executor`'s checks of the cluster (none for a local executor)."""
    from llm_mux.compiler.passes.lower import backend_spec

    from .executors.settings import executor_settings

    settings = executor_settings(given, config) if given else None
    if settings is None:
        return []
    from .executors.doctor import cluster_checks

    specs = {name: backend_spec(name, b) for name, b in config.backends.items()}
    return cluster_checks(settings, places.project_root, specs, environment())


def trust_command(options: GlobalOptions, *, revoke: bool, any_content: bool = False) -> int:
    from .trust import TrustStore, digest

    places = places_for(options)
    if not places.has_project:
        raise MuxError(f"no .llm-mux/ directory in {places.cwd} or its parents: nothing to trust")
    store = TrustStore.at(places.state_dir)
    shown = places.project_root / ".llm-mux"
    if revoke:
        found = store.revoke(places.project_root)
        click.echo(f"no longer trusted: {shown}" if found else f"{shown} was not trusted")
        return 0
    if any_content:
        store.trust_any_content(places.project_root)
        click.echo(
            f"trusted {shown} whatever it will contain: changes to its files no longer ask "
            "(`llm-mux trust` pins its content again, `llm-mux trust --revoke` forgets it)"
        )
        return 0
    value = store.trust(places.project_root)
    click.echo(f"trusted {shown} (sha256 {value[:12]}…); a change to its files asks again")
    return 0 if value == digest(places.project_root) else EXIT_FAILED

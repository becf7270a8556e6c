"""`llm-mux validate`: lint workflows and config without running anything.

Input: targets (files, directories, workflow names; none = every project and
user workflow). Output: sorted diagnostics and an exit code. This is a
pre-commit hook, so it imports only the compiler front end: no networkx, no
httpx, no interpreter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import msgspec

from llm_mux.compiler.diagnostics import Diagnostic, Severity, Sink
from llm_mux.compiler.passes.config import MergedConfig
from llm_mux.compiler.pipeline import check_workflow, finish
from llm_mux.compiler.source import SourceFile

from .config import config_paths, load_merged, read_source
from .errors import UsageError
from .paths import Places, find_workflow, is_path_like, project_root

__all__ = ["ReportFormat", "Targets", "collect_targets", "render_report", "validate"]


class Targets(msgspec.Struct):
    workflows: list[Path] = msgspec.field(default_factory=list)
    configs: list[Path] = msgspec.field(default_factory=list)
    seen: set[Path] = msgspec.field(default_factory=set)  # resolved, so each file is checked once

    def add(self, path: Path) -> None:
        resolved = path.resolve()
        if resolved not in self.seen:
            self.seen.add(resolved)
            (self.configs if is_config_file(path) else self.workflows).append(path)


_CONFIG_KEYS = frozenset({"backends", "roles", "teams", "ecosystems"})


def is_config_file(path: Path) -> bool:
    """`config.toml`, or a file with config tables and no steps (such as offline.toml).

    Anything unreadable or without that shape is checked as a workflow, where
    its problems are reported.
    """
    if path.name == "config.toml":
        return True
    import tomllib

    from llm_mux.compiler.passes.load import too_deep

    try:
        text = path.read_text(encoding="utf-8")
        keys = set(tomllib.loads(text)) if too_deep(text) is None else set()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return bool(keys) and keys <= _CONFIG_KEYS


def collect_targets(targets: Sequence[str], places: Places) -> Targets:
    found = Targets()
    if not targets:
        for config in (places.user_config, places.project_config):
            if config.is_file():
                found.add(config)
        for directory in (
            places.project_workflows if places.has_project else None,
            places.user_workflows,
        ):
            if directory is not None and directory.is_dir():
                for path in sorted(directory.glob("*.toml")):
                    found.add(path)
        return found
    for target in targets:
        path = places.cwd / target
        if path.is_dir():
            for candidate in _project_files(path):
                found.add(candidate)
        elif path.is_file():
            found.add(path)
        elif is_path_like(target):
            raise UsageError(f"no such file or directory: {target}")
        else:
            found.add(find_workflow(target, places))
    return found


def _project_files(directory: Path) -> list[Path]:
    """A directory is read like a project: its .llm-mux/ files, its *.toml, workflows/*.toml."""
    patterns = [".llm-mux/config.toml", ".llm-mux/workflows/*.toml", "*.toml", "workflows/*.toml"]
    return [p for pattern in patterns for p in sorted(directory.glob(pattern)) if p.is_file()]


class Report(msgspec.Struct):
    diagnostics: list[Diagnostic]
    files: int

    @property
    def errors(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors


def validate(
    targets: Targets,
    places: Places,
    *,
    extra_configs: Sequence[Path],
    env: Mapping[str, str],
    use_config: bool = True,
) -> Report:
    sink = Sink()
    sources: list[SourceFile] = []
    configs: dict[Path, MergedConfig | None] = {}
    for config in targets.configs:
        paths = config_paths(places, extra_configs, project_root=_root_of(config, places))
        if config.resolve() not in paths:
            paths = [places.user_config] if places.user_config.is_file() else []
            paths = [*paths, config.resolve()]
        _, read = load_merged(paths if use_config else [config], places, sink, env)
        sources.extend(read)
    for workflow in targets.workflows:
        merged = None
        if use_config:
            root = _root_of(workflow, places)
            if root not in configs:
                paths = config_paths(places, extra_configs, project_root=root)
                configs[root], read = load_merged(paths, places, sink, env)
                sources.extend(read)
            merged = configs[root]
        source = read_source(workflow, places.cwd, sink)
        if source is not None:
            sources.append(source)
            check_workflow(source, sink, config=merged, env=env)
    diagnostics = finish(sink, sources)
    # A file that could not be read or decoded was still checked: count it.
    files = len({s.path for s in sources} | {d.location.path for d in diagnostics})
    return Report(diagnostics, files)


def _root_of(path: Path, places: Places) -> Path:
    """The project a file belongs to: the nearest ancestor holding .llm-mux/."""
    return project_root(path.resolve().parent) or places.project_root


ReportFormat = Literal["text", "json", "github", "sarif"]


def render_report(report: Report, fmt: ReportFormat = "text") -> str:
    """text: one line per diagnostic and a summary; json: a bare list; github: workflow
    annotations and the summary; sarif: one SARIF 2.1.0 log."""
    if fmt == "json":
        return _json([d.to_json() for d in report.diagnostics])
    if fmt == "sarif":
        from llm_mux.compiler.report.diagnostics import diagnostics_sarif

        return _json(diagnostics_sarif(report.diagnostics))
    if fmt == "github":
        from llm_mux.compiler.report.diagnostics import diagnostics_annotations

        return diagnostics_annotations(report.diagnostics) + _summary(report) + "\n"
    lines = [d.render() for d in report.diagnostics]
    return "\n".join([*lines, _summary(report)]) + "\n"


def _json(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _summary(report: Report) -> str:
    noun = "file" if report.files == 1 else "files"
    summary = f"{report.files} {noun} checked: {_count(report.errors, 'error')}, "
    return summary + _count(report.warnings, "warning")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")

"""The compiler, pass by pass — read this file top to bottom.

    SourceFile ─ load ─► raw tables ─ decode ─► Workflow ─ resolve ─► CheckedWorkflow
        config files ─ load ─► layers ─ config (merge + overlay) ─► MergedConfig
    CheckedWorkflow + MergedConfig ─ check ─► diagnostics        (validate stops here)
                                   ─ graph ─► Ordering ─ lower ─► Plan

Every pass reports into one `Sink` and later passes are skipped when the ones
they need failed. Nothing here reads files or the environment: callers pass
`SourceFile`s and an `env` mapping in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from .checked import CheckedWorkflow
from .diagnostics import Diagnostic, Location, Sink
from .passes.check import check
from .passes.config import Layer, MergedConfig, merge_config
from .passes.decode import check_tree, convert
from .passes.load import load_toml
from .passes.resolve import resolve
from .plan import Plan
from .schema import Workflow
from .source import KeyPath, SourceFile

__all__ = [
    "Checked",
    "check_workflow",
    "compile_workflow",
    "decode_text",
    "finish",
    "load_config",
]

_OVERLAY_KEYS = ("backends", "roles")


class Checked(msgspec.Struct, frozen=True):
    """A workflow that passed every check, with the config it was checked against."""

    workflow: CheckedWorkflow
    config: MergedConfig | None


def decode_text(path: str, data: bytes, sink: Sink) -> SourceFile | None:
    """Bytes from disk → SourceFile; a file that is not UTF-8 is an E002."""
    try:
        return SourceFile(path, data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[line_start : error.start].decode("utf-8", "replace")) + 1
        sink.error(
            "E002",
            f"the file is not UTF-8 text: byte 0x{data[error.start]:02X} cannot be decoded",
            Location(path, data.count(b"\n", 0, error.start) + 1, column),
            hint="save it as UTF-8",
        )
        return None


def load_config(
    sources: Sequence[SourceFile], sink: Sink, env: Mapping[str, str]
) -> MergedConfig | None:
    """User, project and --config files, in that order, merged into one config."""
    layers = [Layer(s, raw) for s in sources if (raw := load_toml(s, sink)) is not None]
    merged = merge_config(layers, sink, env)
    return merged if len(layers) == len(sources) else None


def check_workflow(
    source: SourceFile,
    sink: Sink,
    *,
    config: MergedConfig | None,
    env: Mapping[str, str],
) -> Checked | None:
    """Everything `validate` checks. `config=None` skips role and backend checks."""
    raw = load_toml(source, sink)
    if raw is None:
        return None

    def locate(path: KeyPath, key: bool) -> Location:
        return source.key(path) if key else source.value(path)

    if not check_tree(raw, Workflow, locate, sink):
        return None
    surface = convert(raw, Workflow, locate, sink)
    if surface is None:
        return None
    checked = resolve(surface, source, sink)
    overlay = {key: raw[key] for key in _OVERLAY_KEYS if key in raw}
    if config is not None and overlay:  # without one, the merged config is the workflow's
        config = merge_config([Layer(source, overlay)], sink, env, base=config)
        if config is None:
            return None
    if checked is None or not check(checked, config, sink):
        return None
    return Checked(checked, config)


def compile_workflow(
    source: SourceFile,
    sink: Sink,
    *,
    config: MergedConfig,
    env: Mapping[str, str],
    team: str | None = None,
) -> Plan | None:
    """The whole pipeline: a runnable plan, or None with the reasons in `sink`."""
    checked = check_workflow(source, sink, config=config, env=env)
    if checked is None or checked.config is None:
        return None
    from .passes.graph import order  # networkx: only paid for by plan and run
    from .passes.lower import lower

    return lower(checked.workflow, order(checked.workflow), checked.config.config, team)


def finish(sink: Sink, sources: Iterable[SourceFile]) -> list[Diagnostic]:
    """Sorted diagnostics, without those silenced by `# llm-mux: ignore[CODE]`."""
    by_path = {source.path: source for source in sources}

    def silenced(diagnostic: Diagnostic) -> bool:
        source = by_path.get(diagnostic.location.path)
        return source is not None and diagnostic.code in source.ignored_codes(
            diagnostic.location.line
        )

    return [d for d in sink.sorted() if not silenced(d)]

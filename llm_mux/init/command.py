"""`llm-mux init [--global|--project] [--force]`: look, write, say what was done.

Input: the global options, where to write (the user config by default; the
project's `.llm-mux/` with `--project`) and `--force`. Output: the files, a
report on stdout (or `--output json`), exit 0; exit 1 — with nothing written —
when a file exists without `--force`, or when no backend was found (the report
then says what to install).

A project `.llm-mux/` that init creates is trusted at once (every file in it is
init's own); one that existed before is left for `llm-mux trust`, since it may
hold files init did not write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..commands import emit, places_for
from ..config import environment
from ..errors import EXIT_FAILED, MuxError
from ..options import GlobalOptions
from ..paths import PROJECT_DIR, Places
from ..trust import TrustStore
from .detect import TOOLS, Detection, detect
from .starter import HELLO_WORKFLOW, config_text, default_role, hello_workflow_text

__all__ = ["init_command"]


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    text: str


def init_command(options: GlobalOptions, *, project: bool, force: bool) -> int:
    places = places_for(options)
    targets = _targets(places, project)
    _refuse_to_overwrite(targets, force)
    detection = detect(environment())
    if not detection.found:
        emit(_report(detection, [], None, as_json=options.output == "json"), options)
        return EXIT_FAILED
    config = config_text(detection)
    files = [_File(targets[0], config)]
    if project:
        files.append(_File(targets[1], hello_workflow_text()))
    fresh = project and not (places.project_root / PROJECT_DIR).exists()
    for file in files:
        file.path.parent.mkdir(parents=True, exist_ok=True)
        file.path.write_text(file.text, encoding="utf-8")
    trusted = None
    if fresh:
        TrustStore.at(places.state_dir).trust(places.project_root)
        trusted = places.project_root / PROJECT_DIR
    written = [file.path for file in files]
    emit(_report(detection, written, trusted, as_json=options.output == "json"), options)
    return 0


def _targets(places: Places, project: bool) -> list[Path]:
    """The config to write, then (with --project) the starter workflow."""
    if not project:
        return [places.user_config]
    base = places.project_root / PROJECT_DIR
    return [base / "config.toml", base / "workflows" / f"{HELLO_WORKFLOW}.toml"]


def _refuse_to_overwrite(targets: list[Path], force: bool) -> None:
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        shown = " and ".join(str(path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise MuxError(
            f"{shown} already {verb}; llm-mux init never overwrites without --force",
            hint="`llm-mux init --force` replaces it with a fresh starter "
            "(`llm-mux doctor` checks what is there now)",
        )


# -- the report --------------------------------------------------------------------------
def _report(
    detection: Detection, written: list[Path], trusted: Path | None, *, as_json: bool
) -> str:
    if as_json:
        return _json(detection, written, trusted)
    lines = ["Model backends on this machine:"]
    width = max(len(tool.name) for tool in TOOLS) + len("-api")
    for tool in TOOLS:
        where = detection.tools.get(tool.name)
        status = (
            f"✓ {tool.name:<{width}}  {where}"
            if where
            else (f"✗ {tool.name:<{width}}  not on PATH — {tool.install}")
        )
        lines.append(f"  {status}")
    lines.append(f"  {_server_line(detection, width)}")
    if not written:
        return "\n".join([*lines, "", *_nothing_found()]) + "\n"
    lines.append("")
    lines.append(f"wrote {written[0]} — role default: {', '.join(default_role(detection))}")
    lines += [f"wrote {path}" for path in written[1:]]
    if trusted is not None:
        lines.append(f"trusted {trusted} (init wrote all of it; `llm-mux trust --revoke` undoes)")
        lines.append(
            "  an edit to its files asks for `llm-mux trust` again; for a project of your own, "
            "`llm-mux trust --any-content` stops that (weaker: it trusts any future content)"
        )
    elif len(written) > 1:
        lines.append(f"run `llm-mux trust` in {written[0].parent.parent} to use these files")
    lines.append(
        "next: `llm-mux doctor` checks the backends; `llm-mux run review` reviews the "
        "changes of a git repository"
        + ("; `llm-mux run hello` tries the starter workflow" if len(written) > 1 else "")
    )
    return "\n".join(lines) + "\n"


def _server_line(detection: Detection, width: int) -> str:
    server = detection.server
    name = f"{'ollama-api':<{width}}"
    if server.usable:
        return f"✓ {name}  Ollama server at {server.url} (models: {', '.join(server.models)})"
    if server.error is None:
        return f"✗ {name}  the Ollama server at {server.url} has no model: `ollama pull llama3.2`"
    return f"✗ {name}  no Ollama server at {server.url}: {server.error}"


def _nothing_found() -> list[str]:
    return [
        "Found no model backend, so nothing was written. Install one of the tools above",
        "(or start an Ollama server: `ollama serve`; LLM_MUX_OLLAMA_URL names another URL),",
        "then run `llm-mux init` again — or write a config for an HTTP API by hand (README,",
        "Configuration).",
    ]


def _json(detection: Detection, written: list[Path], trusted: Path | None) -> str:
    server = detection.server
    document = {
        "found": list(detection.found),
        "tools": {name: path for name, path in detection.tools.items()},
        "ollama_server": {"url": server.url, "models": list(server.models), "error": server.error},
        "default_role": default_role(detection) if written else [],
        "written": [str(path) for path in written],
        "trusted": str(trusted) if trusted else None,
    }
    return json.dumps(document, indent=2) + "\n"

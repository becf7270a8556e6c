"""`llm-mux doctor`: is everything this project needs really there?

Input: the merged config, the places, the environment, and whether the network
may be used. Output: one line per check (✓ fine, ✗ broken, · information) or a
JSON document, and exit 1 when anything is broken. Checks: every backend (CLI
found on PATH; HTTP key set and, unless `--offline`, `GET /models` answering),
and the backend's `model` among the models it lists — else the closest it serves),
every role resolves to an available backend, the team and ecosystem detected,
every project and user workflow validates. Key values are never shown. With
`--probe` (`llm_mux.probe`) each backend, or each one named, also answers a prompt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from llm_mux.compiler.diagnostics import Diagnostic, Severity, did_you_mean
from llm_mux.compiler.envvars import UnsetVariable, expand_env
from llm_mux.compiler.passes.config import MergedConfig
from llm_mux.compiler.passes.lower import backend_specs
from llm_mux.compiler.plan import BackendSpec

from .config import environment
from .ecosystems import detect_ecosystem
from .paths import Places, builtin_workflows
from .teams import detect_team

__all__ = ["Check", "diagnose", "render_checks"]

_PROBE_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Check:
    kind: str
    name: str
    status: str  # "ok", "broken" or "info"
    detail: str


def diagnose(
    places: Places,
    merged: MergedConfig,
    *,
    offline: bool,
    probe: Sequence[str] | None = None,
    diagnostics: Sequence[Diagnostic] = (),
) -> list[Check]:
    """`probe`: None for no prompts, else the backends to send one to (empty: all).
    `diagnostics`: the config's, whose errors are checks too."""
    from .backends.pool import BackendPool

    env = environment()
    specs = backend_specs(merged.config)
    pool = BackendPool(specs, root=places.project_root, env=env)
    untrusted = untrusted_backends(places, merged, env)
    checks = [_config_error(d) for d in diagnostics if d.severity is Severity.ERROR]
    checks += [
        _backend(spec, pool.availability(name), env, _no_contact(name, offline, untrusted))
        for name, spec in specs.items()
    ]
    available = {c.name for c in checks if c.kind == "backend" and c.status == "ok"}
    roles = merged.config.roles.items()
    checks += [_role(name, role.backends, available, set(specs)) for name, role in roles]
    if probe is not None:
        from .probe import probe as send_probes

        names = list(probe) or [c.name for c in checks if c.kind == "backend" and c.status == "ok"]
        root = places.project_root
        checks += send_probes(specs, names, root=root, env=env, untrusted=untrusted)
    checks += _context(places, merged)
    checks += _workflows(places)
    return checks


def _config_error(diagnostic: Diagnostic) -> Check:
    where = diagnostic.location
    detail = f"{diagnostic.message} ({where.path}:{where.line}:{where.column}, {diagnostic.code})"
    return Check("config", Path(where.path).name, "broken", detail)


def untrusted_backends(places: Places, merged: MergedConfig, env: Mapping[str, str]) -> set[str]:
    """Backends any of whose keys come from an untrusted `.llm-mux/`.

    doctor must not send the user's API key to a URL a cloned repository chose.
    """
    from .trust import TrustStore, project_of

    store = TrustStore.at(places.state_dir)
    if env.get("LLM_MUX_TRUST") == "1":
        return set()
    trusted: dict[str, bool] = {}
    found = set()
    for path, source in merged.origins.items():
        if len(path) < 2 or path[0] != "backends":
            continue
        root = project_of(
            Path(source.path) if Path(source.path).is_absolute() else places.cwd / source.path
        )
        if root is None:
            continue
        key = str(root)
        if key not in trusted:
            from .trust import digest

            trusted[key] = store.recorded_digest(root) == digest(root)
        if not trusted[key]:
            found.add(str(path[1]))
    return found


def _no_contact(name: str, offline: bool, untrusted: set[str]) -> str | None:
    if name in untrusted:
        return "defined by an untrusted project; run llm-mux trust"
    return "--offline" if offline else None


def _backend(
    spec: BackendSpec, reason: str | None, env: Mapping[str, str], no_contact: str | None
) -> Check:
    if reason is not None:
        status = "info" if not spec.enabled else "broken"
        return Check("backend", spec.name, status, reason)
    if spec.kind == "cli":
        found = f"{expand_env(spec.command, env)} found on PATH"
        if spec.wrapper:  # the command itself need only exist where the wrapper runs it
            found = f"command_wrapper {spec.wrapper[0]} found on PATH"
        return Check("backend", spec.name, "ok", found)
    if no_contact is not None:
        key = "key set; " if spec.api_key else ""
        return Check("backend", spec.name, "ok", f"{key}not contacted ({no_contact})")
    problem = _probe(spec, env)
    if problem is not None:
        return Check("backend", spec.name, "broken", problem)
    return Check("backend", spec.name, "ok", f"{_base_url(spec, env)} answers")


def _base_url(spec: BackendSpec, env: Mapping[str, str]) -> str:
    url = expand_env(spec.command, env).rstrip("/")
    return (url or "https://api.anthropic.com") + ("/v1" if spec.kind == "anthropic" else "")


def _probe(spec: BackendSpec, env: Mapping[str, str]) -> str | None:
    """A short GET /models; None when it answers 2xx."""
    import httpx

    headers = {}
    try:
        key = expand_env(spec.api_key, env) if spec.api_key else None
    except UnsetVariable:
        key = None
    if key:
        headers = (
            {"x-api-key": key} if spec.kind == "anthropic" else {"Authorization": f"Bearer {key}"}
        )
    url = _base_url(spec, env) + "/models"
    try:
        response = httpx.get(url, headers=headers, timeout=_PROBE_TIMEOUT)
    except httpx.HTTPError as error:
        return f"{url} is not reachable ({type(error).__name__})"
    if response.status_code in (401, 403):
        return f"{url} refused the key (HTTP {response.status_code})"
    if response.status_code >= 400:
        return f"{url} answered HTTP {response.status_code}"
    return _missing_model(spec, env, url, response.content)


def _missing_model(spec: BackendSpec, env: Mapping[str, str], url: str, body: bytes) -> str | None:
    """The backend's model when the server's model list does not have it (and a close one)."""
    served = _model_ids(body)
    try:
        model = expand_env(spec.model, env) if spec.model else None
    except UnsetVariable:
        return None
    if model is None or not served or model in served:
        return None
    close = did_you_mean(model, served)
    hint = (
        f"; did you mean '{close}'?" if close else f" (it serves {', '.join(sorted(served)[:5])})"
    )
    return f"{url} does not serve the model '{model}'{hint}"


def _model_ids(body: bytes) -> set[str]:
    """The ids of an OpenAI-style (and Anthropic) `{"data": [{"id": …}]}` model list."""
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return set()
    entries = data if isinstance(data, list) else []
    return {str(e["id"]) for e in entries if isinstance(e, dict) and e.get("id")}


def _role(name: str, backends: list[str], available: set[str], defined: set[str]) -> Check:
    undefined = [b for b in backends if b not in defined]
    if undefined:
        names = ", ".join(f"'{b}'" for b in undefined)
        return Check("role", name, "broken", f"uses backend {names}, which is not defined")
    usable = [b for b in backends if b in available]
    if not usable:
        return Check("role", name, "broken", f"none of {', '.join(backends)} is available")
    missing = [b for b in backends if b not in available]
    detail = ", ".join(usable) + (f" (unavailable: {', '.join(missing)})" if missing else "")
    return Check("role", name, "ok", detail)


def _context(places: Places, merged: MergedConfig) -> list[Check]:
    team = detect_team(merged.config, places.project_root)
    ecosystem, why = detect_ecosystem(merged.config, places.cwd, environment())
    eco_detail = why
    if ecosystem is not None:
        current = ecosystem.current_project.name if ecosystem.current_project else "none"
        eco_detail = f"{ecosystem.name} (current project: {current})"
    return [
        Check("team", team or "-", "info", "detected" if team else "no team matches this project"),
        Check("ecosystem", ecosystem.name if ecosystem else "-", "info", eco_detail),
    ]


def _workflows(places: Places) -> list[Check]:
    """Project and user workflows, then the built-in ones they do not replace, each
    validated against the config as `llm-mux run NAME` would compile it."""
    from .validate import collect_targets

    paths = collect_targets((), places).workflows
    names = {path.stem for path in paths}
    builtins = [p for p in sorted(builtin_workflows().glob("*.toml")) if p.stem not in names]
    return [_workflow(path, places) for path in paths] + [
        _workflow(path, places, builtin=True) for path in builtins
    ]


def _workflow(path: Path, places: Places, *, builtin: bool = False) -> Check:
    from .validate import Targets, validate

    report = validate(Targets(workflows=[path]), places, extra_configs=(), env=environment())
    origin = "built in; " if builtin else ""
    if not report.errors:
        return Check("workflow", path.stem, "ok", f"{origin}validates")
    roles = [d for d in report.diagnostics if d.code == "E401"]
    if roles:
        detail = f"{origin}{roles[0].message}: run `llm-mux init` to write a config with it"
    else:
        target = path.stem if builtin else str(path)
        detail = f"{origin}{report.errors} error(s): run llm-mux validate {target}"
    return Check("workflow", path.stem, "broken", detail)


_MARKS = {"ok": "✓", "broken": "✗", "info": "·"}


def render_checks(checks: list[Check], *, as_json: bool) -> str:
    broken = [c for c in checks if c.status == "broken"]
    if as_json:
        document = {"ok": not broken, "checks": [asdict(c) for c in checks]}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    lines = [f"{_MARKS[c.status]} {c.kind} {c.name}: {c.detail}" for c in checks]
    lines.append(f"{len(broken)} problem(s) found" if broken else "everything looks fine")
    return "\n".join(lines) + "\n"

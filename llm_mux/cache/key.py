"""The cache key: everything a cached step's result depends on, hashed.

Input: the step (its action's settings: template text, output schema, route,
shell…), its inputs rendered for this run (prompt, system, command — the
`--context` preamble included), the resolved backends it may call (kind,
command, args, model, prices, every request extra; `${VAR}`s expanded, never
the API key) and the content of the files its `inputs` globs match, relative
to the project root. Output: a SHA-256 hex digest. Two steps whose keys are
equal would make the same request: that is the cache's one promise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from llm_mux.compiler.envvars import UnsetVariable, expand_env
from llm_mux.compiler.plan import BackendSpec, Query, StepPlan

__all__ = ["FORMAT", "backend_identity", "cache_key", "files_digest"]

FORMAT = 1  # bumped whenever what goes into a key changes, so old entries stop matching


def cache_key(
    step: StepPlan,
    inputs: Mapping[str, str],
    backends: Mapping[str, BackendSpec],
    files: str,
    env: Mapping[str, str],
) -> str:
    """The key of `step` run with these rendered `inputs`; `files` is `files_digest`."""
    document = {
        "format": FORMAT,
        "type": step.type,
        "settings": msgspec.to_builtins(step.action),
        "inputs": dict(sorted(inputs.items())),
        "backends": [backend_identity(backends[n], env) for n in _routed(step) if n in backends],
        "files": files,
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _routed(step: StepPlan) -> tuple[str, ...]:
    action = step.action
    if isinstance(action, Query) and action.route is not None:
        return action.route.backends
    return ()


def backend_identity(spec: BackendSpec, env: Mapping[str, str]) -> dict[str, object]:
    """What of a backend decides its answers: everything but the key that pays for them."""
    identity = msgspec.to_builtins(spec)
    identity.pop("api_key", None)
    identity["expanded"] = [_expand(text, env) for text in (spec.command, spec.model, *spec.args)]
    return dict(identity)


def _expand(text: str | None, env: Mapping[str, str]) -> str | None:
    if text is None:
        return None
    try:
        return expand_env(text, env)
    except UnsetVariable:
        return text


def files_digest(root: Path, patterns: Sequence[str]) -> str:
    """One digest of every file the globs match under `root`: paths and contents."""
    digest = hashlib.sha256()
    for path in sorted(_matches(root, patterns)):
        digest.update(str(path.relative_to(root)).encode("utf-8") + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as error:  # unreadable: a key that will not match a readable one
            digest.update(f"unreadable: {error.strerror}".encode())
    return digest.hexdigest()


def _matches(root: Path, patterns: Sequence[str]) -> set[Path]:
    found: set[Path] = set()
    for pattern in patterns:
        found.update(path for path in root.glob(pattern) if path.is_file())
    return found

"""Project trust, direnv-style: a cloned repository runs nothing until you say so.

Input: the files a run is about to use and the trust records. Output: nothing
(trusted), or a `Untrusted` usage error (exit 2) naming the files and the exact
command to run. `llm-mux trust` records a SHA-256 of everything under the
project's `.llm-mux/`; any change to those files asks again. `llm-mux trust
--any-content` is the weaker choice for a project of one's own: its `.llm-mux/` is
trusted whatever it will contain, as an editor trusts a folder. `--trust` or
`LLM_MUX_TRUST=1` trust one run. Records live in
`$XDG_STATE_HOME/llm-mux/trust.json` (mode 0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

import msgspec

from .errors import UsageError
from .paths import PROJECT_DIR

__all__ = [
    "ANY_CONTENT",
    "TrustStore",
    "Untrusted",
    "digest",
    "ensure_trusted",
    "project_of",
    "refusal_hint",
]


# What `recorded_digest` answers for a project trusted with `trust --any-content`.
ANY_CONTENT = "any-content"


class Untrusted(UsageError):
    """A project's `.llm-mux/` would be used without the user's trust."""


class TrustStore(msgspec.Struct, frozen=True):
    path: Path

    @classmethod
    def at(cls, state_dir: Path) -> TrustStore:
        return cls(state_dir / "trust.json")

    def records(self) -> dict[str, dict[str, object]]:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def recorded_digest(self, root: Path) -> str | None:
        """The pinned content's SHA-256, ANY_CONTENT, or None when not trusted."""
        record = self.records().get(str(root))
        if not isinstance(record, dict):
            return None
        if record.get("any_content") is True:
            return ANY_CONTENT
        value = record.get("sha256")
        return value if isinstance(value, str) else None

    def trust(self, root: Path) -> str:
        """Trust what `root/.llm-mux/` holds now; a change to it asks again."""
        value = digest(root)
        self._record(root, {"sha256": value})
        return value

    def trust_any_content(self, root: Path) -> None:
        """Trust `root/.llm-mux/` whatever it holds, now and later (the weaker choice)."""
        self._record(root, {"any_content": True})

    def _record(self, root: Path, record: dict[str, object]) -> None:
        records = self.records()
        records[str(root)] = record | {"trusted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self._write(records)

    def revoke(self, root: Path) -> bool:
        records = self.records()
        found = records.pop(str(root), None) is not None
        if found:
            self._write(records)
        return found

    def _write(self, records: Mapping[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(records, handle, indent=2, sort_keys=True)
        os.replace(temporary, self.path)


def digest(root: Path) -> str:
    """SHA-256 over every file under `root/.llm-mux/`: relative paths and contents."""
    base = root / PROJECT_DIR
    total = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(base).as_posix()
        total.update(relative.encode() + b"\0")
        target = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        total.update(hashlib.sha256(target).digest())
    return total.hexdigest()


def project_of(path: Path) -> Path | None:
    """The project whose `.llm-mux/` holds `path`, or None for a file outside any."""
    parts = path.resolve().parts
    if PROJECT_DIR not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index(PROJECT_DIR)
    return Path(*parts[:index])


def ensure_trusted(
    used: Iterable[Path],
    store: TrustStore,
    *,
    override: bool,
    env: Mapping[str, str],
    cwd: Path | None = None,
    allow: Collection[str] = (),
) -> None:
    """Refuse (exit 2) when a used file lies in an untrusted or changed `.llm-mux/`.

    `allow` trusts a part of every project for this run, as the Rust llm-mux's
    flags did: "workflows" (files under `.llm-mux/workflows/`) and "backends"
    (the rest: `.llm-mux/config.toml`, which defines backends, roles and teams).
    """
    if override or env.get("LLM_MUX_TRUST") == "1":
        return
    by_project: dict[Path, list[Path]] = {}
    for path in used:
        root = project_of(path)
        if root is not None and _part(root, path) not in allow:
            by_project.setdefault(root, []).append(path)
    for root, files in by_project.items():
        recorded = store.recorded_digest(root)
        if recorded == ANY_CONTENT or (recorded is not None and recorded == digest(root)):
            continue
        shown = ", ".join(str(f.resolve().relative_to(root)) for f in files)
        state = "changed since you trusted it" if recorded else "is not trusted"
        raise Untrusted(
            f"{root / PROJECT_DIR} {state}: its files can run commands ({shown})",
            hint=refusal_hint(root, cwd),
        )


def refusal_hint(root: Path, cwd: Path | None = None) -> str:
    """What the user can do about an untrusted project: both ways to trust it, or one run."""
    trust = _trust_command(root, cwd)
    return (
        f"review them, then run `{trust}` (trusts exactly this content; a "
        f"change asks again), or for a project of your own `{trust} "
        "--any-content` (trusts whatever it will contain: weaker); --trust or "
        "LLM_MUX_TRUST=1 trusts one run"
    )


def _part(root: Path, path: Path) -> str:
    """Which part of a project's `.llm-mux/` a file is: "workflows" or "backends"."""
    inside = path.resolve().relative_to(root / PROJECT_DIR).parts
    return "workflows" if inside[:1] == ("workflows",) else "backends"


def _trust_command(root: Path, cwd: Path | None) -> str:
    """`llm-mux trust` from the project root itself, else with `-C ROOT`."""
    here = cwd.resolve() if cwd is not None else None
    return "llm-mux trust" if here == root else f"llm-mux -C {shlex.quote(str(root))} trust"

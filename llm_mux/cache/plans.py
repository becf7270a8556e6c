"""Compiled plans, kept by the content of everything they were compiled from.

Input: the config files and the workflow file about to be compiled (their
bytes), the working directory (paths in messages are relative to it), the
`--team` option, the environment variables those files mention, and the
llm-mux code itself (every module's size and modification time, so an edited
checkout never reuses a stale plan). Output: `plan_key`, and `load` / `save`
of a `CachedPlan` — the frozen plan, the merged config and the diagnostics
the compile printed, which a hit prints again — as one msgpack file per key
under `$XDG_STATE_HOME/llm-mux/plans/`.

Why: a `run` pays for the compile (and networkx, and the Lark parser) every
time; an unchanged workflow compiles to the same plan, so the second run reads
it instead. The team is detected from the project's files, which the key does
not cover: a hit whose detected team differs is recompiled. A file that cannot
be read or decoded is a miss, never an error. At most `KEEP` plans are kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import msgspec

from llm_mux.compiler.plan import PLAN_VERSION, Plan
from llm_mux.compiler.schema import Config

__all__ = ["KEEP", "CachedPlan", "clear_plans", "load", "plan_key", "save"]

FORMAT = 1
KEEP = 64  # plans kept; the least recently written go first
_MENTIONS = re.compile(rb"\$\{([A-Za-z_][A-Za-z0-9_]*)|\benv\s*(?:\.|\[\s*['\"])([A-Za-z_]\w*)")
_PACKAGE = Path(__file__).resolve().parents[1]  # llm_mux/


class CachedPlan(msgspec.Struct, frozen=True):
    plan: Plan
    config: Config
    diagnostics: tuple[str, ...]  # as printed by the compile that made the plan


def plan_key(
    files: Sequence[Path], cwd: Path, team: str | None, env: Mapping[str, str]
) -> str | None:
    """The key of compiling `files` (configs, then the workflow); None if one is unreadable."""
    digest = hashlib.sha256(f"{FORMAT}\0{PLAN_VERSION}\0{_code()}\0{cwd}\0{team}".encode())
    mentioned: set[bytes] = set()
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        digest.update(f"\0{path}\0{len(data)}\0".encode() + data)
        mentioned.update(a or b for a, b in _MENTIONS.findall(data))
    for name in sorted(mentioned):
        value = env.get(name.decode())
        digest.update(b"\0" + name + (b"" if value is None else b"=" + value.encode()))
    return digest.hexdigest()


def _code() -> str:
    """llm-mux's own modules, by name, size and modification time."""
    parts: list[str] = []
    for root in (_PACKAGE, *_compiler_dirs()):
        for directory, subdirectories, names in os.walk(root):
            subdirectories[:] = [d for d in subdirectories if d != "__pycache__"]
            for name in names:
                if name.endswith((".py", ".lark")):
                    info = os.stat(os.path.join(directory, name))
                    parts.append(f"{directory}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def _compiler_dirs() -> list[Path]:
    """Where `llm_mux.compiler` and `llm_mux.grammar` live, when not inside llm_mux/."""
    import llm_mux.compiler

    compiler = Path(llm_mux.compiler.__file__).resolve().parent
    grammar = compiler.parent / "grammar"
    return [d for d in (compiler, grammar) if not d.is_relative_to(_PACKAGE) and d.is_dir()]


def load(directory: Path, key: str) -> CachedPlan | None:
    try:
        data = (directory / f"{key}.msgpack").read_bytes()
        return msgspec.msgpack.decode(data, type=CachedPlan)
    except (OSError, msgspec.DecodeError):
        return None


def save(directory: Path, key: str, cached: CachedPlan) -> None:
    """Write atomically (a reader sees the old file or the new one); never fails the run."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = directory / f".{key}.{os.getpid()}"
        partial.write_bytes(msgspec.msgpack.encode(cached))
        os.replace(partial, directory / f"{key}.msgpack")
        _prune(directory)
    except OSError:
        pass


def _prune(directory: Path) -> None:
    plans = sorted(directory.glob("*.msgpack"), key=lambda p: p.stat().st_mtime_ns)
    for old in plans[:-KEEP]:
        old.unlink(missing_ok=True)


def clear_plans(directory: Path, older_than: timedelta | None = None) -> int:
    """Remove the saved plans (those not written for `older_than`); how many went."""
    cutoff = time.time() - older_than.total_seconds() if older_than is not None else None
    removed = 0
    for path in directory.glob("*.msgpack"):
        try:
            if cutoff is None or path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed

"""Where an ecosystem's memory lives: `$XDG_CONFIG_HOME/llm-mux/memory/<name>.db`.

Input: the user config directory (`Places.user_dir`) and an ecosystem name.
Output: the database path. Names come from config files and workflows, so they
are sanitised: letters, digits, `.`, `_` and `-` are kept, anything else becomes
`_`, leading dots are dropped (no hidden files, no `..`), and a name that had
to change gets a short hash of the original so two ecosystems never share a file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["MEMORY_DIR", "file_stem", "memory_path"]

MEMORY_DIR = "memory"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_LONGEST = 80


def file_stem(ecosystem: str) -> str:
    """`myapp` → `myapp`; `my app/..` → `my_app__-<hash>`."""
    safe = _UNSAFE.sub("_", ecosystem).lstrip(".")[:_LONGEST]
    if safe == ecosystem:
        return safe
    digest = hashlib.sha256(ecosystem.encode("utf-8")).hexdigest()[:8]
    return f"{safe or 'ecosystem'}-{digest}"


def memory_path(user_dir: Path, ecosystem: str) -> Path:
    return user_dir / MEMORY_DIR / f"{file_stem(ecosystem)}.db"

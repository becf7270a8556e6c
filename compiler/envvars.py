"""`${VAR}` in config strings: find the references, expand them.

Input: a config string and an environment mapping. Output: the names it refers
to (for `validate`'s warnings) or the expanded text (for the runtime, which
expands a value only when it uses it). `$${` writes a literal `${`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["UnsetVariable", "env_references", "expand_env"]

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class UnsetVariable(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def env_references(text: str) -> list[tuple[str, int]]:
    """Each `${NAME}` in `text` with its offset; escaped `$${…}` are not references."""
    return [(m.group(1), m.start()) for m in _REFERENCE.finditer(text) if m.group(1)]


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Replace every `${NAME}`; raises UnsetVariable for the first unset one."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "${"
        if name not in env:
            raise UnsetVariable(name)
        return env[name]

    return _REFERENCE.sub(replace, text)

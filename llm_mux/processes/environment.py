"""A child's environment as `exec` takes it: `NAME=value` byte strings.

Input: the variables (a mapping of text). Output: `encode(variables)`, each pair encoded
as `os.fsencode` would encode it; or an `Environment`, which does that once however many
children start with it. A run's executor holds one `Environment` for the run, and the
reaper adds its tag to it per child with `plus`: a run's ~40 variables were otherwise
encoded again for every child (6 µs each, on the event loop's thread).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

__all__ = ["Environment", "encode"]

_FILESYSTEM = (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def encode(variables: Mapping[str, str]) -> tuple[bytes, ...]:
    """`variables` as exec takes them; raises ValueError for a name holding `=` (as
    Popen does) and UnicodeEncodeError for text no file name could hold."""
    return tuple(_pair(name, value) for name, value in variables.items())


def _pair(name: str, value: str) -> bytes:
    if "=" in name:
        raise ValueError(f"illegal environment variable name: {name!r}")
    return f"{name}={value}".encode(*_FILESYSTEM)


class Environment(Mapping[str, str]):
    """Variables that do not change, and their encoding, made on first use and kept.

    A copy of the mapping it is given: a change to that mapping later does not reach it.
    """

    __slots__ = ("_encoded", "_variables")

    def __init__(
        self, variables: Mapping[str, str], encoded: tuple[bytes, ...] | None = None
    ) -> None:
        self._variables = dict(variables)
        self._encoded = encoded

    def __getitem__(self, name: str) -> str:
        return self._variables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)

    def encoded(self) -> tuple[bytes, ...]:
        if self._encoded is None:
            self._encoded = encode(self._variables)
        return self._encoded

    def plus(self, name: str, value: str) -> Environment:
        """These variables and `name` (replacing one of that name), sharing the encoding."""
        kept = self.encoded()
        if name in self._variables:  # rare: llm-mux run by a step of another llm-mux run
            prefix = name.encode(*_FILESYSTEM) + b"="
            kept = tuple(pair for pair in kept if not pair.startswith(prefix))
        return Environment({**self._variables, name: value}, (*kept, _pair(name, value)))

"""Diagnostics: the one type every pass reports problems with.

Input: what a pass found (a code, a sentence, a location). Output: `Diagnostic`
values collected in a `Sink`, rendered as `path:line:col: severity: message [CODE]`
or as JSON. Codes are stable: tools and `# llm-mux: ignore[CODE]` comments refer to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum

import msgspec

__all__ = [
    "CODES",
    "Diagnostic",
    "Location",
    "Severity",
    "Sink",
    "did_you_mean",
]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# Stable codes and their one-line meanings. E = error, W = warning.
CODES: dict[str, str] = {
    "E001": "the file is not valid TOML",
    "E002": "the file cannot be read",
    "E101": "unknown key",
    "E102": "value of the wrong type",
    "E103": "required key missing",
    "E104": "value not allowed for this key",
    "E105": "keys that cannot be used together",
    "E201": "invalid step name",
    "E202": "two steps with the same name",
    "E203": "depends_on names a step that does not exist",
    "E204": "steps depend on each other in a cycle",
    "E205": "workflow output names a step that does not exist",
    "E301": "template syntax error",
    "E302": "expression syntax error",
    "E303": "reference to a step that does not exist",
    "E304": "reference to an argument the workflow does not declare",
    "E305": "unknown filter or test",
    "E306": "unknown name in a template or expression",
    "E307": "unknown field of a step result",
    "E401": "unknown role",
    "E402": "unknown backend",
    "W403": "a CLI backend's prompt could be read as an option",
    "E501": "invalid duration",
    "W502": "a bare timeout of 1000 or more is probably milliseconds",
    "W602": "apply step without verify",
    "E603": "for_each over a value that is not a list",
    "W604": "model output interpolated into a shell command with | raw",
    "E605": "template value in a shell position where no value can be made safe",
    "E610": 'a best-of-N key on an apply step without candidates = "each"',
    "E611": 'an apply step with candidates = "each" whose source is not a query step',
    "E612": "a best-of-N step that selects the best candidate but has no metric",
    "W701": "environment variable is not set",
    "W801": "a budgeted step may call a backend whose cost cannot be known",
    "W802": "a cached step over a CLI agent declares no inputs",
}


class Location:
    """A point in a file: 1-based line and column. Read-only; equal when all three are.

    `Location.deferred(path, find)` finds its line and column on first use: pointing
    at a TOML key takes a scan of the whole file, which a file without diagnostics
    never needs (checking a 5,000-step workflow asks for some 20,000 locations).
    """

    __slots__ = ("_column", "_find", "_line", "_path")
    __match_args__ = ("path", "line", "column")

    def __init__(self, path: str, line: int, column: int, *, _find: _Finder | None = None) -> None:
        self._path = path
        self._line = line
        self._column = column
        self._find = _find

    @classmethod
    def deferred(cls, path: str, find: _Finder) -> Location:
        """A location whose (line, column) `find()` returns, called once when first needed."""
        return cls(path, 0, 0, _find=find)

    @property
    def path(self) -> str:
        return self._path

    @property
    def line(self) -> int:
        if self._find is not None:
            self._resolve()
        return self._line

    @property
    def column(self) -> int:
        if self._find is not None:
            self._resolve()
        return self._column

    def _resolve(self) -> None:
        assert self._find is not None
        self._line, self._column = self._find()
        self._find = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Location):
            return NotImplemented
        return (self.path, self.line, self.column) == (other.path, other.line, other.column)

    def __hash__(self) -> int:
        return hash((self.path, self.line, self.column))

    def __repr__(self) -> str:
        return f"Location(path={self.path!r}, line={self.line!r}, column={self.column!r})"


_Finder = Callable[[], tuple[int, int]]


class Diagnostic(msgspec.Struct, frozen=True):
    location: Location
    severity: Severity
    code: str
    message: str
    hint: str | None = None

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.path, loc.line, loc.column, self.code, self.message)

    def render(self) -> str:
        loc = self.location
        text = f"{loc.path}:{loc.line}:{loc.column}: {self.severity}: {self.message} [{self.code}]"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "path": loc.path,
            "line": loc.line,
            "column": loc.column,
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class Sink(msgspec.Struct):
    """Collects diagnostics; passes report into it and keep going."""

    items: list[Diagnostic] = msgspec.field(default_factory=list)

    def error(self, code: str, message: str, at: Location, hint: str | None = None) -> None:
        self.report(Diagnostic(at, Severity.ERROR, code, message, hint))

    def warning(self, code: str, message: str, at: Location, hint: str | None = None) -> None:
        self.report(Diagnostic(at, Severity.WARNING, code, message, hint))

    def report(self, diagnostic: Diagnostic) -> None:
        assert diagnostic.code in CODES, diagnostic.code
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for diagnostic in diagnostics:
            self.report(diagnostic)

    @property
    def has_errors(self) -> bool:
        return self.error_count > 0

    @property
    def error_count(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        unique = {(d.sort_key, d.severity, d.hint): d for d in self.items}
        return sorted(unique.values(), key=lambda d: d.sort_key)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a misspelt word, or None when nothing is close."""
    import difflib  # only paid for when something is misspelt

    candidates = sorted(set(choices))
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None

"""Source files and positions: TOML key paths → line:column.

Input: the text of a TOML file that `tomllib` already accepted. Output: locations
for keys, values, table headers and offsets inside string values, so every
diagnostic can point at the exact place to fix.

`tomllib` keeps no positions, so `SourceFile` scans the text itself. The scan is
lazy: it runs the first time a location is asked for, which only happens when a
diagnostic is reported — a clean file never pays for it.
"""

from __future__ import annotations

import bisect
import re

import msgspec

from .diagnostics import Location

__all__ = ["Entry", "KeyPath", "SourceFile"]

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_IGNORE = re.compile(r"#\s*llm-mux:\s*ignore\[([A-Za-z0-9_,\s]+)\]")
_SCALAR_END = re.compile(r"[,\]}\n#\r]")
_ESCAPE_WIDTH = {"u": 6, "U": 10}


class Entry(msgspec.Struct, frozen=True):
    """Where a key path appears: its key, its value, and the end of the value."""

    key: int
    value: int
    end: int


class SourceFile(msgspec.Struct):
    path: str
    text: str
    _lines: list[int] | None = None  # computed on first use
    _entries: dict[KeyPath, Entry] | None = None

    # -- offsets ---------------------------------------------------------------
    def location(self, offset: int) -> Location:
        if self._lines is None:
            self._lines = [0] + [m.end() for m in re.finditer(r"\n", self.text)]
        index = bisect.bisect_right(self._lines, offset) - 1
        return Location(self.path, index + 1, offset - self._lines[index] + 1)

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def ignored_codes(self, line: int) -> frozenset[str]:
        """Codes silenced on this line by `# llm-mux: ignore[CODE, ...]`."""
        match = _IGNORE.search(self.line_text(line))
        if match is None:
            return frozenset()
        return frozenset(c.strip().upper() for c in match.group(1).split(",") if c.strip())

    # -- key paths -------------------------------------------------------------
    @property
    def entries(self) -> dict[KeyPath, Entry]:
        if self._entries is None:
            self._entries = _Scanner(self.text).scan()
        return self._entries

    def nearest(self, path: KeyPath) -> tuple[KeyPath, Entry]:
        """The entry for `path`, or for its longest prefix that has one."""
        for cut in range(len(path), 0, -1):
            entry = self.entries.get(path[:cut])
            if entry is not None:
                return path[:cut], entry
        return (), Entry(0, 0, 0)

    # Locations of key paths are deferred: found (and the file scanned) only when a
    # diagnostic that carries one is rendered or sorted.
    def key(self, path: KeyPath) -> Location:
        """The key of `path` (for a missing key: its table's header)."""
        return Location.deferred(self.path, lambda: self._line_column(self._key_offset(path)))

    def value(self, path: KeyPath) -> Location:
        return Location.deferred(self.path, lambda: self._line_column(self._value_offset(path)))

    def in_string(self, path: KeyPath, content_offset: int) -> Location:
        """The location of character `content_offset` of the string value at `path`."""
        return Location.deferred(
            self.path, lambda: self._line_column(self._string_offset(path, content_offset))
        )

    def _key_offset(self, path: KeyPath) -> int:
        return self.nearest(path)[1].key

    def _value_offset(self, path: KeyPath) -> int:
        found, entry = self.nearest(path)
        return entry.value if found == path else entry.key

    def _string_offset(self, path: KeyPath, content_offset: int) -> int:
        found, entry = self.nearest(path)
        if found != path:
            return entry.key
        return string_offset(self.text, entry.value, content_offset)

    def _line_column(self, offset: int) -> tuple[int, int]:
        found = self.location(offset)
        return found.line, found.column


def string_offset(text: str, start: int, content_offset: int) -> int:
    """Map an offset in a TOML string's decoded content to an offset in `text`.

    `start` is the offset of the string's opening quote. Escapes, the newline
    trimmed after an opening triple quote, and line-ending backslashes are
    accounted for, so references deep inside multi-line prompts land on the
    right line and column.
    """
    quote = text[start]
    if quote not in "\"'":
        return start
    multi = text.startswith(quote * 3, start)
    i = start + (3 if multi else 1)
    if multi and text.startswith("\r\n", i):
        i += 2
    elif multi and text.startswith("\n", i):
        i += 1
    remaining = content_offset
    while remaining > 0 and i < len(text):
        if quote == '"' and text[i] == "\\":
            i, produced = _skip_escape(text, i)
            remaining -= produced
            continue
        # tomllib reads a \r\n inside a multi-line string as one \n.
        i += 2 if multi and text.startswith("\r\n", i) else 1
        remaining -= 1
    return i


def _skip_escape(text: str, i: int) -> tuple[int, int]:
    """Skip one escape in a basic string: (new offset, characters it produced)."""
    kind = text[i + 1] if i + 1 < len(text) else ""
    if kind in _ESCAPE_WIDTH:
        return i + _ESCAPE_WIDTH[kind], 1
    if kind in " \t\r\n":  # line-ending backslash: eats the newline and indentation
        j = i + 1
        while j < len(text) and text[j] in " \t\r\n":
            j += 1
        return j, 0
    return i + 2, 1


class _Scanner:
    """Walks valid TOML text once, recording an `Entry` for every key path.

    Array-of-tables elements and array items get integer path components, so
    `("steps", 2, "run")` is the `run` key of the third `[[steps]]`.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.entries: dict[KeyPath, Entry] = {}
        self.aot_counts: dict[KeyPath, int] = {}
        self.table: KeyPath = ()

    def scan(self) -> dict[KeyPath, Entry]:
        text = self.text
        while self.i < len(text):
            self._skip_blank(newlines=True)
            if self.i >= len(text):
                break
            if text[self.i] == "[":
                self._header()
            else:
                self._key_value(self.table)
            self._skip_line_rest()
        return self.entries

    # -- lexical helpers -------------------------------------------------------
    def _skip_blank(self, newlines: bool) -> None:
        text = self.text
        while self.i < len(text):
            ch = text[self.i]
            if ch in " \t" or (newlines and ch in "\r\n"):
                self.i += 1
            elif ch == "#":
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end
            else:
                return

    def _skip_line_rest(self) -> None:
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end + 1

    def _key(self) -> list[tuple[str, int]]:
        """A dotted key: its parts and where each part starts."""
        parts: list[tuple[str, int]] = []
        while True:
            self._skip_blank(newlines=False)
            start = self.i
            if self.text[self.i] in "\"'":
                value, self.i = _read_string(self.text, self.i)
            else:
                match = _BARE_KEY.match(self.text, self.i)
                assert match is not None, "tomllib accepted this file"
                value, self.i = match.group(), match.end()
            parts.append((value, start))
            self._skip_blank(newlines=False)
            if self.text.startswith(".", self.i):
                self.i += 1
                continue
            return parts

    # -- structure -------------------------------------------------------------
    def _header(self) -> None:
        start = self.i
        is_array = self.text.startswith("[[", self.i)
        self.i += 2 if is_array else 1
        parts = self._key()
        self.i += 2 if is_array else 1
        path = self._resolve([p for p, _ in parts[:-1]])
        path += (parts[-1][0],)
        if is_array:
            index = self.aot_counts.get(path, -1) + 1
            self.aot_counts[path] = index
            self.entries.setdefault(path, Entry(start, start, start))
            path += (index,)
        self.entries[path] = Entry(start, start, self.i)
        self.table = path

    def _resolve(self, names: list[str]) -> KeyPath:
        """Turn header names into a path, entering the latest element of each array."""
        path: KeyPath = ()
        for name in names:
            path += (name,)
            if path in self.aot_counts:
                path += (self.aot_counts[path],)
        return path

    def _key_value(self, table: KeyPath) -> None:
        parts = self._key()
        path = table
        for name, start in parts[:-1]:
            path += (name,)
            self.entries.setdefault(path, Entry(start, start, start))
        path += (parts[-1][0],)
        key_start = parts[-1][1]
        self._skip_blank(newlines=False)
        self.i += 1  # '='
        self._skip_blank(newlines=False)
        value_start = self.i
        self._value(path)
        self.entries[path] = Entry(key_start, value_start, self.i)

    def _value(self, path: KeyPath) -> None:
        ch = self.text[self.i]
        if ch in "\"'":
            _, self.i = _read_string(self.text, self.i)
        elif ch == "[":
            self._array(path)
        elif ch == "{":
            self._inline_table(path)
        else:
            match = _SCALAR_END.search(self.text, self.i)
            end = len(self.text) if match is None else match.start()
            self.i = end
            while self.i > 0 and self.text[self.i - 1] in " \t":
                self.i -= 1

    def _array(self, path: KeyPath) -> None:
        self.i += 1
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self.text[self.i] == "]":
                self.i += 1
                return
            start = self.i
            self._value(path + (index,))
            self.entries[path + (index,)] = Entry(start, start, self.i)
            index += 1
            self._skip_blank(newlines=True)
            if self.text[self.i] == ",":
                self.i += 1

    def _inline_table(self, path: KeyPath) -> None:
        self.i += 1
        while True:
            self._skip_blank(newlines=True)
            if self.text[self.i] == "}":
                self.i += 1
                return
            if self.text[self.i] == ",":
                self.i += 1
                continue
            self._key_value(path)


def _read_string(text: str, i: int) -> tuple[str, int]:
    """Read a TOML string starting at `i`: (its raw body, offset after it)."""
    quote = text[i]
    if text.startswith(quote * 3, i):
        end = text.find(quote * 3, i + 3)
        while end >= 0 and quote == '"' and _escaped(text, end):
            end = text.find(quote * 3, end + 1)
        end += 3
        while text.startswith(quote, end):  # up to two quotes may close the body
            end += 1
        return text[i + 3 : end - 3], end
    j = i + 1
    while text[j] != quote:
        j += 2 if quote == '"' and text[j] == "\\" else 1
    return text[i + 1 : j], j + 1


def _escaped(text: str, i: int) -> bool:
    backslashes = 0
    while i - backslashes - 1 >= 0 and text[i - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1

"""`llm-mux migrate`: files written for the Rust llm-mux, rewritten in our spelling.

Input: TOML text (a workflow when it has `steps`, else a config). Output: the
rewritten text — comments, order and layout kept (tomlkit) — and one note per
change. Rewrites: millisecond timeouts (a workflow's and each step's) into unit
strings (`5000` → `"5s"`); `type = "claude-api"` into `"anthropic"` (with the
default API URL when its command is not one); `api_key_env = "NAME"` into
`api_key = "${NAME}"`; `env` as `[NAME, VALUE]` pairs into a table. Strings and
everything else stay as they are, so migrating twice changes nothing more.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import tomlkit
import tomlkit.exceptions
from tomlkit.items import Item, Table

from .errors import EXIT_FAILED, UsageError

__all__ = ["Migration", "migrate_command", "migrate_text", "milliseconds_text"]

ANTHROPIC_URL = "https://api.anthropic.com"
_UNITS = ((3_600_000, "h"), (60_000, "m"), (1000, "s"))


@dataclass(frozen=True, slots=True)
class Migration:
    text: str
    notes: tuple[str, ...]


def migrate_text(text: str) -> Migration:
    """The text in our spelling, and what changed; raises ValueError if it is not TOML."""
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as error:
        raise ValueError(f"not valid TOML: {error}") from None
    notes: list[str] = []
    if "steps" in document:
        _timeout(document, "timeout", "the workflow", notes)
        steps = document["steps"]
        for index, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, Table | dict):
                label = f"step '{step.get('name', index + 1)}'"
                _timeout(step, "timeout", label, notes)
    backends = document.get("backends")
    if isinstance(backends, Table | dict):
        for name, backend in backends.items():
            if isinstance(backend, Table | dict):
                _backend(backend, f"[backends.{name}]", notes)
    changed = tomlkit.dumps(document) if notes else text
    return Migration(changed, tuple(notes))


def milliseconds_text(value: int) -> str:
    """`5000` → `"5s"`, `90000` → `"90s"`... the largest whole unit, else `"250ms"`."""
    for size, unit in _UNITS:
        if value % size == 0 and value >= size:
            return f"{value // size}{unit}"
    return f"{value}ms"


def _timeout(table: Table | dict[str, object], key: str, label: str, notes: list[str]) -> None:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        return
    new = milliseconds_text(int(value))
    _replace(table, key, tomlkit.string(new))
    note = f'{label}: timeout = {value} (milliseconds) → "{new}"'
    if value < 1000:
        note += f'; that is under a second: if seconds were meant, write "{value}s"'
    notes.append(note)


def _backend(backend: Table | dict[str, object], label: str, notes: list[str]) -> None:
    if backend.get("type") == "claude-api":
        _replace(backend, "type", tomlkit.string("anthropic"))
        notes.append(f'{label}: type = "claude-api" → "anthropic"')
        command = backend.get("command")
        if not isinstance(command, str) or not command.startswith(("http://", "https://")):
            _replace(backend, "command", tomlkit.string(ANTHROPIC_URL))
            notes.append(f'{label}: command → "{ANTHROPIC_URL}" (the API it called)')
    name = backend.get("api_key_env")
    if isinstance(name, str) and "api_key" not in backend:
        _rename(backend, "api_key_env", "api_key", tomlkit.string("${" + name + "}"))
        notes.append(f'{label}: api_key_env = "{name}" → api_key = "${{{name}}}"')
    env = backend.get("env")
    if isinstance(env, list) and env and all(_is_pair(pair) for pair in env):
        table = tomlkit.inline_table()
        table.update({str(pair[0]): str(pair[1]) for pair in env})
        _replace(backend, "env", table)
        notes.append(f"{label}: env pairs → a table")


def _is_pair(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)


def _replace(table: Table | dict[str, object], key: str, new: Item) -> None:
    """Set `key` to `new`, keeping the old value's comment and spacing."""
    old = table.get(key)
    if isinstance(old, Item):
        _copy_trivia(old, new)
    table[key] = new


def _copy_trivia(old: Item, new: Item) -> None:
    new.trivia.indent = old.trivia.indent
    new.trivia.comment_ws = old.trivia.comment_ws
    new.trivia.comment = old.trivia.comment
    new.trivia.trail = old.trivia.trail


def _rename(table: Table | dict[str, object], old: str, new: str, value: Item) -> None:
    """Replace key `old` by `new` on the same line, with `value` (its comment kept)."""
    current = table.get(old)
    if isinstance(table, Table) and isinstance(current, Item):
        _copy_trivia(current, value)
        table.value._replace(old, new, value)  # tomlkit's own in-place rename
    else:
        del table[old]
        table[new] = value


def migrate_command(paths: Sequence[Path], *, diff: bool) -> int:
    """Migrate each file in place (or, with `diff`, print the change); 1 if one failed."""
    if not paths:
        raise UsageError("migrate: name the files to migrate", hint="llm-mux migrate FILE…")
    failed = False
    for path in paths:
        try:
            _migrate_file(path, diff=diff)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            click.echo(f"llm-mux: error: {path}: {_reason(error)}", err=True)
            failed = True
    return EXIT_FAILED if failed else 0


def _migrate_file(path: Path, *, diff: bool) -> None:
    text = path.read_text(encoding="utf-8")
    migration = migrate_text(text)
    if not migration.notes:
        click.echo(f"{path}: nothing to migrate", err=diff)
        return
    if diff:
        lines = difflib.unified_diff(
            text.splitlines(keepends=True),
            migration.text.splitlines(keepends=True),
            fromfile=f"{path}",
            tofile=f"{path} (migrated)",
        )
        click.echo("".join(lines), nl=False)
        return
    _write_atomically(path, migration.text)
    click.echo(f"{path}: migrated ({len(migration.notes)} changes)")
    for note in migration.notes:
        click.echo(f"  {note}")


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` whole or not at all, keeping its permissions."""
    mode = path.stat().st_mode & 0o7777
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(error)

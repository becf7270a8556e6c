"""Decode pass: raw TOML tables → surface schema structs.

Input: the dict `tomllib` produced, its `SourceFile`, the target Struct type.
Output: the typed Struct (or None) and, in the sink, one diagnostic per unknown
key (with a suggestion), wrong type and missing required key.

msgspec stops at the first problem, so the walk below checks the whole tree
against the Struct declarations first, collecting everything, and only then
asks msgspec to convert a tree it knows is valid.
"""

from __future__ import annotations

import datetime
import functools
import types
from collections.abc import Callable, Mapping
from typing import Annotated, Literal, TypeVar, Union, get_args, get_origin

import msgspec
import msgspec.structs

from ..diagnostics import Location, Sink, did_you_mean
from ..schema import STEP_TYPES, Backend, Role, Step, Workflow
from ..source import KeyPath

__all__ = ["Locate", "check_tree", "convert", "describe_path"]

T = TypeVar("T")

# Where a key path lives in the files: (path, want the key rather than the value).
Locate = Callable[[KeyPath, bool], Location]

# Workflow tables that overlay the configuration: partial, checked key by key.
_OVERLAYS: dict[str, type[msgspec.Struct]] = {"backends": Backend, "roles": Role}
_STEP_UNION: object = Step


def check_tree(
    raw: Mapping[str, object],
    cls: type[msgspec.Struct],
    locate: Locate,
    sink: Sink,
    *,
    partial: bool = False,
) -> bool:
    """Check `raw` against `cls`; report every problem; True when there were none."""
    before = len(sink)
    _Walker(locate, sink, partial, raw).table(raw, cls, ())
    return len(sink) == before


def convert(raw: Mapping[str, object], cls: type[T], locate: Locate, sink: Sink) -> T | None:
    """msgspec conversion of an already-checked tree; a failure is still a diagnostic."""
    try:
        return msgspec.convert(raw, cls)
    except msgspec.ValidationError as error:  # the walk should have caught it
        sink.error("E102", str(error), locate((), True))
        return None


def describe_path(path: KeyPath, root: Mapping[str, object]) -> str:
    """A human name for the table at `path`: "step 'fetch'", "[backends.claude]"."""
    if not path:
        return "the top level"
    if path[0] == "steps" and len(path) >= 2 and isinstance(path[1], int):
        steps = root.get("steps")
        name = None
        if isinstance(steps, list) and path[1] < len(steps) and isinstance(steps[path[1]], dict):
            name = steps[path[1]].get("name")
        label = f"step '{name}'" if isinstance(name, str) else f"step #{path[1] + 1}"
        rest = ".".join(str(p) for p in path[2:])
        return f"{label} ({rest})" if rest else label
    return "[" + ".".join(str(p) for p in path) + "]"


class _Walker:
    def __init__(self, locate: Locate, sink: Sink, partial: bool, root: Mapping[str, object]):
        self.locate = locate
        self.sink = sink
        self.partial = partial
        self.root = root

    # -- tables ----------------------------------------------------------------
    def table(self, raw: Mapping[str, object], cls: type[msgspec.Struct], path: KeyPath) -> None:
        fields = _fields(cls)
        tag_field = cls.__struct_config__.tag_field
        for key, value in raw.items():
            if key == tag_field:
                continue
            if key not in fields:
                self.unknown_key(key, fields, cls.__struct_config__.tag, path)
            elif cls is Workflow and key in _OVERLAYS:
                self.overlays(value, _OVERLAYS[key], path + (key,))
            else:
                self.value(value, fields[key].type, path + (key,))
        if not self.partial:
            for name, info in fields.items():
                if info.required and name not in raw:
                    where = describe_path(path, self.root)
                    self.sink.error(
                        "E103",
                        f"{where} is missing the required key '{name}'",
                        self.locate(path, True),
                        hint=_MISSING_HINTS.get(name),
                    )

    def overlays(self, value: object, cls: type[msgspec.Struct], path: KeyPath) -> None:
        if not isinstance(value, dict):
            self.wrong_type(value, "a table", path)
            return
        for name, table in value.items():
            if not isinstance(table, dict):
                self.wrong_type(table, "a table", path + (name,))
            else:
                _Walker(self.locate, self.sink, True, self.root).table(table, cls, path + (name,))

    def step(self, raw: object, path: KeyPath) -> None:
        if not isinstance(raw, dict):
            self.wrong_type(raw, "a table", path)
            return
        kind = raw.get("type")
        if kind is None:
            hint = _guess_step_type(raw)
            self.sink.error(
                "E103",
                f"{describe_path(path, self.root)} is missing the required key 'type'",
                self.locate(path, True),
                hint=f'it has {hint[1]!r}, so add type = "{hint[0]}"' if hint else _STEP_TYPE_LIST,
            )
            self.untyped_step(raw, path)
            return
        if not isinstance(kind, str) or kind not in STEP_TYPES:
            suggestion = did_you_mean(str(kind), STEP_TYPES) if isinstance(kind, str) else None
            where = describe_path(path, self.root)
            self.sink.error(
                "E104",
                f"{where} has type {_show(kind)}, which is not a step type",
                self.locate(path + ("type",), False),
                hint=f"did you mean '{suggestion}'?" if suggestion else _STEP_TYPE_LIST,
            )
            self.untyped_step(raw, path)
            return
        self.table(raw, STEP_TYPES[kind], path)

    def untyped_step(self, raw: Mapping[str, object], path: KeyPath) -> None:
        """A step whose type is missing or wrong: still report what does not depend on
        it — keys no step type has, and bad values of keys every step type shares."""
        shared, known = _step_keys()
        for key, value in raw.items():
            if key in shared:
                self.value(value, shared[key].type, path + (key,))
            elif key not in known and key != "type":
                self.unknown_key(key, known, None, path)

    def unknown_key(
        self,
        key: str,
        fields: Mapping[str, object],
        this: object,
        path: KeyPath,
    ) -> None:
        """`this`: the step type when the table is a step of a known type."""
        where = describe_path(path, self.root)
        hint = None
        suggestion = did_you_mean(key, fields)
        owners = [t for t, c in STEP_TYPES.items() if key in _field_names(c)]
        if suggestion:
            hint = f"did you mean '{suggestion}'?"
        elif owners and isinstance(this, str) and this in STEP_TYPES:
            hint = f"'{key}' belongs to {_either(owners, 'and')} steps, and this is a {this} step"
        self.sink.error(
            "E101", f"unknown key '{key}' in {where}", self.locate(path + (key,), True), hint
        )

    # -- values ----------------------------------------------------------------
    def value(self, value: object, tp: object, path: KeyPath) -> None:
        kind, args = _shape(tp)
        if kind == "any":
            return
        if kind == "step":
            self.step(value, path)
        elif kind == "struct":
            if isinstance(value, dict):
                self.table(value, tp, path)  # type: ignore[arg-type]
            else:
                self.wrong_type(value, "a table", path)
        elif kind == "union":
            self.union(value, args, path)
        elif kind == "literal":
            self.literal(value, args, path)
        elif kind == "list":
            self.list(value, args[0], path)
        elif kind == "dict":
            self.dict(value, args[1], path)
        elif not _kind_matches(value, tp):
            self.wrong_type(value, describe_type(tp), path)

    def union(self, value: object, members: tuple[object, ...], path: KeyPath) -> None:
        for member in members:
            if member is not type(None) and _kind_matches(value, member):
                self.value(value, member, path)
                return
        self.wrong_type(value, describe_type(Union[members]), path)  # noqa: UP007

    def literal(self, value: object, choices: tuple[object, ...], path: KeyPath) -> None:
        if value in choices and type(value) in {type(c) for c in choices}:
            return
        shown = ", ".join(_show(c) for c in choices)
        suggestion = (
            did_you_mean(value, [str(c) for c in choices]) if isinstance(value, str) else None
        )
        self.sink.error(
            "E104",
            f"'{path[-1]}' in {describe_path(path[:-1], self.root)} must be one of {shown}, "
            f"not {_show(value)}",
            self.locate(path, False),
            hint=f"did you mean '{suggestion}'?" if suggestion else None,
        )

    def list(self, value: object, item: object, path: KeyPath) -> None:
        if not isinstance(value, list):
            self.wrong_type(value, describe_type(list[item]), path)  # type: ignore[valid-type]
            return
        for index, element in enumerate(value):
            self.value(element, item, path + (index,))

    def dict(self, value: object, item: object, path: KeyPath) -> None:
        if not isinstance(value, dict):
            self.wrong_type(value, "a table", path)
            return
        for key, element in value.items():
            self.value(element, item, path + (key,))

    def wrong_type(self, value: object, expected: str, path: KeyPath) -> None:
        key = next((p for p in reversed(path) if isinstance(p, str)), "value")
        owner = path[: path.index(key)] if key in path else path
        self.sink.error(
            "E102",
            f"'{key}' in {describe_path(owner, self.root)} must be {expected}, "
            f"not {describe_value(value)}",
            self.locate(path, False),
        )


# What to write for a missing required key, where one line says it.
_MISSING_HINTS = {
    "steps": "add a [[steps]] table",
    "name": 'add name = "…": letters, digits, _ or -',
    "run": 'add run = "<shell command>"',
    "prompt": 'add prompt = """…"""',
    "source": 'add source = "steps.NAME", the step whose output holds the edits',
    "command": 'add command = "<executable>", or the http(s) URL of an API',
    "backends": 'add backends = ["…"], names from [backends.*]',
    "path": 'add path = "~/…", where the project lives',
}
_STEP_TYPE_LIST = "step types are: " + ", ".join(STEP_TYPES)
_TELLTALE_KEYS = {
    "run": "shell",
    "source": "apply",
    "role": "query",
    "backend": "query",
    "input": "store",
    "options": "input",
}


def _guess_step_type(raw: Mapping[str, object]) -> tuple[str, str] | None:
    for key, kind in _TELLTALE_KEYS.items():
        if key in raw:
            return kind, key
    if "prompt" in raw:
        return "query", "prompt"
    return None


@functools.cache
def _fields(cls: type[msgspec.Struct]) -> dict[str, msgspec.structs.FieldInfo]:
    """A struct's fields by TOML name, their types without the `Annotated` descriptions;
    cached, as msgspec re-reads annotations each call."""
    return {f.encode_name: _bare(f) for f in msgspec.structs.fields(cls)}


def _bare(field: msgspec.structs.FieldInfo) -> msgspec.structs.FieldInfo:
    if get_origin(field.type) is not Annotated:
        return field
    return msgspec.structs.replace(field, type=get_args(field.type)[0])


@functools.cache
def _step_keys() -> tuple[dict[str, msgspec.structs.FieldInfo], dict[str, object]]:
    """The keys every step type has (with their fields), and the keys any step type has."""
    tables = [_fields(cls) for cls in STEP_TYPES.values()]
    shared = {name: info for name, info in tables[0].items() if all(name in t for t in tables)}
    known: dict[str, object] = {name: None for table in tables for name in table}
    return shared, known


def _field_names(cls: type[msgspec.Struct]) -> set[str]:
    return set(_fields(cls))


@functools.cache
def _shape(tp: object) -> tuple[str, tuple[object, ...]]:
    """What kind of type `tp` is, and its arguments; cached, as typing's introspection
    is slow and the walk asks for every value of the tree."""
    if tp is object:
        return "any", ()
    if tp == _STEP_UNION:
        return "step", ()
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return "struct", ()
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return "union", get_args(tp)
    if origin is Literal:
        return "literal", get_args(tp)
    if origin is list:
        return "list", get_args(tp)
    if origin is dict:
        return "dict", get_args(tp)
    return "plain", ()


@functools.cache
def _origin(tp: object) -> object:
    return get_origin(tp) or tp


def _kind_matches(value: object, tp: object) -> bool:
    """Shallow check: is `value` the kind of thing `tp` holds (str, list, table…)?"""
    origin = _origin(tp)
    if origin in (Union, types.UnionType):
        return any(_kind_matches(value, m) for m in get_args(tp))
    if origin is Literal:
        return any(type(value) is type(c) for c in get_args(tp))
    if isinstance(origin, type) and issubclass(origin, msgspec.Struct):
        return isinstance(value, dict)
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is str:
        return isinstance(value, str)
    return isinstance(origin, type) and isinstance(value, origin)


# Each type's name alone and in a list: "a string" / "strings".
_TYPE_NAMES: dict[object, tuple[str, str]] = {
    str: ("a string", "strings"),
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    bool: ("a boolean", "booleans"),
    object: ("any value", "values"),
}


def describe_type(tp: object) -> str:
    """What a key holds, for messages: "a number or a string", "a list of strings"."""
    names = _kinds(tp, plural=False)
    return "true or false" if names == ["a boolean"] else _either(names)


def _kinds(tp: object, *, plural: bool) -> list[str]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(tp) if m is not type(None)]
        names = list(dict.fromkeys(n for m in members for n in _kinds(m, plural=plural)))
        integer, number = _TYPE_NAMES[int][plural], _TYPE_NAMES[float][plural]
        # Every integer is a number: "an integer or a number" says "a number" twice.
        return [n for n in names if n != integer] if number in names else names
    if origin is Literal:
        return ["one of " + ", ".join(_show(c) for c in get_args(tp))]
    if origin is list:
        inner = _either(_kinds(get_args(tp)[0], plural=True))
        return [("lists of " if plural else "a list of ") + inner]
    if origin is dict or (isinstance(tp, type) and issubclass(tp, msgspec.Struct)):
        return ["tables" if plural else "a table"]
    name = getattr(tp, "__name__", str(tp))
    return [_TYPE_NAMES.get(tp, (name, name))[plural]]


def _either(names: list[str], conjunction: str = "or") -> str:
    """["a", "b", "c"] → "a, b or c"."""
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def describe_value(value: object) -> str:
    match value:
        case bool():
            return f"the boolean {str(value).lower()}"
        case int() | float():
            return f"the number {value}"
        case str():
            return f"the string {_show(value)}"
        case list():
            return "a list"
        case dict():
            return "a table"
        case datetime.date() | datetime.time():
            return f"the date/time {value.isoformat()}"
    return type(value).__name__


def _show(value: object) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:39] + "…"
        return f"'{text}'"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)

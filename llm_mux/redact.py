"""Keeping secrets out of everything llm-mux writes: a text filter built from the environment.

Input: the run's environment and its backends. Output: a `Redactor` that
replaces, in any text, the value of every environment variable whose name looks
secret (`*_KEY`, `*_TOKEN`, `*SECRET*`, `*PASSWORD*`, any case) and of every
variable a backend's `api_key` or `headers` refer to (`${VAR}`), plus api keys
written literally in a config, by `[redacted:NAME]`.

How it is applied (docs/security.md): on values, before anything encodes, quotes or cuts
them — `value()` for documents about to become JSON, `cut()` for text about to be
shortened — and, as a second net, the filter also knows each secret's escaped forms (in
JSON, in a Python repr, shell-quoted), so text encoded elsewhere is caught too.

Placeholders are not secrets: a value shorter than `MIN_SECRET` characters, or made
only of lower-case words (`ollama`, `dummy`, `none`, `not-needed`, `sk-no-key-required`,
as tools' documentation tells users to set), is left alone in free text. Replacing it
would corrupt answers ("Run ollama pull llama3.2" is not a leak) and protects nothing.
A real key has digits or capitals; see `is_placeholder`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping

from llm_mux.compiler.envvars import env_references
from llm_mux.compiler.plan import BackendSpec

__all__ = ["MIN_SECRET", "Redactor", "is_placeholder", "looks_secret"]

MIN_SECRET = 8
_SECRET_NAME = re.compile(r"(_KEY|_TOKEN)$|SECRET|PASSWORD", re.IGNORECASE)
_WORDS = re.compile(r"[a-z]+(?:[-_. ][a-z]+)*")


def looks_secret(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def is_placeholder(value: str) -> bool:
    """Whether `value` is a stand-in rather than a secret: short, or lower-case words only."""
    return len(value) < MIN_SECRET or _WORDS.fullmatch(value) is not None


class Redactor:
    """`redactor(text)`: the text with every known secret value replaced."""

    __slots__ = ("_longest", "_pairs")

    def __init__(self, secrets: Mapping[str, str]) -> None:
        values: dict[str, str] = {}
        for name, value in secrets.items():
            if not is_placeholder(value):
                values.update({form: name for form in _forms(value) if form not in values})
        # Longest first, so a secret that contains another is replaced whole.
        self._pairs = sorted(values.items(), key=lambda pair: -len(pair[0]))
        self._longest = max((len(value) for value in values), default=0)

    @classmethod
    def for_run(cls, env: Mapping[str, str], backends: Iterable[BackendSpec]) -> Redactor:
        secrets = {name: value for name, value in env.items() if looks_secret(name)}
        for spec in backends:
            # Header values (and secret-named CLI `env` values) are secret when they come
            # from a variable (a literal "application/json" is not); an api key always is.
            passed = (v for k, v in spec.env if looks_secret(k))  # a CLI's FOO_API_KEY
            for text in (spec.api_key or "", *(v for _, v in spec.headers), *passed):
                secrets.update(_referenced(text, env))
            if spec.api_key and not env_references(spec.api_key):
                secrets[f"backends.{spec.name}.api_key"] = spec.api_key
        return cls(secrets)

    def __call__(self, text: str) -> str:
        for value, name in self._pairs:
            # str.replace returns the same string when there is nothing to replace,
            # so a large output without secrets is not copied.
            text = text.replace(value, f"[redacted:{name}]")
        return text

    def value(self, value: object) -> object:
        """`value` with every text in it redacted (mapping keys too): before it is encoded."""
        if not self._pairs:
            return value
        match value:
            case str():
                return self(value)
            case Mapping():
                return {self.value(k): self.value(v) for k, v in value.items()}
            case list() | tuple():
                return [self.value(item) for item in value]
            case _:
                return value

    def cut(self, text: str, limit: int, *, keep_end: bool = False) -> str:
        """At most `limit` characters of `text`, redacted first, so no secret is cut in two.

        The cut is marked with "…" (at the end, or at the start with `keep_end`).  Only a
        window the length of the longest secret past the cut is read, so a long text is
        not redacted whole.
        """
        window = limit + self._longest
        if len(text) > window:
            text = text[-window:] if keep_end else text[:window]
        text = self(text)
        if len(text) <= limit:
            return text
        kept = limit - 1
        return "…" + text[len(text) - kept :] if keep_end else text[:kept] + "…"


def _forms(value: str) -> set[str]:
    """The secret as written and as JSON, a Python repr and the shell would escape it."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        shlex.quote(value),
        value.replace("'", "'\\''"),
        re.sub(r'([\\$`"])', r"\\\1", value),
    }


def _referenced(text: str, env: Mapping[str, str]) -> dict[str, str]:
    return {name: env[name] for name, _ in env_references(text) if name in env}

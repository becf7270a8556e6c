"""The official SARIF 2.1.0 JSON Schema (vendored in tests/support/sarif/, see its
README for source and licence), and a check every SARIF document in the tests passes."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json"


@functools.cache
def _validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def sarif_errors(document: object) -> list[str]:
    """Every way `document` breaks the SARIF 2.1.0 schema (empty: it is valid SARIF)."""
    errors = _validator().iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]

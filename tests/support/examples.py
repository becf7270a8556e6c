"""The example files the schema and validate tests share, and what each is meant to break."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
# Every file that must be valid: examples/, examples/workflows/ and the built-in workflows.
VALID = sorted(
    [*EXAMPLES.glob("*.toml"), *EXAMPLES.glob("workflows/*.toml")]
    + [*(REPO / "llm_mux" / "workflows").glob("*.toml")]
)
INVALID = sorted((EXAMPLES / "invalid").glob("*.toml"))
_SCHEMA_CODES = re.compile(r"^# expect: E10[1-4] ", re.MULTILINE)


def schema_error_expected(path: Path) -> bool:
    """Does the file say (in its `# expect:` lines) that it breaks the schema: an unknown
    key, a wrong type, a missing key or a value not allowed (E101–E104)?"""
    return _SCHEMA_CODES.search(path.read_text(encoding="utf-8")) is not None

"""SARIF 2.1.0 (the OASIS Static Analysis Results Interchange Format) for code scanning.

Input: a tool's name and version, its rules, and results pointing at regions of files.
Output: one SARIF log with one run, as a JSON-ready dict. Columns count Unicode code
points (`columnKind`), as llm-mux's own `line:col` do. A path becomes a relative URI
reference (percent-encoded, forward slashes), or a `file:` URI when it is absolute.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Literal
from urllib.parse import quote

import msgspec

__all__ = ["SARIF_SCHEMA", "SarifResult", "SarifRule", "file_uri", "sarif_log"]

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
Level = Literal["error", "warning", "note"]


class SarifRule(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    short: str  # one line: what the rule finds
    help_text: str
    help_markdown: str
    level: Level


class SarifResult(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: str
    level: Level
    message: str
    path: str
    line: int
    column: int | None = None
    end_line: int | None = None
    properties: dict[str, object] = {}
    fingerprint: str | None = None


def sarif_log(
    tool: str, version: str, rules: Sequence[SarifRule], results: Sequence[SarifResult]
) -> dict[str, object]:
    index = {rule.id: number for number, rule in enumerate(rules)}
    driver = {"name": tool, "version": version, "semanticVersion": version}
    driver["rules"] = [_rule(rule) for rule in rules]  # type: ignore[assignment]
    run = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "results": [_result(result, index[result.rule_id]) for result in results],
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(rule: SarifRule) -> dict[str, object]:
    return {
        "id": rule.id,
        "shortDescription": {"text": rule.short},
        "help": {"text": rule.help_text, "markdown": rule.help_markdown},
        "defaultConfiguration": {"level": rule.level},
    }


def _result(result: SarifResult, rule_index: int) -> dict[str, object]:
    region: dict[str, int] = {"startLine": max(result.line, 1)}
    if result.column is not None:
        region["startColumn"] = max(result.column, 1)
    if result.end_line is not None and result.end_line >= region["startLine"]:
        region["endLine"] = result.end_line
    location = {"artifactLocation": {"uri": file_uri(result.path)}, "region": region}
    out: dict[str, object] = {
        "ruleId": result.rule_id,
        "ruleIndex": rule_index,
        "level": result.level,
        "message": {"text": result.message},
        "locations": [{"physicalLocation": location}],
    }
    if result.fingerprint is not None:
        # Code scanning matches a result across runs by it (lines move as code changes).
        out["partialFingerprints"] = {"llmMuxFinding/v1": result.fingerprint}
    if result.properties:
        out["properties"] = result.properties
    return out


def file_uri(path: str) -> str:
    """A path as a URI reference: relative stays relative, absolute becomes file:///…"""
    pure = PurePath(path)
    if pure.is_absolute():
        return "file://" + quote(pure.as_posix())
    return quote(pure.as_posix())

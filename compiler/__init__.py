"""llm-mux's compiler: workflow TOML in, a frozen `Plan` or diagnostics out.

Pure: no file reads (callers pass `SourceFile`s), no environment (callers pass
a mapping), no subprocess, no network, no asyncio, and no import from the rest
of `llm_mux`. `pipeline` runs the passes in order; `plan` is the IR.
"""

from __future__ import annotations

from .diagnostics import CODES, Diagnostic, Location, Severity, Sink
from .source import SourceFile

__all__ = ["CODES", "Diagnostic", "Location", "Severity", "Sink", "SourceFile"]

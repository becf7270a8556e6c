"""The results table: printed, and written into docs/performance.md between marker comments."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from .harness import Figure

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    python = f"{platform.python_implementation()} {platform.python_version()}"
    system = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu})"
    return f"{system}, {python}, load average {load} at start"


def _number(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}"


def table(figures: Sequence[Figure]) -> str:
    rows = [
        "| figure | measured | baseline (same run) | ratio | goal | met |",
        "|---|---:|---|---:|---|:-:|",
    ]
    for f in figures:
        rows.append(
            f"| {f.name} | {_number(f.value, f.unit)} | {f.baseline_name}: "
            f"{_number(f.baseline, f.unit)} | {f.ratio:.2f}× | {f.goal} | "
            f"{'yes' if f.ok else '**no**'} |"
        )
    return "\n".join(rows)


def notes(figures: Sequence[Figure]) -> str:
    lines = [f"- {f.name}: {note}" for f in figures for note in f.notes]
    return "\n".join(lines)


def document(figures: Sequence[Figure], machine_line: str, command: str) -> str:
    parts = [
        f"Measured on: {machine_line}.",
        f"Command: `{command}` (medians of several runs, each interleaved with its baseline).",
        "",
        table(figures),
    ]
    extra = notes(figures)
    if extra:
        parts += ["", extra]
    return "\n".join(parts)


def write_table(page: Path, text: str) -> None:
    content = page.read_text(encoding="utf-8")
    start, end = content.find(START), content.find(END)
    if start < 0 or end < start:
        sys.exit(f"{page}: no {START} … {END} markers to write between")
    updated = content[: start + len(START)] + "\n" + text + "\n" + content[end:]
    page.write_text(updated, encoding="utf-8")

"""`llm-mux validate examples/` from a cold interpreter, and what it imports.

Baselines, measured in the same run: a bare `python -c pass`, and the import of the
compiler's own dependencies (`import jinja2, lark, networkx, msgspec, click`), the SPEC's
yardstick. Goal: median ≤ 250 ms and ≤ 1.2× the import baseline; nothing imported that
validate does not need (no httpx, rich, asyncio machinery, networkx or sqlite3).
"""

from __future__ import annotations

import json

from .harness import LLM_MUX, PYTHON, REPO, Figure, interleave, median, run, sandbox

DEPENDENCIES = "import jinja2, lark, networkx, msgspec, click"
FORBIDDEN = ("httpx", "httpcore", "anyio", "rich", "asyncio", "networkx", "sqlite3", "_sqlite3")

# Prints, as JSON, the modules loaded after importing the dependencies or after validate.
_MODULES_AFTER_IMPORTS = f"import sys, json\n{DEPENDENCIES}\nprint(json.dumps(sorted(sys.modules)))"
_MODULES_AFTER_VALIDATE = """
import io, json, sys
real, sys.stdout = sys.stdout, io.StringIO()
from llm_mux.cli import main
try:
    main(["validate", "examples/"])
except SystemExit:
    pass
real.write(json.dumps(sorted(sys.modules)))
"""


def bench_validate(runs: int) -> list[Figure]:
    with sandbox() as (_, env):

        def timed(argv: list[str]) -> float:
            done = run(argv, env=env)
            if done.code != 0:
                raise RuntimeError(f"{argv} exited {done.code}: {done.stderr}")
            return done.seconds * 1000

        times = interleave(
            runs,
            bare=lambda: timed([PYTHON, "-c", "pass"]),
            imports=lambda: timed([PYTHON, "-c", DEPENDENCIES]),
            validate=lambda: timed([*LLM_MUX, "validate", "examples/"]),
        )
        extra, forbidden = extra_modules(env)
    bare, imports, validate = (median(times[k]) for k in ("bare", "imports", "validate"))
    others = sorted(m for m in extra if not m.startswith("llm_mux"))
    notes = (
        f"modules beyond the import baseline: {len(extra)} "
        f"({sum(m.startswith('llm_mux') for m in extra)} of llm_mux, {len(others)} others)",
        "others: " + (", ".join(others) or "none"),
        "forbidden modules loaded: " + (", ".join(forbidden) or "none"),
    )
    return [
        Figure(
            "validate examples/ cold start",
            validate,
            bare,
            "python -c pass",
            "ms",
            "≤ 250 ms",
            validate <= 250,
        ),
        Figure(
            "validate examples/ cold start",
            validate,
            imports,
            "python -c 'import jinja2, lark, networkx, msgspec, click'",
            "ms",
            "≤ 1.2× and no heavy imports",
            validate <= 1.2 * imports and not forbidden,
            notes,
        ),
    ]


def extra_modules(env: dict[str, str]) -> tuple[list[str], list[str]]:
    """Modules validate loads that the import baseline does not; the forbidden ones among all."""
    baseline = json.loads(run([PYTHON, "-c", _MODULES_AFTER_IMPORTS], env=env).stdout)
    done = run([PYTHON, "-c", _MODULES_AFTER_VALIDATE], env=env, cwd=REPO)
    loaded = json.loads(done.stdout)
    extra = sorted(set(loaded) - set(baseline))
    forbidden = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    return extra, forbidden

"""HTTP backends against the real test server on 127.0.0.1 (`support.openai_server`).

- parallel: one query step over a role of 8 backends, each answering in 300 ms; all 8
  must succeed. Goal: the step's `duration_ms` ≤ 1.15 × 300 ms.
- the bare `httpx.AsyncClient` loop with a semaphore of 64, in a child process like
  llm-mux: the baseline of the for_each query benchmark (`for_each.py`). It keeps
  all 64 connections alive, as llm-mux's client does: with httpx's default of 20
  kept alive, 44 of every 64 calls opened a new connection, and the baseline
  measured the server's connection set-up rather than a client loop.

The server runs in this process (one thread per connection); llm-mux and the baseline
each run in their own child process, so neither shares a GIL with the server.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.openai_server import ModelServer, Reply

from .harness import LLM_MUX, Figure, median, run, sandbox

BACKENDS = 8
LATENCY = 0.3

BARE_LOOP = """
import asyncio, sys, time
import httpx

async def main(url: str, items: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                message = {"role": "user", "content": f"question {i}"}
                body = {"model": "local", "messages": [message]}
                response = await client.post(url + "/chat/completions", json=body)
                response.raise_for_status()
                response.json()["choices"][0]["message"]["content"]

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(items)))
        return time.perf_counter() - started

print(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
"""


def backend_config(name: str, url: str) -> str:
    return f'[backends.{name}]\ncommand = "{url}"\nmodel = "{name}"\ntimeout = 30\n\n'


def parallel_workflow(url: str) -> str:
    names = [f"b{i}" for i in range(1, BACKENDS + 1)]
    return (
        'name = "fan-out"\n\n'
        + "".join(backend_config(name, url) for name in names)
        + f'[roles.fan]\nbackends = {json.dumps(names)}\nexecution = "parallel"\n'
        + f"min_success = {BACKENDS}\n\n"
        + '[[steps]]\nname = "ask"\ntype = "query"\nrole = "fan"\nprompt = "Review this."\n'
    )


def _run_step(root: Path, env: dict[str, str], workflow: Path, step: str) -> float:
    """Run the workflow; the named step's `duration_ms` (the run must succeed)."""
    done = run([*LLM_MUX, "--output", "json", "run", str(workflow)], cwd=root, env=env)
    document = json.loads(done.stdout or "{}")
    if done.code != 0 or not document.get("success"):
        raise RuntimeError(f"{workflow.name} failed ({done.code}): {done.stderr or done.stdout}")
    return float(document["steps"][step]["duration_ms"])


def bench_parallel(runs: int) -> list[Figure]:
    with sandbox() as (root, env), ModelServer() as server:
        server.default = Reply("ok", latency=LATENCY)
        workflow = root / "parallel.toml"
        workflow.write_text(parallel_workflow(server.url), encoding="utf-8")
        durations = [_run_step(root, env, workflow, "ask") for _ in range(runs)]
    value = median(durations)
    limit = 1.15 * LATENCY * 1000
    return [
        Figure(
            f"parallel step over {BACKENDS} HTTP backends",
            value,
            LATENCY * 1000,
            "one backend's answer time",
            "ms",
            "≤ 1.15×",
            value <= limit,
            (f"all runs (ms): {', '.join(f'{d:.0f}' for d in durations)}",),
        )
    ]

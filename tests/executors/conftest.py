"""A LocalCluster of two worker processes on 127.0.0.1, shared by this folder's tests.

The workers start in a directory of their own (not the project's), find the
fake agents of `AGENTS` on their PATH and keep their snapshot cache in a
temporary directory. Tests run `llm-mux` as a subprocess, as a user would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cluster import Cluster, start_local_cluster

AGENT = """#!/usr/bin/env python3
# A fake CLI agent: answers "<name>: <prompt>"; with a URL in $COUNT_URL it first
# holds one request open at that server (which counts calls in flight).
import os, sys, urllib.request
url = os.environ.get("COUNT_URL")
if url:
    urllib.request.urlopen(url, timeout=30).read()
print(os.path.basename(sys.argv[0]) + ": " + sys.argv[-1])
"""

CODER = """#!/bin/sh
# A fake coder: answers with a diff that fixes greeting.txt.
cat <<'DIFF'
--- a/greeting.txt
+++ b/greeting.txt
@@ -1 +1 @@
-hello
+hello world
DIFF
"""


def write_agents(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("agent-a", AGENT), ("agent-b", AGENT), ("coder", CODER)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(0o755)
    return bin_dir


def worker_env(bin_dir: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_MUX")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["LLM_MUX_WORKER_CACHE"] = str(cache)
    return env


@pytest.fixture(scope="session")
def agents_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_agents(tmp_path_factory.mktemp("agents") / "bin")


@pytest.fixture(scope="module")  # stopped with its module: no child outlives the folder
def cluster(tmp_path_factory: pytest.TempPathFactory, agents_bin: Path) -> Iterator[Cluster]:
    elsewhere = tmp_path_factory.mktemp("workers-cwd")
    cache = tmp_path_factory.mktemp("worker-cache")
    started = start_local_cluster(2, 2, cwd=elsewhere, env=worker_env(agents_bin, cache))
    yield started
    started.stop()

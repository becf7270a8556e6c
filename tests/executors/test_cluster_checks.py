"""What is checked before a cluster run starts, and where backends' calls go:
workers with another llm-mux are refused, resources steer a backend's calls,
and `doctor --executor` lists the workers and where each backend can run.

These tests start their own scheduler and `dask worker` processes (the commands
a user starts on each host), so each worker can have an environment of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cluster import Cluster, start_scheduler, start_worker, wait_for_workers
from support.cluster_projects import environment, placements, project, run_workflow
from support.subprocesses import mux

from .conftest import worker_env

pytestmark = pytest.mark.cluster


def fake_version(directory: Path, version: str) -> Path:
    """A directory that, first on a worker's sys.path, makes it report another llm-mux."""
    info = directory / f"llm_mux-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: llm-mux\nVersion: {version}\n")
    return directory


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[Cluster]:
    started = start_scheduler(cwd=tmp_path, env=dict(os.environ))
    yield started
    started.stop()


def test_workers_running_another_llm_mux_are_refused_before_anything_runs(
    tmp_path: Path, agents_bin: Path, scheduler: Cluster
) -> None:
    env = worker_env(agents_bin, tmp_path / "cache")
    env["PYTHONPATH"] = str(fake_version(tmp_path / "old", "0.0.1"))
    start_worker(scheduler, name="old-host", cwd=tmp_path, env=env)
    wait_for_workers(scheduler, 1)
    marker = tmp_path / "ran"
    root = project(
        tmp_path / "p", "", f'[[steps]]\nname = "s"\ntype = "shell"\nrun = "touch {marker}"\n'
    )
    done = run_workflow(root, tmp_path / "home", agents_bin, "--executor", scheduler.executor)
    assert done.returncode == 1
    assert "workers run another llm-mux than this one" in done.stderr
    assert "old-host: 0.0.1" in done.stderr
    assert not marker.exists()


RESOURCES_CONFIG = """
[backends.a]
command = "agent-a"
[backends.missing]
command = "no-such-agent"
[roles.default]
backends = ["a", "missing"]
execution = "parallel"
min_success = 1
"""
RESOURCES_WORKFLOW = """
[[steps]]
name = "ask"
type = "query"
role = "default"
prompt = "n{{ item }}"
for_each = [1, 2, 3, 4]
concurrency = 4
"""


def test_a_backends_calls_go_only_to_workers_advertising_its_resource(
    tmp_path: Path, agents_bin: Path, scheduler: Cluster
) -> None:
    env = worker_env(agents_bin, tmp_path / "cache")
    start_worker(scheduler, name="gpu-host", cwd=tmp_path, env=env, extra=["--resources", "a=2"])
    start_worker(scheduler, name="plain-host", cwd=tmp_path, env=env)
    wait_for_workers(scheduler, 2)
    root = project(tmp_path / "p", RESOURCES_CONFIG, RESOURCES_WORKFLOW)
    home = tmp_path / "home"
    done = run_workflow(root, home, agents_bin, "--executor", scheduler.executor, as_json=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"]["ask"]["status"] == "succeeded"
    assert {(backend, worker) for _, _, backend, worker in placements(home)} == {("a", "gpu-host")}
    report = mux(
        "doctor", "--executor", scheduler.executor,
        cwd=root, env=environment(home, agents_bin),
    )  # fmt: skip
    text = report.stdout + report.stderr
    assert "gpu-host" in text and "plain-host" in text and "a=2" in text
    assert "missing" in text and "not found on the PATH of any worker" in text


def make_certificates(directory: Path) -> list[str]:
    """A throw-away CA and one certificate for 127.0.0.1 (openssl), as TLS options."""
    directory.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "1", "-subj", "/CN=llm-mux test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key",
            "-out", "node.csr", "-subj", "/CN=127.0.0.1")  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "node.pem", "-days", "1", "-extfile", "san.ext")  # fmt: skip
    return [
        "--tls-ca-file", str(directory / "ca.pem"),
        "--tls-cert", str(directory / "node.pem"),
        "--tls-key", str(directory / "node.key"),
    ]  # fmt: skip


def test_a_tls_cluster_runs_work_with_the_configured_certificates(
    tmp_path: Path, agents_bin: Path
) -> None:
    tls = make_certificates(tmp_path / "certs")
    scheduler = start_scheduler(
        cwd=tmp_path, env=dict(os.environ), extra=["--protocol", "tls", *tls]
    )
    try:
        assert scheduler.address.startswith("tls://")
        env = worker_env(agents_bin, tmp_path / "cache")
        start_worker(scheduler, name="tls-host", cwd=tmp_path, env=env, extra=tls)
        certs = tmp_path / "certs"
        config = (
            f'[executor]\naddress = "{scheduler.address}"\nconnect_timeout = "90s"\n'
            f'tls_ca_file = "{certs / "ca.pem"}"\n'
            f'tls_cert = "{certs / "node.pem"}"\ntls_key = "{certs / "node.key"}"\n'
        )
        workflow = '[[steps]]\nname = "s"\ntype = "shell"\nrun = "echo over tls"\n'
        root = project(tmp_path / "p", config, workflow)
        home = tmp_path / "home"
        done = run_workflow(root, home, agents_bin)
        assert done.returncode == 0, done.stderr
        assert "over tls" in done.stdout
        assert [worker for *_, worker in placements(home)] == ["tls-host"]
    finally:
        scheduler.stop()

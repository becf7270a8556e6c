"""A Dask cluster on 127.0.0.1 for tests and benchmarks, in a process of its own.

`python dask_cluster.py WORKERS THREADS` starts a `distributed.LocalCluster`
with worker processes (nannies), prints the scheduler's address on one line and
runs until its standard input closes. Worker processes inherit this process's
environment and working directory, so a test sets both when starting it.
"""

from __future__ import annotations

import sys

from distributed import LocalCluster


def main(workers: int, threads: int) -> None:
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=threads,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    print(cluster.scheduler_address, flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin (or dies)
    finally:
        cluster.close(timeout=10)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))

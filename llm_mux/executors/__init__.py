"""Executors: where the work of a step runs — here, or on the workers of a cluster.

Input: `Work` (an argv with its stdin, timeout and the environment it declares)
from shell steps and CLI backends. Output: the `ProcessResult` of running it.
The interpreter, apply, store and input steps, the ledger and the memory stay
in the coordinating process whichever executor runs the work.

- `LocalExecutor` runs each `Work` as a child of this process (the default).
- `llm_mux.executors.dask.DaskExecutor` submits each `Work` to a Dask
  cluster (`run --executor dask://HOST:PORT`); imported only when used.
"""

from __future__ import annotations

from .local import LocalExecutor
from .work import Executor, Label, Placement, Work, labelled, work_label

__all__ = ["Executor", "Label", "LocalExecutor", "Placement", "Work", "labelled", "work_label"]

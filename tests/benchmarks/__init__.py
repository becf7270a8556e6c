"""The benchmark suite of SPEC §6: every figure against a baseline measured in the same run.

Run it with `scripts/bench` (see `run.py` for options). Not part of the test suite:
no file here is named `test_*.py`, so pytest never collects it, and `.ci/run` does
not start it.
"""

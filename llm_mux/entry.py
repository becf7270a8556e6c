"""The `llm-mux` console script: quiet on a signal that comes before a run handles them.

Input: the command line. Output: what `cli.main` does — but a Ctrl-C (SIGINT) or SIGTERM
that arrives while Python is still importing llm-mux, or while a long workflow compiles,
ends the process with 130 or 143 and one line, never a traceback or a bare -15.  Once a
run starts, `signals` handles both (cancel, record, clean up).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from .errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated

__all__ = ["main"]


def _terminated(number: int, frame: FrameType | None) -> None:
    raise Terminated


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        from .cli import main as cli_main

        cli_main()
    except KeyboardInterrupt as interrupted:  # before cli.main could catch it
        sys.stderr.write("llm-mux: interrupted\n")
        sys.exit(EXIT_TERMINATED if isinstance(interrupted, Terminated) else EXIT_INTERRUPTED)

"""User-facing errors: one clear sentence on stderr and an exit code, never a traceback."""

from __future__ import annotations

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "MuxError",
    "Terminated",
    "UsageError",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it


class Terminated(KeyboardInterrupt):
    """SIGTERM outside a run: unwinds like Ctrl-C, exits 143 (`entry`)."""


class MuxError(Exception):
    """An error the user can fix; `str(error)` is the whole message."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(MuxError):
    """Bad command-line input: unknown workflow, missing arg, unknown team (exit 2)."""

    exit_code = EXIT_USAGE

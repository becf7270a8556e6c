"""CLI backends: one prompt, one subprocess (`claude -p`, `codex exec`, `ollama run` …).

Input: a `BackendSpec` of kind `cli`, the project root and the run's environment.
Output: a `Completion` read from stdout as `output_format` says (`cli_output`: plain
text, or an agent's JSON with tokens and cost), or a `BackendError` carrying the tool's
own reason for a failure.

A prompt is only ever a prompt: argv is the expanded `command`, then the expanded
`args`, then — with `prompt_mode = "arg"` — `--` and the prompt (no option parser
reads anything after `--` as an option or subcommand; `end_of_options = false` drops
it for a tool that does not accept it); with `"flag"` the single argument
`PROMPT_FLAG=PROMPT` (`--prompt=-v` is the value `-v`); with `"stdin"` the prompt is
written to the process's stdin instead. With `[defaults] command_wrapper` the argv
runs inside the wrapper (`llm_mux.processes.process.wrapped`), and the wrapper must be on PATH
rather than the command. The backend's `env` table is
added to the inherited environment. The process runs in the project root, in
its own process group, killed whole when the attempt times out or is cancelled
(`llm_mux.processes.process`), or when its standard output goes past `max_response_bytes`
(16 MiB by default: at most that much is ever held, and the call fails naming the
key). CLIs have no system-prompt slot, so a system prompt (the step's, else the
backend's `system`) is prepended to the prompt text, followed by a blank line.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from pathlib import Path

from llm_mux.compiler.plan import BackendSpec
from llm_mux.executors import Executor, LocalExecutor, Work
from llm_mux.processes.process import CommandNotFound, OutputTooLarge, ProcessResult, ProcessTimeout
from llm_mux.redact import Redactor

from .cli_output import failure_reason, read_output
from .resolve import expand, system_prompt
from .types import BackendError, Completion, Request

__all__ = ["ARG_PROMPT_LIMIT", "CliTransport"]

# Linux refuses any single argv string of 128 KiB or more (MAX_ARG_STRLEN counts
# the terminating NUL), so the prompt must stay strictly below it.
ARG_PROMPT_LIMIT = 128 * 1024
_STDERR_SHOWN = 2000


class CliTransport:
    """Runs the backend's command once per `complete`."""

    def __init__(
        self,
        spec: BackendSpec,
        *,
        root: Path,
        env: Mapping[str, str],
        executor: Executor | None = None,
    ) -> None:
        self.spec = spec
        self.root = root
        self.env = env
        self.redact = Redactor.for_run(env, [spec])  # before stderr is cut
        self.executor = executor or LocalExecutor(root, env)

    async def complete(self, request: Request) -> Completion:
        # Lone surrogates cannot be encoded; "replace" keeps a bad prompt from crashing.
        prompt = _prompt_text(self.spec, request, self.env)
        encoded = prompt.encode("utf-8", errors="replace")
        argv = self._argv()
        stdin: bytes | None = None
        if self.spec.prompt_mode == "stdin":
            stdin = encoded
        else:
            added = _prompt_arguments(self.spec, argv, encoded.decode("utf-8"))
            _check_arg_size(self.spec, len(added[-1].encode()))
            argv.extend(added)
        result = await self._run(argv, stdin)
        if result.exit_code != 0:
            raise _exit_error(self.spec, result, prompt, self.redact)
        return read_output(self.spec.name, self.spec.output_format, result.stdout)

    def _argv(self) -> list[str]:
        spec, env = self.spec, self.env
        args = [expand(spec, f"args[{i}]", arg, env) for i, arg in enumerate(spec.args)]
        return [expand(spec, "command", spec.command, env), *args]

    def _declared_env(self) -> dict[str, str]:
        """The backend's `env` table, expanded here (the run adds its own environment)."""
        return {
            key: expand(self.spec, f"env.{key}", value, self.env) for key, value in self.spec.env
        }

    def _work(self, argv: list[str], stdin: bytes | None) -> Work:
        spec = self.spec
        return Work(
            argv=tuple(argv),
            stdin=stdin,
            timeout=spec.timeout,
            env=self._declared_env(),
            wrapper=tuple(spec.wrapper),
            backend=spec.name,
            max_concurrent=spec.max_concurrent,
            max_output=spec.max_response_bytes,
        )

    async def _run(self, argv: list[str], stdin: bytes | None) -> ProcessResult:
        name = self.spec.name
        try:
            return await self.executor.run(self._work(argv, stdin))
        except CommandNotFound as missing:
            message = f"backend '{name}': {missing} (is it installed and on PATH?)"
            raise BackendError(message, kind="not_found", retryable=False) from None
        except ProcessTimeout as timeout:
            message = f"backend '{name}': {timeout}{_stderr_tail(timeout.stderr, self.redact)}"
            raise BackendError(message, kind="timeout", retryable=self.spec.retry_timeout) from None
        except OutputTooLarge as too_large:
            message = (
                f"backend '{name}': the output is larger than max_response_bytes "
                f"({too_large.limit:,} bytes), so {self.spec.command} was stopped; "
                f"raise backends.{name}.max_response_bytes if it is expected"
            )
            raise BackendError(message, kind="oversized", retryable=False) from None
        except OSError as error:
            raise _start_error(self.spec, argv, error) from None


def _prompt_text(spec: BackendSpec, request: Request, env: Mapping[str, str]) -> str:
    system = system_prompt(spec, request, env)
    return request.prompt if not system else f"{system}\n\n{request.prompt}"


def _prompt_arguments(spec: BackendSpec, argv: list[str], prompt: str) -> list[str]:
    """What follows the args so that the prompt can only be read as the prompt."""
    if spec.prompt_mode == "flag":
        return [f"{spec.prompt_flag or '--prompt'}={prompt}"]
    if not spec.end_of_options or argv[-1] == "--":
        return [prompt]
    return ["--", prompt]


def _check_arg_size(spec: BackendSpec, size: int) -> None:
    if size >= ARG_PROMPT_LIMIT:
        raise BackendError(_too_large_message(spec, size), kind="too_large", retryable=False)


def _too_large_message(spec: BackendSpec, size: int) -> str:
    return (
        f"backend '{spec.name}': the prompt is {size:,} bytes, too large for a command-line "
        f'argument (limit {ARG_PROMPT_LIMIT - 1:,}); set prompt_mode = "stdin" in '
        f"[backends.{spec.name}] to send it on standard input"
    )


def _start_error(spec: BackendSpec, argv: list[str], error: OSError) -> BackendError:
    if error.errno == errno.E2BIG:  # argv + environment over the system's total limit
        return BackendError(
            _too_large_message(spec, len("".join(argv))), kind="too_large", retryable=False
        )
    message = f"backend '{spec.name}': cannot run {argv[0]}: {error.strerror or error}"
    return BackendError(message, kind="not_found", retryable=False)


def _exit_error(
    spec: BackendSpec, result: ProcessResult, prompt: str, redact: Redactor
) -> BackendError:
    code = result.exit_code
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    # Redacted before the reason is picked and cut, so no secret is cut in half.
    stdout, stderr = redact(result.stdout), redact(result.stderr)
    reason = failure_reason(spec.output_format, stdout, stderr, prompt)
    # The reason's first line on the first line: what a one-line summary shows.
    message = f"backend '{spec.name}': {spec.command} {how}" + (f": {reason}" if reason else "")
    return BackendError(message, kind="exit", retryable=False)


def _stderr_tail(stderr: str, redact: Redactor) -> str:
    """The end of stderr, where the reason for a failure usually is (secrets out first)."""
    text = redact.cut(stderr.strip(), _STDERR_SHOWN + 1, keep_end=True)
    return f"\n{text}" if text else ""

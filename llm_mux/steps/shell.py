"""Shell steps: render `run` with every value shell-quoted, run it with `sh -c`.

Input: a `Shell` action and the context. Output: stdout without trailing
newlines as `output`, the exit code, and on a non-zero exit a failure that
quotes the end of stderr. The command runs in the project root with stdin
closed, in its own process group (killed whole on timeout or cancel).
"""

from __future__ import annotations

from collections.abc import Mapping

from llm_mux.compiler.plan import Shell, StepPlan

from ..executors import Work
from ..processes.process import TOO_LONG_HINT, CommandNotFound, CommandTooLong
from ..running.results import StepResult
from ..running.runtime import Runtime
from . import failed, step_inputs

__all__ = ["run_shell", "stderr_tail"]

_TAIL_LINES = 20


async def run_shell(
    step: StepPlan, action: Shell, context: Mapping[str, object], runtime: Runtime
) -> StepResult:
    inputs = step_inputs(step, context)
    command = inputs["run"]
    wrapper = runtime.plan.command_wrapper
    argv = [action.shell, "-c", command]
    try:
        work = Work(argv=tuple(argv), wrapper=tuple(wrapper))
        done = await runtime.processes().run(work)
    except CommandNotFound as missing:
        what = f"shell '{action.shell}'" if not wrapper else f"command_wrapper {missing.command!r}"
        return failed(step, f"{what} not found on PATH", inputs=inputs)
    except CommandTooLong as error:
        return failed(step, f"{error.strerror}; {TOO_LONG_HINT}", inputs=inputs)
    if done.exit_code != 0:
        message = f"exit code {done.exit_code}" + stderr_tail(done.stderr)
        return failed(step, message, exit_code=done.exit_code, output=done.stdout, inputs=inputs)
    return StepResult(
        step.name, step.type, "succeeded", output=done.stdout, exit_code=0, inputs=inputs
    )


def stderr_tail(stderr: str) -> str:
    lines = stderr.rstrip().splitlines()[-_TAIL_LINES:]
    return (":\n" + "\n".join(lines)) if lines else " (nothing on stderr)"

"""The files `llm-mux init` writes: a commented config and a starter workflow.

Input: a `Detection`. Output: TOML text — one `[backends.*]` table per tool
found, a `[roles.default]` over them, commented examples for what is missing
(an HTTP API, prices) — and the `hello` workflow for `--project`. Strings are
written as TOML basic strings through `json.dumps`, whose escapes TOML shares.

Decisions: the role is `fallback` (query steps get one answer, from the first
backend that gives one; steps with `parallel = true`, like the built-in
review's, ask them all). A reachable Ollama server becomes the HTTP backend
`ollama-api`, which reports token usage and is priced at 0 (a local model
costs nothing, so runs on it have a known cost); the `ollama` CLI, when also
there, is written but left out of the role (it reaches the same models).
"""

from __future__ import annotations

import json

from .detect import TOOLS, Detection, Tool

__all__ = ["HELLO_WORKFLOW", "config_text", "default_role", "hello_workflow_text"]

FALLBACK_OLLAMA_MODEL = "llama3.2"  # the model `ollama pull` is told to fetch when none is
HELLO_WORKFLOW = "hello"
_AGENT_TIMEOUT = 'timeout = "10m"  # an agent may read the project before it answers\n'


def default_role(detection: Detection) -> list[str]:
    """The backends of `[roles.default]`, in a stable order: CLIs, then the local server."""
    names = [name for name in detection.found if name != "ollama"]
    if "ollama" in detection.found and not detection.server.usable:
        names.append("ollama")
    return names


def config_text(detection: Detection) -> str:
    sections = [_header(detection)]
    for tool in TOOLS:
        if detection.tools.get(tool.name):
            sections.append(_cli_backend(tool, detection))
    if detection.server.usable:
        sections.append(_server_backend(detection))
    sections.append(_role(default_role(detection)))
    sections.append(_more())
    return "\n".join(sections)


def _header(detection: Detection) -> str:
    found = ", ".join(detection.found)
    missing = [tool for tool in TOOLS if not detection.tools.get(tool.name)]
    lines = [
        "# llm-mux configuration, written by `llm-mux init` from what it found on this",
        f"# machine: {found}.",
        "#",
        "# Query steps without `role = ...`, and the built-in `review` workflow, use the",
        "# role `default` below. `llm-mux doctor` checks this file; `llm-mux backends`",
        "# lists what it defines. Edit freely: `llm-mux init` never overwrites it",
        "# without --force.",
    ]
    if missing:
        lines += ["#", "# Not found (install one, then add it here or run `llm-mux init --force`):"]
        lines += [f"#   {tool.name}: {tool.install}" for tool in missing]
    return "\n".join(lines) + "\n"


def _cli_backend(tool: Tool, detection: Detection) -> str:
    args = list(tool.args)
    note = ""
    if tool.name == "ollama":
        models = detection.server.models
        args.append(models[0] if models else FALLBACK_OLLAMA_MODEL)
        if detection.server.usable:
            note = "# Not in the default role: ollama-api below reaches the same models.\n"
        elif not models:
            note = (
                f"# Needs the model: `ollama pull {FALLBACK_OLLAMA_MODEL}` (and `ollama serve`).\n"
            )
    keys = "".join(f"{key} = {_string(value)}\n" for key, value in tool.keys)
    usage = (
        "# Tokens (and cost, where the tool reports it) are read from its JSON output.\n"
        if tool.keys and tool.keys[-1][0] == "output_format"
        else "# It reports no token usage, so the cost of its calls is unknown.\n"
    )
    return (
        f"# {tool.what} ({detection.tools[tool.name]}): llm-mux passes the prompt\n"
        f"# {tool.passing}.\n"
        f"{note}"
        f"[backends.{tool.name}]\n"
        f"command = {_string(tool.name)}\n"
        f"args = [{', '.join(_string(a) for a in args)}]\n"
        f"{keys}"
        f"{'' if tool.name in ('ollama', 'llm') else _AGENT_TIMEOUT}"
        f"{usage}"
    )


def _server_backend(detection: Detection) -> str:
    server = detection.server
    others = ", ".join(server.models[1:6])
    more = f"\n# Other models it has: {others}" if others else ""
    return (
        f"# The Ollama server at {server.url} (OpenAI-compatible API): it reports token\n"
        f"# usage, and a local model costs nothing.{more}\n"
        "[backends.ollama-api]\n"
        f"command = {_string(server.url)}\n"
        f"model = {_string(server.models[0])}\n"
        "input_cost_per_million = 0.0\n"
        "output_cost_per_million = 0.0\n"
    )


def _role(backends: list[str]) -> str:
    names = ", ".join(_string(name) for name in backends)
    return (
        "# The role query steps use when they name none. `fallback`: the first backend\n"
        "# that answers; a step with `parallel = true` asks every one at once.\n"
        "[roles.default]\n"
        'description = "Every backend llm-mux init found"\n'
        f"backends = [{names}]\n"
        'execution = "fallback"\n'
    )


def _more() -> str:
    return (
        "# An HTTP API, e.g. OpenAI (any OpenAI-compatible server works the same way),\n"
        "# with prices per million tokens so that runs report their cost:\n"
        "#\n"
        "# [backends.openai]\n"
        '# command = "https://api.openai.com/v1"\n'
        '# model = "gpt-4o"\n'
        '# api_key = "${OPENAI_API_KEY}"\n'
        "# input_cost_per_million = 2.5\n"
        "# output_cost_per_million = 10.0\n"
        "#\n"
        '# then add it to the role: backends = [..., "openai"]\n'
    )


def hello_workflow_text() -> str:
    return '''# A starter workflow, written by `llm-mux init --project`. Try it:
#
#   llm-mux run hello
#   llm-mux run hello question="Where would a new contributor start?"
#
# `llm-mux plan hello` shows its steps without running anything; copy this file
# to start a workflow of your own. The built-in `review` workflow reviews the
# changes of a git repository: `llm-mux run review`.
name = "hello"
description = "Ask the default role a question about this project, its file list attached"

[args.question]
default = "What is this project? Answer in two sentences."
description = "What to ask"

[[steps]]
name = "files"
type = "shell"
description = "The project's files: git's list in a repository, else the directory's"
run = """
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files --cached --others --exclude-standard | head -n 200
else
  ls -1A | head -n 200
fi
"""

[[steps]]
name = "ask"
type = "query"
role = "default"
prompt = """
{{ args.question }}

The project's files:
{{ steps.files.output }}
"""
'''


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)

"""What model backends this machine really has.

Input: the environment — `PATH`, and `LLM_MUX_OLLAMA_URL` (default
`http://localhost:11434/v1`, the URL of a local Ollama server's
OpenAI-compatible API). Output: a `Detection`: for each known CLI (`claude`,
`codex`, `gemini`, `ollama`, `llm`) where it is on PATH, or how to install it; and
whether an Ollama server answers `GET {url}/models`, with its models.

Nothing here writes anything; the only effect is that one GET, bounded by a
short timeout, so `init` never hangs on a machine without Ollama.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["OLLAMA_URL_VARIABLE", "TOOLS", "Detection", "OllamaServer", "Tool", "detect"]

OLLAMA_URL_VARIABLE = "LLM_MUX_OLLAMA_URL"
DEFAULT_OLLAMA_URL = "http://localhost:11434/v1"
_PROBE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Tool:
    """A model CLI llm-mux knows how to call."""

    name: str
    args: tuple[str, ...]  # before the prompt (ollama's model is added when known)
    what: str  # for the config's comment
    install: str
    keys: tuple[tuple[str, str], ...] = ()  # more backend keys: how the prompt goes, output
    passing: str = "after `--`, as its last argument"  # for the config's comment


TOOLS = (
    Tool(
        "claude",
        ("-p", "--output-format", "json"),
        "Claude Code",
        "npm install -g @anthropic-ai/claude-code",
        (("output_format", "claude-json"),),
    ),
    Tool(
        "codex",
        ("exec", "--skip-git-repo-check", "--json"),  # runs in and outside git repositories
        "OpenAI Codex CLI",
        "npm install -g @openai/codex",
        (("output_format", "codex-json"),),
    ),
    Tool(
        "gemini",
        ("--output-format", "json", "--skip-trust"),  # headless Gemini refuses untrusted dirs
        "Gemini CLI",
        "npm install -g @google/gemini-cli",
        (("prompt_mode", "flag"), ("prompt_flag", "--prompt"), ("output_format", "gemini-json")),
        "as the value of --prompt (--prompt=TEXT)",
    ),
    Tool(
        "ollama",
        ("run",),
        "Ollama, local models",
        "see https://ollama.com/download, then `ollama pull llama3.2`",
    ),
    Tool(  # `llm -- TEXT` would hand TEXT to its command group: name the subcommand
        "llm",
        ("prompt",),
        "llm, with its default model",
        "pipx install llm (then `llm keys set …`)",
    ),
)


@dataclass(frozen=True, slots=True)
class OllamaServer:
    url: str
    models: tuple[str, ...]  # empty: the server answers but has no model pulled
    error: str | None = None  # why it is not usable (not answering, not Ollama-like)

    @property
    def usable(self) -> bool:
        return self.error is None and bool(self.models)


@dataclass(frozen=True, slots=True)
class Detection:
    tools: Mapping[str, str | None]  # name → path on PATH, or None
    server: OllamaServer

    @property
    def found(self) -> tuple[str, ...]:
        """Names of what can be used: the CLIs on PATH, and `ollama-api` for the server."""
        names = tuple(name for name, path in self.tools.items() if path)
        return names + (("ollama-api",) if self.server.usable else ())


def detect(env: Mapping[str, str]) -> Detection:
    path = env.get("PATH")
    tools = {tool.name: shutil.which(tool.name, path=path) for tool in TOOLS}
    url = (env.get(OLLAMA_URL_VARIABLE) or DEFAULT_OLLAMA_URL).rstrip("/")
    return Detection(tools, probe_ollama(url))


def probe_ollama(url: str) -> OllamaServer:
    """`GET {url}/models`: the model ids of an OpenAI-compatible server, or why not."""
    import httpx

    try:
        response = httpx.get(f"{url}/models", timeout=_PROBE_TIMEOUT)
    except httpx.HTTPError as error:
        return OllamaServer(url, (), f"not answering ({type(error).__name__})")
    if response.status_code != 200:
        return OllamaServer(url, (), f"answered HTTP {response.status_code}")
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return OllamaServer(url, (), "answered something that is not a model list")
    if not isinstance(data, list):
        return OllamaServer(url, (), "answered something that is not a model list")
    models = tuple(
        str(entry["id"]) for entry in data if isinstance(entry, dict) and entry.get("id")
    )
    return OllamaServer(url, models)

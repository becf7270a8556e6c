"""`llm-mux init`: a starter configuration from the model backends really installed.

Input: the environment (PATH, `LLM_MUX_OLLAMA_URL`), the places, `--global` or
`--project`, `--force`. Output: a commented config with the backends found and
a `default` role (and, with `--project`, a starter workflow), what was found
printed, and the exit code — 1 when nothing was found (nothing is written) or
when a file exists and `--force` was not given.

`detect` looks (PATH, one short HTTP GET), `starter` writes the text, `command`
puts them together.
"""

from __future__ import annotations

from .command import init_command
from .detect import OLLAMA_URL_VARIABLE, Detection, detect
from .starter import config_text, hello_workflow_text

__all__ = [
    "OLLAMA_URL_VARIABLE",
    "Detection",
    "config_text",
    "detect",
    "hello_workflow_text",
    "init_command",
]

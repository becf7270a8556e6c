"""The real CLI agents, pointed at a `ModelServer` on 127.0.0.1 and nowhere else.

Input: a started `ModelServer` and an empty directory for the agents' homes. Output:
`AgentEnvironment.env`, the environment under which `claude`, `codex`, `gemini` and
`llm` (as `scripts/check` installs them: npm packages in `.tools/`, `llm` in the venv)
answer from that server — with telemetry, error reports, update checks and auto-updates
switched off, every proxy variable pointing at a closed port on 127.0.0.1 (so traffic
meant for anywhere else fails at once instead of leaving the machine), and each tool's
config in a home of its own. `require(tool)` skips a test when the tool is missing,
unless `LLM_MUX_REQUIRE_AGENTS=1` (set by scripts/check), where it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.openai_server import ModelServer

__all__ = ["AGENT_TOOLS", "MODEL", "TOOLS_BIN", "AgentEnvironment", "require"]

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "node_modules" / ".bin"
AGENT_TOOLS = ("claude", "codex", "gemini", "llm")
MODEL = "mock-model"  # what codex, gemini and llm ask for (claude picks its own)


def _search_path() -> str:
    return os.pathsep.join([str(TOOLS_BIN), str(Path(sys.executable).parent), os.defpath])


def require(tool: str) -> str:
    """The tool's path; skips (or, in CI, fails) when it is not installed."""
    found = shutil.which(tool, path=_search_path())
    if found is None:
        message = f"{tool} is not installed (scripts/check installs it)"
        if os.environ.get("LLM_MUX_REQUIRE_AGENTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


class AgentEnvironment:
    """Homes, configs and variables for every agent; `env` is the environment to run in."""

    def __init__(self, server: ModelServer, home: Path) -> None:
        self.server = server
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.env = self._base() | self._claude() | self._codex() | self._gemini() | self._llm()

    def _base(self) -> dict[str, str]:
        closed = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once
        return {
            "PATH": _search_path(),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "HTTP_PROXY": closed,
            "HTTPS_PROXY": closed,
            "ALL_PROXY": closed,
            "http_proxy": closed,
            "https_proxy": closed,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "NO_UPDATE_NOTIFIER": "1",
            "DO_NOT_TRACK": "1",
        }

    def _claude(self) -> dict[str, str]:
        return {
            "ANTHROPIC_BASE_URL": self.server.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-test-0123456789",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # telemetry, error reports, updates
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
        }

    def _codex(self) -> dict[str, str]:
        codex_home = self.home / ".codex"
        codex_home.mkdir(exist_ok=True)
        (codex_home / "config.toml").write_text(
            f'model = "{MODEL}"\nmodel_provider = "mock"\ncheck_for_update_on_startup = false\n'
            f'[model_providers.mock]\nname = "mock"\nbase_url = "{self.server.url}"\n'
            'wire_api = "responses"\nenv_key = "MOCK_API_KEY"\n'
            '[analytics]\nenabled = false\n[otel]\nexporter = "none"\n'
        )
        return {"CODEX_HOME": str(codex_home), "MOCK_API_KEY": "sk-mock-0123456789"}

    def _gemini(self) -> dict[str, str]:
        settings = self.home / ".gemini"
        settings.mkdir(exist_ok=True)
        off = {
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "security": {"auth": {"selectedType": "gemini-api-key"}},
        }
        (settings / "settings.json").write_text(json.dumps(off))
        return {
            "GEMINI_CLI_HOME": str(self.home),
            "GEMINI_API_KEY": "gm-test-0123456789",
            "GOOGLE_GEMINI_BASE_URL": self.server.base_url,
            "GEMINI_MODEL": MODEL,  # not "auto", which first asks a routing model
            "GEMINI_TELEMETRY_ENABLED": "false",
        }

    def _llm(self) -> dict[str, str]:
        user = self.home / "llm"
        user.mkdir(exist_ok=True)
        (user / "extra-openai-models.yaml").write_text(
            f"- model_id: mock\n  model_name: {MODEL}\n  api_base: {self.server.url}\n"
        )
        (user / "default_model.txt").write_text("mock")
        (user / "logs-off").touch()  # `llm logs off`: nothing is logged
        env = {"LLM_USER_PATH": str(user), "OPENAI_API_KEY": "sk-llm-test-0123456789"}
        llm = shutil.which("llm", path=_search_path())
        if llm is not None:  # llm creates its database on first use: parallel first calls race
            (user / "logs.db").touch()  # `logs status` migrates an existing database
            subprocess.run([llm, "logs", "status"], env=env, capture_output=True, timeout=60)
        return env

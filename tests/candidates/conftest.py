"""The repository every best-of-N test starts from (`support.best_of_n`)."""

from pathlib import Path

import pytest
from support.best_of_n import bug_project
from support.openai_server import ModelServer


@pytest.fixture
def repo(tmp_path: Path, openai_server: ModelServer) -> Path:
    return bug_project(tmp_path, openai_server)

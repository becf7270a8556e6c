"""Pytest fixtures shared by every suite (registered in tests/conftest.py)."""

from collections.abc import Iterator

import pytest

from support.openai_server import ModelServer


@pytest.fixture
def openai_server() -> Iterator[ModelServer]:
    """A real OpenAI/Anthropic-compatible server on 127.0.0.1, stopped after the test."""
    with ModelServer() as server:
        yield server

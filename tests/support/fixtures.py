"""Pytest fixtures shared by every suite (registered in tests/conftest.py)."""

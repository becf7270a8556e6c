"""A relative ecosystem project path is relative to the config file that sets it."""

from __future__ import annotations

from pathlib import Path

from llm_mux.compiler.diagnostics import Sink
from llm_mux.compiler.pipeline import load_config
from llm_mux.compiler.source import SourceFile
from llm_mux.config import anchor_project_paths

CONFIG = """\
[ecosystems.shop.projects.api]
path = "../services/api"
[ecosystems.shop.projects.home]
path = "~/src/home"
[ecosystems.shop.projects.srv]
path = "/srv/shop"
"""


def paths(config_file: str, cwd: Path, *later: SourceFile) -> dict[str, str]:
    sink = Sink()
    merged = load_config([SourceFile(config_file, CONFIG), *later], sink, env={})
    assert merged is not None and not sink.items
    anchored = anchor_project_paths(merged, cwd)
    return {name: p.path for name, p in anchored.config.ecosystems["shop"].projects.items()}


def test_relative_to_the_file_that_sets_it(tmp_path: Path) -> None:
    found = paths("conf/config.toml", tmp_path)
    assert found == {
        "api": str(tmp_path / "services" / "api"),
        "home": "~/src/home",
        "srv": "/srv/shop",
    }
    assert paths(str(tmp_path / "a" / "b" / "c.toml"), Path("/elsewhere"))["api"] == str(
        tmp_path / "a" / "services" / "api"
    )


def test_a_later_file_that_overrides_the_path_anchors_it(tmp_path: Path) -> None:
    override = SourceFile("deep/er/over.toml", '[ecosystems.shop.projects.api]\npath = "api"\n')
    assert paths("config.toml", tmp_path, override)["api"] == str(tmp_path / "deep/er/api")

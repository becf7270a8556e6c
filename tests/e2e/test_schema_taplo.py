"""The JSON Schemas through the real Taplo CLI (PyPI `taplo`, the engine of VS Code's
Even Better TOML): what an editor user sees. The schema files are written by the real
`llm-mux schema` command, and Taplo reads them as an editor does, from a file URL.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.examples import INVALID, VALID, schema_error_expected

from llm_mux.validate import is_config_file

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]' brings it"
    return found


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("schemas")
    written = {}
    for kind in ("workflow", "config"):
        path = folder / f"{kind}.schema.json"
        done = subprocess.run(
            [tool("llm-mux"), "schema", kind], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        path.write_text(done.stdout, encoding="utf-8")
        written[kind] = path
    return written


def said_invalid(stderr: str) -> bool:
    """Taplo's words for a schema error: the diagnostic (`error: … is not valid …`,
    `error: "x" is not one of …`), and its closing log line, which is not always
    written before it exits."""
    return "\nerror: " in stderr or "schema validation failed" in stderr


def taplo_lint(path: Path, schemas: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    schema = schemas["config" if is_config_file(path) else "workflow"]
    command = [tool("taplo"), "lint", "--no-auto-config", "--colors", "never"]
    command += ["--schema", schema.as_uri(), str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_taplo_accepts_every_example(path: Path, schemas: dict[str, Path]) -> None:
    done = taplo_lint(path, schemas)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_taplo_rejects_the_invalid_examples_that_break_the_schema(
    path: Path, schemas: dict[str, Path]
) -> None:
    done = taplo_lint(path, schemas)
    broken = schema_error_expected(path) or path.name == "toml-syntax.toml"
    assert (done.returncode != 0) == broken, done.stderr
    if schema_error_expected(path):
        assert said_invalid(done.stderr), done.stderr


def test_taplo_points_at_the_unknown_key(schemas: dict[str, Path]) -> None:
    done = taplo_lint(INVALID[0].parent / "unknown-key.toml", schemas)
    assert "timout" in done.stderr


def test_the_documented_taplo_config_checks_a_projects_files(
    tmp_path: Path, schemas: dict[str, Path]
) -> None:
    """docs/ci.md's .taplo.toml, word for word, picks the schema for .llm-mux/ files."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "ci.md").read_text()
    taplo_toml = docs.split("a `.taplo.toml` at the project root:\n\n```toml\n")[1].split("```")[0]
    (tmp_path / ".taplo.toml").write_text(taplo_toml)
    for kind in ("workflow", "config"):
        shutil.copy(schemas[kind], tmp_path / f"llm-mux-{kind}.schema.json")
    workflows = tmp_path / ".llm-mux" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(INVALID[0].parent / "unknown-key.toml", workflows / "bad.toml")
    (tmp_path / ".llm-mux" / "config.toml").write_text('[roles.r]\nbackend = ["x"]\n')
    for name in (".llm-mux/workflows/bad.toml", ".llm-mux/config.toml"):
        command = [tool("taplo"), "lint", "--colors", "never", name]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and said_invalid(done.stderr), done.stderr

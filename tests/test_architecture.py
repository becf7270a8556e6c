"""Laws of the code base: one-way imports, every package shipped, validate stays light."""

from __future__ import annotations

import ast
import fnmatch
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_compiler_never_imports_the_runtime() -> None:
    """compiler/ is pure: nothing from llm_mux outside llm_mux.compiler, no effects."""
    forbidden_modules = {"asyncio", "subprocess", "httpx", "socket", "sqlite3", "rich"}
    for path in (REPO / "compiler").rglob("*.py"):
        for module in _imports(path):
            if module.startswith("llm_mux") and not module.startswith("llm_mux.compiler"):
                raise AssertionError(f"{path.relative_to(REPO)} imports {module}")
            assert module.split(".")[0] not in forbidden_modules, f"{path} imports {module}"


def test_every_package_is_listed_for_installation() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = {"llm_mux": "llm_mux", "llm_mux.compiler": "compiler", "llm_mux.grammar": "grammar"}
    on_disk = set()
    for package, directory in mapping.items():
        for init in (REPO / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / directory).parts
            if "__pycache__" not in relative:
                on_disk.add(".".join((package, *relative)))
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"


def test_builtin_workflows_are_shipped_as_package_data() -> None:
    """`llm_mux/workflows/` holds no Python: only package-data patterns install it."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = data["package-data"]["llm_mux"]
    shipped = sorted((REPO / "llm_mux" / "workflows").glob("*.toml"))
    assert shipped, "no built-in workflow found"
    for path in shipped:
        relative = path.relative_to(REPO / "llm_mux").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"not shipped: {relative}"


def test_validate_imports_no_runtime_machinery(tmp_path: Path) -> None:
    """The pre-commit hook path: no networkx, httpx, rich, interpreter or asyncio runtime."""
    probe = (
        "import sys\n"
        "from llm_mux.cli import main\n"
        "try:\n    main(['validate', 'examples/'])\nexcept SystemExit:\n    pass\n"
        "heavy = ['networkx', 'httpx', 'rich', 'llm_mux.running.interpreter', 'llm_mux.backends',\n"
        "         'asyncio.base_events', 'sqlite3']\n"
        "print('LOADED:' + ','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    marker = [line for line in done.stdout.splitlines() if line.startswith("LOADED:")]
    assert marker == ["LOADED:"], f"validate imported: {marker}\n{done.stderr}"

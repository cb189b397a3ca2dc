"""The core packages never import Dagster: neither in their source (any import statement, lazy ones too)
nor when every one of their modules is imported in a fresh interpreter. Only ``jackpot_pipeline.defs``,
``jackpot_pipeline.definitions`` and the front ends that drive them (CLI, API) may."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT_ROOT / "jackpot_pipeline"
CORE = ("jackpots", "model", "planning", "publish", "sources", "steps", "warehouse", "reporting")


def _files(name: str) -> list[Path]:
    path = PACKAGE / name
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def _module(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _dagster_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return [f"{path.relative_to(PROJECT_ROOT)}: {name}" for name in names if name.split(".")[0].startswith("dagster")]


@pytest.mark.parametrize("name", CORE)
def test_the_core_never_imports_dagster(name: str) -> None:
    files = _files(name)
    assert files and all(path.exists() for path in files), f"no source found for jackpot_pipeline.{name}"
    assert [line for path in files for line in _dagster_imports(path)] == []
    modules = [_module(path) for path in files]
    code = (
        "import importlib, sys\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster'))\n"
        "assert not loaded, f'dagster was imported: {loaded[:5]}'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

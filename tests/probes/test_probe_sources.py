"""Probes run in the target interpreter: Python 3.8 syntax, standard library + the framework they
inspect, nothing else."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from stackprof.paths import probes_dir

PROBE_FILES = sorted(probes_dir().rglob("*.py"))
FRAMEWORKS = {"numpy", "torch", "tensorflow", "jax", "jaxlib", "scipy", "threadpoolctl", "triton"}


def test_there_are_probe_files():
    names = {p.name for p in PROBE_FILES}
    assert {"agent.py", "system.py", "packages.py", "torch.py", "native_libs.py"} <= names


@pytest.mark.parametrize("path", PROBE_FILES, ids=lambda p: str(p.relative_to(probes_dir())))
def test_parses_as_python_38(path: Path):
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 8))


def test_python_38_check_is_real():
    # The check above must be able to fail: 3.10 syntax is refused under feature_version=(3, 8).
    with pytest.raises(SyntaxError):
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=(3, 8))
    with pytest.raises(SyntaxError):
        ast.parse("with (open('a') as f, open('b') as g):\n    pass\n", feature_version=(3, 8))


@pytest.mark.parametrize("path", PROBE_FILES, ids=lambda p: str(p.relative_to(probes_dir())))
def test_imports_only_stdlib_or_frameworks(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in FRAMEWORKS, f"{path.name} imports {name}"

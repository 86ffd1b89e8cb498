"""The test suite's cached torch+numpy venv (tests/conftest.py builds it), the realistic default target
for the benchmark scripts; this interpreter when it has not been built."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def default_python() -> str:
    cache = Path(os.environ.get("STACKPROF_TEST_VENVS", Path.home() / ".cache" / "stackprof-test-venvs"))
    for venv in sorted(cache.glob("torch-*")):
        if (venv / ".stackprof-complete").exists():
            return str(venv / "bin" / "python")
    return sys.executable

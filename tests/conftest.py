"""Shared fixtures: real virtual environments to probe, built once and cached between runs.

Venvs live under $STACKPROF_TEST_VENVS (default ~/.cache/stackprof-test-venvs) keyed by their
package list, so a second test run reuses them. CI builds them on first use.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_CACHE = Path(os.environ.get("STACKPROF_TEST_VENVS", Path.home() / ".cache" / "stackprof-test-venvs"))

# torch 2.13.0 is the CPU build available locally; other versions are multi-GB downloads.
TORCH_SPEC = "torch==2.13.0"


def make_venv(name: str, packages: list[str]) -> Path:
    """Create (or reuse) a venv with exactly these packages; return its python."""
    key = hashlib.sha1(" ".join([sys.version] + packages).encode()).hexdigest()[:10]
    root = VENV_CACHE / f"{name}-{key}"
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    # Several test processes may ask for the same venv at once: build it under a lock.
    with open(VENV_CACHE / f"{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_venv(root, packages)


def _build_venv(root: Path, packages: list[str]) -> Path:
    python = root / "bin" / "python"
    marker = root / ".stackprof-complete"
    if marker.exists() and python.exists():
        return python
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    venv.EnvBuilder(with_pip=bool(packages), clear=True).create(root)
    if packages:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *packages], check=True)
    marker.write_text(" ".join(packages))
    return python


@pytest.fixture(scope="session")
def venv_bare() -> Path:
    return make_venv("bare", [])


@pytest.fixture(scope="session")
def venv_numpy() -> Path:
    """numpy only: no threadpoolctl, so the native-library fallback path is exercised."""
    return make_venv("numpy", ["numpy"])


@pytest.fixture(scope="session")
def venv_torch() -> Path:
    """torch 2.13.0 CPU + numpy + threadpoolctl."""
    return make_venv("torch", [TORCH_SPEC, "numpy", "threadpoolctl"])


@pytest.fixture
def stackprof_cli():
    """Run the real CLI in a subprocess: returns CompletedProcess."""
    def run(*args, env=None, timeout=600, check=False):
        full_env = dict(os.environ, **(env or {}))
        return subprocess.run([sys.executable, "-m", "stackprof", *map(str, args)], capture_output=True,
                              text=True, env=full_env, timeout=timeout, check=check, cwd=ROOT)
    return run

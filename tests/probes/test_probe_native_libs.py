"""Two OpenMP runtimes in one process are flagged, with real libraries loaded into a real target:
torch's bundled libgomp plus Intel's libiomp5 (the classic conda-MKL + pip-torch mix), and two
copies of one runtime (two thread pools, not flagged as different runtimes but both listed)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import make_venv
from stackprof import target as target_mod
from stackprof.paths import probes_dir
from stackprof.target import Target, Task

pytestmark = pytest.mark.slow

SYSTEM_LIBGOMP = Path("/usr/lib/x86_64-linux-gnu/libgomp.so.1")
LOAD_PROBE = """import ctypes
def collect(ctx, paths):
    for path in paths:
        ctypes.CDLL(path)
    return {"loaded": paths}
"""


@pytest.fixture
def with_load_probe(tmp_path, monkeypatch):
    """The real probes plus one that dlopens libraries (as a framework's import would)."""
    root = tmp_path / "probes"
    shutil.copytree(probes_dir(), root)
    (root / "testing").mkdir()
    (root / "testing" / "__init__.py").write_text("")
    (root / "testing" / "load_library.py").write_text(LOAD_PROBE)
    monkeypatch.setattr(target_mod, "probes_dir", lambda: root)


@pytest.fixture(scope="module")
def libiomp() -> Path:
    try:
        python = make_venv("intel-openmp", ["intel-openmp"])
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"could not install intel-openmp: {exc}")
    found = sorted(python.parent.parent.glob("lib/libiomp5.so"))
    assert found, "intel-openmp installed no libiomp5.so"
    return found[0]


def native_libs_after_loading(python: Path, paths: list[str]) -> tuple[dict, dict]:
    results = Target(python).run_tasks([
        Task("facts.torch"), Task("testing.load_library", {"paths": paths}),
        Task("facts.native_libs"), Task("facts.native_libs", {"fallback": True})])
    assert all(r.ok for r in results), [r.error for r in results]
    return results[2].data, results[3].data


def test_gomp_and_iomp_are_flagged(with_load_probe, venv_torch, libiomp):
    for facts in native_libs_after_loading(venv_torch, [str(libiomp)]):
        assert facts["multiple_openmp"] is True, facts["source"]
        assert facts["openmp_runtimes"] == ["libgomp", "libiomp"]
        assert any(p.endswith("torch/lib/libgomp.so.1") for p in facts["openmp_files"])
        iomp = [lib for lib in facts["libraries"] if lib["prefix"] == "libiomp"]
        assert iomp and iomp[0]["num_threads"] >= 1


@pytest.mark.skipif(not SYSTEM_LIBGOMP.exists(), reason="no system libgomp")
def test_two_copies_of_one_runtime(with_load_probe, venv_torch):
    for facts in native_libs_after_loading(venv_torch, [str(SYSTEM_LIBGOMP)]):
        assert facts["multiple_openmp"] is False and facts["openmp_runtimes"] == ["libgomp"]
        assert len(facts["openmp_files"]) == 2, facts["openmp_files"]

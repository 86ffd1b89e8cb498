"""GEMM through jax in a real jax venv (the tensorflow path was checked by hand with tensorflow-cpu
2.21.0: a 1.6 GB venv is too heavy for every CI run)."""
from __future__ import annotations

import pytest
from conftest import make_venv

from stackprof import bench
from stackprof.model import Run
from stackprof.target import Target, Task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv_jax():
    return make_venv("jax", ["jax[cpu]==0.10.2"])


def test_jax_gemm(venv_jax):
    cases = [{"dtype": "fp32", "m": 64, "n": 48, "k": 32}, {"dtype": "bf16", "m": 64, "n": 64, "k": 64},
             {"dtype": "fp64", "m": 16, "n": 16, "k": 16}]
    run = Run()
    with Target(venv_jax).session() as session:
        bench.execute(session, run, [Task("bench.gemm", {"framework": "jax", "device": "cpu", "budget_s": 0.05,
                                                         "cases": cases}),
                                     Task("bench.gemm", {"framework": "jax", "device": "cuda:0", "budget_s": 0.05,
                                                         "cases": cases[:1]})])
    bench.finish(run)
    fp32, bf16, fp64, gpu = run.benchmarks
    for r in (fp32, bf16):
        assert r["status"] == "ok" and r["check"]["ok"] and r["value"] > 0, r
        assert "cpu" in r["params"]["jax_device"].lower()
    assert fp64["status"] == "skipped" and "jax_enable_x64" in fp64["reason"]
    assert gpu["status"] == "skipped" and "no CUDA device" in gpu["reason"]

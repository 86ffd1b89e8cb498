"""verify on a real interpreter: a thread cap set in the patient's environment (OMP_NUM_THREADS=1 on this
multi-core machine) is found by B3 and re-measured with the variable unset, baseline interleaved."""
from __future__ import annotations

import copy
import os

import pytest

from stackprof import bench
from stackprof.analyze import analyze
from stackprof.collect import collect_facts
from stackprof.model import Run
from stackprof.target import Target
from stackprof.verify import verify

MEASURED = {"confirmed", "no_effect", "worse", "inconclusive"}


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two CPUs for a thread-count effect")
def test_thread_cap_experiment_is_measured(venv_numpy, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")          # the patient's environment; OPENBLAS_* untouched
    target = Target(venv_numpy)
    run = Run(label="capped")
    collect_facts(target, run, only=["system", "env_vars", "numpy", "native_libs"])
    bench.run_benchmarks(target, run, "quick", only="gemm", device="cpu")
    analyze(run)
    b3 = next(f for f in run.findings if f["id"] == "B3")
    assert b3["experiment"]["env"] == {"OMP_NUM_THREADS": None}
    assert all(run.benchmark(i)["framework"] == "numpy" for i in b3["experiment"]["benchmarks"])

    starved = copy.deepcopy(run)
    verify(target, starved, budget_s=0.5, min_verdicts=0)   # nothing fits: skipped, with the command that proves it
    assert all(f["verification"]["status"] == "skipped" and "stackprof run --python" in f["verification"]["note"]
               for f in starved.findings if f.get("experiment"))

    verify(target, run, budget_s=120)
    v = next(f for f in run.findings if f["id"] == "B3")["verification"]
    assert v["status"] in MEASURED and v["env"] == {"OMP_NUM_THREADS": None}
    assert v["rounds"] >= 2 and v["before"]["value"] > 0 and v["after"]["value"] > 0
    assert 0 < v["ci"][0] <= v["ratio"] <= v["ci"][1]
    print(f"B3 OMP_NUM_THREADS=1 -> unset: {v['status']} {v['ratio']:.2f}x "
          f"(CI {v['ci'][0]:.2f}-{v['ci'][1]:.2f}, p={v['p_value']:.2g}, {v['rounds']} rounds: "
          f"{[b['round_ratios'] for b in v['benchmarks']]}, load {v['load_avg']})")


@pytest.mark.slow
def test_a_gap_between_two_libraries_is_proven_alternately(venv_torch):
    """A pair experiment (A7, M1): numpy's and torch's fp32 GEMM of the same case, measured alternately in
    warm agents of the patient's environment; the verdict compares the two at the same moments."""
    from stackprof.rules.findings import pair_experiment
    target = Target(venv_torch)
    run = Run(label="pair")
    collect_facts(target, run, only=["system"])
    bench.run_benchmarks(target, run, "quick", only="gemm", device="cpu")
    numpy_gemm, torch_gemm = (run.benchmark(f"gemm/{fw}/cpu/fp32/1024x1024x1024") for fw in ("numpy", "torch"))
    slow, fast = sorted((numpy_gemm, torch_gemm), key=lambda r: r["value"])
    run.findings = [{"id": "M1", "kind": "defect", "severity": "medium", "title": "gap", "status": "suspected",
                     "impact": {"kind": "measured", "ratio": fast["value"] / slow["value"]},
                     "experiment": pair_experiment(slow, fast, "alternately")}]
    verify(target, run, budget_s=60)
    v = run.findings[0]["verification"]
    assert v["status"] in MEASURED and v["pair"] == [slow["id"], fast["id"]] and v["rounds"] >= 2
    assert v["benchmarks"][0]["id"] == f"{slow['id']} vs {fast['id']}"
    for side, record in (("before", slow), ("after", fast)):     # each side in its own unit, near its first figure
        assert 0.33 < v[side]["value"] / record["value"] < 3, (side, v[side], record["value"])
    print(f"pair {slow['id']} vs {fast['id']}: {v['status']} {v['ratio']:.2f}x {v['note']}")

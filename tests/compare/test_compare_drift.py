"""Runs measured apart: faster/slower only beyond the larger of the minimum effect and the drift both runs
measured about themselves (run.noise); smaller changes are "within drift", said as such; every verdict
says its basis and the threshold that applied."""
from __future__ import annotations

import random

from stackprof.compare import compare_runs
from stackprof.model import Run


def samples(center, n=20, spread=0.01, seed=0):
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def record(seconds, seed, rid="gemm/numpy/cpu/fp32/1024x1024x1024"):
    return {"id": rid, "op": "gemm", "framework": "numpy", "device": "cpu", "dtype": "fp32", "status": "ok",
            "unit": "GFLOP/s", "direction": "higher", "work": {"flops": 2e9}, "shape": {"m": 1024},
            "method": {"name": "stackprof.harness", "version": "1"}, "timing": "perf_counter",
            "samples_s": samples(seconds, seed=seed)}


def run(seconds, drift, seed, ref=0.010):
    noise = {"drift": drift, "reference": {"start": {"python_loop_s": ref, "copy_64mib_s": 0.004}}} if drift is not None else {}
    return Run(label=f"r{seed}", benchmarks=[record(seconds, seed)], noise=noise)


def verdict(doc):
    return doc["pairs"][0]["benchmarks"][0]


def test_a_change_within_the_drift_the_runs_show_is_within_drift_not_slower():
    doc = compare_runs([run(0.0100, 0.12, 1), run(0.0110, 0.08, 2)])       # −9%, tight samples, p tiny
    entry = verdict(doc)
    assert entry["verdict"] == "within_drift" and entry["basis"] == "apart"
    # each run may sit anywhere within its own drift: (1 + 12%)(1 + 8%) − 1 = 21%
    assert "±21%" in entry["reason"] and doc["pairs"][0]["threshold"]["applied"] == "the combined drift"


def test_a_change_beyond_the_drift_is_called_and_says_so():
    doc = compare_runs([run(0.0100, 0.12, 1), run(0.0200, 0.08, 2)])       # 2x slower
    entry = verdict(doc)
    assert entry["verdict"] == "slower" and "beyond the ±21%" in entry["reason"]


def test_the_machine_reference_raises_the_threshold_when_the_machine_changed():
    doc = compare_runs([run(0.0100, 0.03, 1, ref=0.010), run(0.0125, 0.03, 2, ref=0.013)])   # machine 30% slower
    threshold = doc["pairs"][0]["threshold"]
    assert threshold["parts"]["change of the machine reference between the runs"] == 0.3 and threshold["value"] > 0.3
    assert verdict(doc)["verdict"] == "within_drift"


def test_runs_without_a_noise_measurement_say_so():
    doc = compare_runs([run(0.0100, None, 1), run(0.0101, None, 2)])
    assert "not measured" in doc["pairs"][0]["threshold"]["reason"]


def test_each_kind_of_operation_is_held_to_its_own_drift():
    def with_families(run_, compute, memory):
        run_.noise = dict(run_.noise, drift=max(compute, memory),
                          drift_by_family={"compute": compute, "memory": memory})
        return run_
    stream = dict(record(0.0100, 3, rid="stream_triad/numpy/cpu/fp64/n1"), op="stream_triad", unit="GB/s",
                  work={"bytes": 1e8})
    a = with_families(run(0.0100, 0.03, 1), 0.03, 0.30)
    b = with_families(run(0.0112, 0.03, 2), 0.02, 0.25)
    a.benchmarks.append(stream)
    b.benchmarks.append(dict(stream, samples_s=samples(0.0112, seed=4)))
    doc = compare_runs([a, b])
    gemm, triad = doc["pairs"][0]["benchmarks"]
    assert gemm["verdict"] == "slower" and gemm["threshold"] == 0.0506       # GEMM drifted 3% and 2%: −11% is real
    assert triad["verdict"] == "within_drift" and triad["threshold"] == 0.625   # memory drifted 30% and 25%


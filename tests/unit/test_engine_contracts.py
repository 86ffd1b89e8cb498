"""Contracts of the measurement engine: one judge decides every A/B verdict (verify and compare call the same
function), one conversion from time to value, and measurements cannot be changed by a stage that
receives them."""
from __future__ import annotations

import copy
import random
from types import MappingProxyType

import pytest

from stackprof import bench, judge, measurement
from stackprof.compare import verdicts
from stackprof import verify


def samples(center, n=20, seed=0):
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-0.01, 0.01)) for _ in range(n)]


RECORD = {"id": "gemm/numpy/cpu/fp32/64x64x64", "op": "gemm", "framework": "numpy", "device": "cpu",
          "dtype": "fp32", "unit": "GFLOP/s", "direction": "higher", "work": {"flops": 2 * 64 ** 3},
          "shape": {"m": 64}, "params": {"num_threads": 2}, "status": "ok", "samples_s": samples(1e-3),
          "method": {"name": "stackprof.harness", "version": "1"}, "timing": "perf_counter"}


def test_verify_and_compare_ask_the_same_judge(monkeypatch):
    calls = []
    real = judge.decide

    def spy(*args, **kwargs):
        calls.append(kwargs.get("names"))
        return real(*args, **kwargs)
    monkeypatch.setattr(judge, "decide", spy)
    verify.judge_record(RECORD, [samples(2e-3, seed=1)] * 2, [samples(1e-3, seed=2)] * 2)
    verdicts.compare_records(RECORD, dict(RECORD, samples_s=samples(2e-3, seed=3)))
    assert calls == [("before", "after"), ("A", "B")]


def test_the_same_data_gets_the_same_answer_from_verify_and_compare():
    a, b = samples(1e-3, seed=1), samples(0.8e-3, seed=2)
    from_verify = verify.judge_record(RECORD, [a], [b])
    from_compare = verdicts.compare_records(dict(RECORD, samples_s=a), dict(RECORD, samples_s=b))
    assert from_verify["status"] == "confirmed" and from_compare["verdict"] == "faster"
    assert from_verify["ratio"] == pytest.approx(from_compare["speedup"], rel=1e-3)


def test_one_conversion_from_time_to_value():
    assert measurement.throughput("GFLOP/s", {"flops": 4e9}, 2.0) == pytest.approx(2.0)
    assert measurement.throughput("GB/s", {"bytes": 3e9}, 1.0) == pytest.approx(3.0)
    assert measurement.throughput("us", {}, 2e-6) == pytest.approx(2.0)
    assert measurement.throughput("GFLOP/s", {"flops": 1.0}, 0.0) is None
    m = measurement.Measurement.from_record(RECORD)
    assert m.value == measurement.throughput(m.unit, m.work, m.median_s)
    assert bench.annotate(RECORD, {})["value"] == m.value


def test_a_measurement_cannot_be_changed_by_whoever_receives_it():
    m = measurement.Measurement.from_record(RECORD)
    with pytest.raises(Exception):
        m.status = "failed"                                   # frozen
    with pytest.raises(TypeError):
        m.params["num_threads"] = 1                           # nested mappings are read-only
    assert isinstance(m.work, MappingProxyType) and isinstance(m.samples_s, tuple)
    again = m.to_record()
    again["params"]["num_threads"] = 99                       # a plain copy: the measurement is untouched
    assert m.params["num_threads"] == 2


def test_assess_and_verdicts_return_new_values():
    records = [copy.deepcopy(RECORD), dict(copy.deepcopy(RECORD), id="gemm/torch/cpu/fp32/64x64x64",
                                           framework="torch", samples_s=samples(0.5e-3, seed=4))]
    snapshot = copy.deepcopy(records)
    out = bench.assess(records, {})
    assert records == snapshot and out[0] is not records[0] and out[0]["pct_of_best"] == pytest.approx(0.5, rel=0.05)
    finding = {"id": "X", "severity": "medium", "kind": "defect", "status": "suspected", "title": "t",
               "impact": {"kind": "estimated", "ratio": 1.3}, "experiment": {"env": {"A": None}, "benchmarks": []}}
    kept = copy.deepcopy(finding)
    verdict = verify.combine([verify.judge_record(RECORD, [samples(2e-3)] * 2, [samples(1e-3, seed=5)] * 2)])
    new = verify.apply_verdict(finding, verdict)
    assert finding == kept and new["status"] == "confirmed"

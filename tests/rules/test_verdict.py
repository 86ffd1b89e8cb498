"""verify's verdict from interleaved before/after samples (through the one judge): effect, no effect,
opposite effect, drift; and what a verdict does to a finding (a new finding: the input is not changed)."""
from __future__ import annotations

import random

import pytest

from stackprof.verify import apply_verdict, combine, judge_record as judge

RECORD = {"id": "gemm/numpy/cpu/fp32/512x512x512", "unit": "GFLOP/s", "work": {"flops": 2 * 512 ** 3}}


def samples(center: float, n: int = 12, spread: float = 0.02, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_clear_speedup_is_confirmed_with_ci_and_p():
    result = judge(RECORD, [samples(2e-3, seed=1), samples(2e-3, seed=2)], [samples(1e-3, seed=3), samples(1e-3, seed=4)])
    assert result["status"] == "confirmed"
    assert result["ratio"] == pytest.approx(2.0, rel=0.05)
    assert 1.8 < result["ci"][0] <= result["ratio"] <= result["ci"][1] < 2.2
    assert result["p_value"] < 1e-4
    assert result["before"]["value"] == pytest.approx(2 * 512 ** 3 / 2e-3 / 1e9, rel=0.05)


def test_same_distribution_is_no_effect():
    result = judge(RECORD, [samples(1e-3, seed=1), samples(1e-3, seed=2)], [samples(1e-3, seed=3), samples(1e-3, seed=4)])
    assert result["status"] == "no_effect"


def test_slowdown_is_worse():
    result = judge(RECORD, [samples(1e-3, seed=1), samples(1e-3, seed=2)], [samples(1.5e-3, seed=3), samples(1.5e-3, seed=4)])
    assert result["status"] == "worse" and result["ratio"] < 1


def test_drift_between_rounds_is_not_an_effect():
    # Round 1: after looks faster; round 2: after looks slower (the machine got busier, then idle).
    before = [samples(1.0e-3, seed=1), samples(1.0e-3, seed=2)]
    after = [samples(0.6e-3, seed=3), samples(1.3e-3, seed=4)]
    assert judge(RECORD, before, after)["status"] == "inconclusive"


def test_wide_noise_is_inconclusive_not_no_effect():
    result = judge(RECORD, [samples(1e-3, spread=0.8, seed=1), samples(1e-3, spread=0.8, seed=2)],
                   [samples(1e-3, spread=0.8, seed=3), samples(1e-3, spread=0.8, seed=4)])
    assert result["status"] == "inconclusive" and result["ci"][1] / result["ci"][0] > 1.2


def test_inconclusive_verdict_keeps_the_finding_as_suspected():
    finding = _finding()
    result = judge(RECORD, [samples(1e-3, spread=0.8, seed=1)] * 2, [samples(1e-3, spread=0.8, seed=3)] * 2)
    finding = apply_verdict(finding, dict(combine([result]), benchmarks=[result]))
    assert finding["verification"]["status"] == "inconclusive"
    assert finding["status"] == "suspected" and finding["severity"] == "high" and finding["impact"]["kind"] == "estimated"


def test_small_but_significant_change_below_threshold_is_no_effect():
    result = judge(RECORD, [samples(1.00e-3, 30, 0.001, 1), samples(1.00e-3, 30, 0.001, 2)],
                   [samples(0.98e-3, 30, 0.001, 3), samples(0.98e-3, 30, 0.001, 4)])
    assert result["p_value"] < 0.01 and result["status"] == "no_effect"


def test_missing_rounds_fail():
    assert judge(RECORD, [], [samples(1e-3)])["status"] == "failed"


def test_a_small_confirmed_effect_is_low_and_a_medium_one_medium():
    for after, expected in ((0.93e-3, "low"), (0.8e-3, "medium")):        # 1.08× and 1.25×
        result = judge(RECORD, [samples(1e-3, 30, 0.002, 1)] * 2, [samples(after, 30, 0.002, 2)] * 2)
        finding = apply_verdict(_finding("high"), dict(combine([result]), benchmarks=[result]))
        assert finding["status"] == "confirmed" and finding["severity"] == expected, (after, finding["severity"])


def test_combine_mixed_results_is_no_effect_and_says_so():
    up = judge(RECORD, [samples(2e-3, seed=1)] * 2, [samples(1e-3, seed=2)] * 2)
    down = judge(dict(RECORD, id="other"), [samples(1e-3, seed=1)] * 2, [samples(2e-3, seed=2)] * 2)
    verdict = combine([up, down])
    assert verdict["status"] == "inconclusive" and verdict["note"].startswith("mixed")


def _finding(severity="high"):
    return {"id": "A6", "severity": severity, "title": "t", "status": "suspected",
            "impact": {"kind": "estimated", "ratio": 1.35, "text": "x", "source": "s"},
            "experiment": {"env": {"X": None}, "benchmarks": [RECORD["id"]], "description": "X unset"}}


def test_confirmed_verdict_becomes_the_measured_impact():
    original = _finding("medium")
    result = judge(RECORD, [samples(3e-3)] * 2, [samples(1e-3, seed=5)] * 2)
    finding = apply_verdict(original, dict(combine([result]), benchmarks=[result]))
    assert original["status"] == "suspected" and "verification" not in original     # not changed
    assert finding["status"] == "confirmed" and finding["severity"] == "high"       # 3× ≥ 1.5×: high
    assert finding["impact"]["kind"] == "measured" and finding["impact"]["ratio"] == pytest.approx(3, rel=0.05)
    assert finding["verification"]["estimate"]["ratio"] == 1.35


def test_no_effect_downgrades_and_says_so():
    finding = _finding("high")
    result = judge(RECORD, [samples(1e-3, seed=1)] * 2, [samples(1e-3, seed=2)] * 2)
    finding = apply_verdict(finding, dict(combine([result]), benchmarks=[result]))
    assert finding["status"] == "not_confirmed" and finding["severity"] == "info"
    assert "no effect" in finding["title"] and "no measurable effect" in finding["impact"]["text"]
    assert finding["verification"]["severity_before"] == "high"


def test_skipped_verdict_keeps_the_finding_as_suspected():
    finding = apply_verdict(_finding(), {"status": "skipped", "note": "over the verification budget"})
    assert finding["status"] == "suspected" and finding["severity"] == "high"
    assert finding["verification"]["status"] == "skipped"


def test_a_pair_that_does_not_hold_up_alternately_is_a_question_not_a_defect():
    finding = dict(_finding("medium"), experiment={"env": {}, "pair": ["a", "b"], "benchmarks": ["a", "b"]})
    result = judge(RECORD, [samples(1e-3, spread=0.3, seed=1)] * 2, [samples(1e-3, spread=0.3, seed=2)] * 2)
    verdict = dict(combine([result]), benchmarks=[result], pair=["a", "b"])
    assert verdict["status"] == "inconclusive"
    out = apply_verdict(finding, verdict)
    assert out["severity"] == "info" and "not borne out" in out["title"] and out["status"] == "suspected"

"""Verdict logic: ratio of medians, bootstrap interval, Mann-Whitney U, minimum effect, noisy."""
from __future__ import annotations

import pytest

from stackprof.compare.verdicts import compare_records
from stackprof.judge import ALPHA, MIN_EFFECT

from .builders import measured_samples, record, samples


def test_real_timings_ten_times_the_work_is_slower():
    # Same id and metadata, but B times ten times the elements: a real slowdown, measured here.
    a = record(samples_s=measured_samples(200_000, n=40))
    b = record(samples_s=measured_samples(2_000_000, n=40))
    out = compare_records(a, b)
    assert out["verdict"] == "slower", out["reason"]
    assert out["speedup"] < 1 / (1 + MIN_EFFECT)
    assert out["p_value"] < ALPHA
    lo, hi = out["speedup_ci"]
    assert lo <= out["speedup"] <= hi


def test_faster_with_interval_and_direction_higher():
    out = compare_records(record(samples_s=samples(0.010, seed=1)), record(samples_s=samples(0.008, seed=2)))
    assert out["verdict"] == "faster"
    assert out["speedup"] == pytest.approx(1.25, rel=0.03)
    assert out["ratio"] == out["speedup"]                    # GFLOP/s: higher is better, ratio = speedup
    assert out["speedup_ci"][0] > 1 + MIN_EFFECT


def test_direction_lower_restates_ratio_in_the_unit():
    kw = dict(unit="us", direction="lower", op="launch", work={"flops": None, "bytes": None})
    out = compare_records(record("launch/torch/cpu/fp32/empty", samples(2e-5, seed=1), **kw),
                          record("launch/torch/cpu/fp32/empty", samples(1e-5, seed=2), **kw))
    assert out["verdict"] == "faster"                          # half the time
    assert out["ratio"] == pytest.approx(0.5, rel=0.03)       # the latency ratio B/A
    assert out["ratio_ci"][1] < 1


def test_same_when_difference_is_below_the_minimum_effect_even_if_significant():
    a = record(samples_s=samples(0.010, n=200, spread=0.005, seed=1))
    b = record(samples_s=samples(0.0098, n=200, spread=0.005, seed=2))   # 2 % faster, clearly significant
    out = compare_records(a, b)
    assert out["p_value"] < ALPHA
    assert out["verdict"] == "same"


def test_identical_distributions_are_same():
    out = compare_records(record(samples_s=samples(0.01, seed=3)), record(samples_s=samples(0.01, seed=4)))
    assert out["verdict"] == "same"


def test_noisy_when_a_side_spreads_and_interval_straddles_threshold():
    a = record(samples_s=samples(0.010, n=12, spread=0.01, seed=1))
    b = record(samples_s=samples(0.0095, n=12, spread=0.25, seed=2))
    out = compare_records(a, b)
    assert out["b"]["noisy"] and not out["a"]["noisy"]
    assert out["verdict"] == "noisy", out["reason"]
    assert "IQR/median" in out["reason"]


def test_large_change_with_too_few_samples_is_noisy_not_faster():
    out = compare_records(record(samples_s=samples(0.010, n=3, seed=1)), record(samples_s=samples(0.007, n=3, seed=2)))
    assert out["verdict"] == "noisy"
    assert "too few samples" in out["reason"]


@pytest.mark.parametrize("field,value,word", [
    ("method", {"name": "gemm", "version": "2"}, "method"),
    ("shape", {"m": 256, "n": 256, "k": 256}, "shape"),
    ("dtype", "fp64", "dtype"),
    ("unit", "TFLOP/s", "unit"),
])
def test_not_comparable(field, value, word):
    out = compare_records(record(), record(**{field: value}))
    assert out["verdict"] == "not_comparable"
    assert word in out["reason"]
    assert out["speedup"] is None


def test_failed_and_skipped_on_one_side():
    failed = compare_records(record(), record(status="failed", reason="wrong result", samples_s=[]))
    assert failed["verdict"] == "failed" and "failed in B: wrong result" in failed["reason"]
    skipped = compare_records(record(status="skipped", reason="no CUDA device", samples_s=[]), record())
    assert skipped["verdict"] == "skipped" and "skipped in A" in skipped["reason"]


def test_missing_and_no_samples():
    assert compare_records(record(), None)["verdict"] == "missing"
    out = compare_records(record(samples_s=[]), record())
    assert out["verdict"] == "not_comparable" and "no raw samples" in out["reason"]


def test_interleaved_rounds_must_each_show_the_change():
    # Round 1 measured B under a burst of load (12 % slower), round 2 found 3 %: tight samples, p tiny.
    a = samples(0.010, n=14, spread=0.005, seed=1) + samples(0.010, n=6, spread=0.005, seed=2)
    b = samples(0.0112, n=14, spread=0.005, seed=3) + samples(0.0103, n=6, spread=0.005, seed=4)
    out = compare_records(record(samples_s=a, round_sizes=[14, 6]), record(samples_s=b, round_sizes=[14, 6]))
    assert out["p_value"] < ALPHA and out["speedup"] < 1 / (1 + MIN_EFFECT)
    assert not out["b"]["noisy"]
    assert out["verdict"] == "noisy" and "rounds disagree" in out["reason"]
    assert out["round_speedups"][0] < 0.92 and out["round_speedups"][1] > 0.95


def test_interleaved_rounds_that_agree_give_the_verdict():
    a = samples(0.010, n=10, seed=1) + samples(0.0105, n=10, seed=2)
    b = samples(0.006, n=10, seed=3) + samples(0.0062, n=10, seed=4)
    out = compare_records(record(samples_s=a, round_sizes=[10, 10]), record(samples_s=b, round_sizes=[10, 10]))
    assert out["verdict"] == "faster" and "every round" in out["reason"]
    assert len(out["round_speedups"]) == 2


def test_round_sizes_that_do_not_match_the_samples_are_ignored():
    out = compare_records(record(samples_s=samples(0.010, seed=1), round_sizes=[3, 3]),
                          record(samples_s=samples(0.006, seed=2), round_sizes=[15, 15]))
    assert out["round_speedups"] is None and out["verdict"] == "faster"


def _two_rounds(med_a, med_b, waits_a, waits_b):
    a = samples(med_a[0], n=10, seed=1) + samples(med_a[1], n=10, seed=2)
    b = samples(med_b[0], n=10, seed=3) + samples(med_b[1], n=10, seed=4)
    return compare_records(record(samples_s=a, round_sizes=[10, 10], cpu_wait=waits_a),
                           record(samples_s=b, round_sizes=[10, 10], cpu_wait=waits_b))


def test_a_round_in_which_other_work_held_the_cpus_is_left_out():
    # Round 1: B waited 40 % of its time for a CPU and looks 3x slower; round 2 is clean and equal.
    out = _two_rounds((0.010, 0.010), (0.030, 0.0101), [0.01, 0.02], [0.40, 0.01])
    assert out["contended_rounds"] == [0]
    assert out["verdict"] == "same" and "round 1 left out" in out["reason"]


def test_one_clean_round_is_not_enough_for_a_verdict():
    out = _two_rounds((0.010, 0.010), (0.030, 0.006), [0.01, 0.02], [0.40, 0.01])
    assert out["verdict"] == "noisy" and "one round only" in out["reason"]


def test_every_round_contended_is_noisy():
    out = _two_rounds((0.010, 0.010), (0.006, 0.006), [0.30, 0.25], [0.01, 0.01])
    assert out["verdict"] == "noisy" and "every round" in out["reason"]
    assert out["speedup"] > 1.5                      # the numbers are still reported

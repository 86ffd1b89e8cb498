"""The timing harness itself, driven in-process with plain-Python kernels (the harness is standard
library only): budgets, inner-loop amortisation, preparation outside the timed region, and every
way a case can end (ok, failed check, NaN, exception, skip, out of memory)."""
from __future__ import annotations

import math
import time

import pytest

from stackprof.bench_suite import probe_module

harness = probe_module("harness")


def new_record(dtype="fp32"):
    spec = {"op": "test", "framework": "python", "device": "cpu", "dtype": dtype, "shape_text": "1",
            "unit": "us", "direction": "lower"}
    return harness.base_record(spec, "bench.test", {"cases": [{}]})


def run(kernel_or_prepare, budget=0.1, dtype="fp32"):
    prepare = kernel_or_prepare if callable(kernel_or_prepare) else (lambda: kernel_or_prepare)
    return harness.run_case(new_record(dtype), prepare, budget)


def good_check(_):
    return [1.0, 2.0], [1.0, 2.0]


def test_tiny_kernel_is_amortised_and_sampled_within_budget():
    started = time.perf_counter()
    rec = run(harness.Kernel(lambda: sum(range(10)), good_check), budget=0.2)
    elapsed = time.perf_counter() - started
    assert rec["status"] == "ok" and rec["timing"] == "perf_counter"
    assert rec["inner"] > 10                                   # one block >= MIN_BLOCK_S
    assert len(rec["samples_s"]) >= harness.MIN_REPS
    assert all(0 < s < harness.MIN_BLOCK_S for s in rec["samples_s"])      # per call, not per block
    assert elapsed < 0.6
    assert rec["method"] == harness.METHOD and rec["check"]["ok"] is True


def test_slow_kernel_still_gets_repetitions():
    rec = run(harness.Kernel(lambda: time.sleep(0.03), good_check), budget=0.05)
    assert rec["status"] == "ok" and rec["inner"] == 1
    assert len(rec["samples_s"]) >= harness.SLOW_MIN_REPS
    assert all(s >= 0.03 for s in rec["samples_s"])


def test_preparation_runs_outside_the_timed_region():
    calls = []
    kernel = harness.Kernel(lambda: None, good_check, before=lambda: (calls.append(1), time.sleep(0.005)))
    rec = run(kernel, budget=0.05)
    assert len(rec["samples_s"]) >= harness.MIN_REPS and rec["inner"] == 1                  # one flush per call
    assert len(calls) == len(rec["samples_s"]) + 1          # once more to size the repetitions by time
    assert max(rec["samples_s"]) < 0.004                      # the 5 ms preparation is not in the samples


def test_calls_per_fn_divides_samples():
    kernel = harness.Kernel(lambda: time.sleep(0.002), good_check)
    kernel.calls_per_fn = 100
    rec = run(kernel, budget=0.05)
    assert rec["inner"] == 100 and all(s < 0.0002 for s in rec["samples_s"])


def test_wrong_result_fails_without_timing():
    rec = run(harness.Kernel(lambda: None, lambda _: ([1.0, 2.5], [1.0, 2.0])))
    assert rec["status"] == "failed" and rec["samples_s"] == []
    assert rec["reason"].startswith("wrong result: relative error")
    assert rec["check"]["ok"] is False and rec["check"]["max_rel_err"] == pytest.approx(0.5 / math.sqrt(5))


def test_nan_output_fails():
    rec = run(harness.Kernel(lambda: None, lambda _: ([float("nan")], [1.0])))
    assert rec["status"] == "failed" and rec["check"]["max_rel_err"] == float("inf")


def test_dtype_tolerance_applies():
    almost = harness.Kernel(lambda: None, lambda _: ([1.001], [1.0]))          # 1e-3 relative error
    assert run(almost, dtype="bf16")["status"] == "ok"
    assert run(almost, dtype="fp32")["status"] == "failed"


def test_exceptions_become_records():
    def boom():
        raise RuntimeError("kernel exploded\nwith details")
    rec = run(harness.Kernel(boom, good_check))
    assert rec["status"] == "failed" and rec["reason"] == "RuntimeError: kernel exploded with details"

    def no_memory():
        raise MemoryError("cannot allocate 4 GiB")
    assert run(no_memory)["status"] == "skipped"
    assert run(no_memory)["reason"].startswith("out of memory")

    def cannot():
        raise harness.Skip("no CUDA device")
    assert (run(cannot)["status"], run(cannot)["reason"]) == ("skipped", "no CUDA device")


def test_cleanup_runs_even_when_the_check_fails():
    cleaned = []
    kernel = harness.Kernel(lambda: None, lambda _: ([2.0], [1.0]), cleanup=lambda: cleaned.append(1))
    run(kernel)
    assert cleaned == [1]


def test_relative_error():
    assert harness.relative_error([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert harness.relative_error([0.0, 0.0], [3.0, 4.0]) == pytest.approx(1.0)
    assert harness.relative_error([1.0], [1.0, 2.0]) == float("inf")
    assert harness.relative_error([1.0], [0.0]) == float("inf")


class FakeCuda:
    """Thin stand-in for torch.cuda (no GPU here): events read the host clock when recorded,
    so the harness's CUDA-event path (pairs per block, one sync, ms -> s) runs unchanged."""

    class Event:
        def __init__(self, enable_timing=False):
            self.t = None

        def record(self):
            self.t = time.perf_counter()

        def elapsed_time(self, end):
            return (end.t - self.t) * 1000.0

    def __init__(self):
        self.syncs = 0

    def synchronize(self, device=None):
        self.syncs += 1

    def device(self, device):
        import contextlib
        return contextlib.nullcontext()


def test_cuda_event_timer_path():
    fake = type("torch", (), {"cuda": FakeCuda()})()
    timer = harness.CudaTimer(fake, "cuda:0")
    kernel = harness.Kernel(lambda: time.sleep(0.002), good_check, before=lambda: time.sleep(0.004), timer=timer)
    rec = run(kernel, budget=0.05)
    assert rec["status"] == "ok" and rec["timing"] == "cuda_event"
    assert all(0.002 <= s < 0.0035 for s in rec["samples_s"])      # the flush before each rep is outside
    syncs_before_blocks = 1 + rec["params"]["warmup_calls"] + 1     # first call, estimate/warm-up, timed flush
    assert fake.cuda.syncs == syncs_before_blocks + 1               # one sync after all timed blocks

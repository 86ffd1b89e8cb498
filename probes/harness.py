"""The one timing harness, used by every benchmark probe (runs in the TARGET interpreter).

A benchmark describes a case (`spec`: what it measures and how much work one call does) and
prepares a `Kernel` (the call, a correctness check, optional per-repetition preparation and a
timer). `run_case` then:
  1. makes the first call (handles, autotuning, compilation) and checks its output against a
     higher-precision reference on a sample: a wrong result ends the case as "failed";
  2. estimates the time per call and sizes an inner loop so that one timed block lasts at least
     MIN_BLOCK_S (tiny kernels are amortised over many calls) — or, under a CPU quota, at least
     SUSTAIN_PERIODS quota periods: a short block runs on every visible CPU until the quota is spent
     and never sees the throttled rest of the period, so only blocks spanning several periods
     measure the sustained rate (what a training loop gets);
  3. warms up for a share of the time budget;
  4. times repetitions until the budget is spent (at least MIN_REPS) and returns the raw
     per-call seconds. Statistics are computed once, on the host.
On GPU the timer records CUDA events around each block and synchronises once at the end;
per-repetition preparation (L2 flush, output refill) runs outside the event pair.
Standard library only (frameworks are handed in by the benchmarks); Python 3.8 syntax.
"""
import math
import os
import random
import time

METHOD = {"name": "stackprof.harness", "version": "1"}

MIN_BLOCK_S = 1e-3        # shorter timed blocks are dominated by timer and launch noise
MIN_REPS = 5
SLOW_MIN_REPS = 3         # when 5 calls would not fit twice the budget
MAX_REPS = 2000
WARMUP_SHARE = 0.2        # of the case budget, after the first call
ESTIMATE_S = 0.02         # time spent estimating the per-call time
CHECK_ROWS = 4            # rows (or elements x 1000) compared against the reference
SUSTAIN_PERIODS = 3       # under a CPU quota a timed block spans at least this many quota periods
SUSTAIN_MIN_REPS = 3

# Normwise relative error ||out - ref|| / ||ref|| accepted per dtype (METHOD.md: fp32 far under
# 1e-3, tf32 near 3e-4, bf16 1e-3..1e-2; outputs in bf16/fp16 add their own rounding).
TOLERANCE = {"fp64": 1e-9, "fp32": 1e-4, "tf32": 5e-3, "bf16": 3e-2, "fp16": 5e-3, "fp8": 6e-2}


class Skip(Exception):
    """The case cannot run here; the message is the reason ("no CUDA device", ...)."""


class Kernel(object):
    """What a benchmark hands to the harness.

    fn:     runs the kernel once, returns its output (kept for the check).
    check:  fn(output) -> (actual, expected): two equal-length sequences of numbers, the output
            on a sample and the same sample computed in higher precision.
    before: runs before each timed repetition, outside the timed region (L2 flush, refill).
    timer:  CpuTimer() or CudaTimer(torch, device).
    tol:    overrides the dtype's tolerance; cleanup: runs after the case (restores settings).
    calls_per_fn: how many measured operations one fn() performs (a replayed graph of N ops).
    min_warm_calls: calls made before any sample counts, whatever the time budget: a case whose first
            calls depend on a cache (torch.compile, cudnn.benchmark, autotuning) is warmed the same way in
            every environment it is compared across.
    """

    def __init__(self, fn, check=None, before=None, timer=None, tol=None, cleanup=None):
        self.fn, self.check, self.before = fn, check, before
        self.timer = timer or CpuTimer()
        self.tol = tol
        self.cleanup = cleanup
        self.calls_per_fn = 1
        self.min_warm_calls = 0


class CpuTimer(object):
    name = "perf_counter"

    def __init__(self, sync=None):
        self.sync = sync or (lambda: None)

    def blocks(self, fn, inner, reps, before):
        samples = []
        for _ in range(reps):
            if before is not None:
                before()
                self.sync()
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            self.sync()
            samples.append((time.perf_counter() - start) / inner)
        return samples


class CudaTimer(object):
    """CUDA events around each block; one synchronisation after all repetitions."""
    name = "cuda_event"

    def __init__(self, torch, device):
        self.torch, self.device = torch, device

    def sync(self):
        self.torch.cuda.synchronize(self.device)

    def blocks(self, fn, inner, reps, before):
        cuda = self.torch.cuda
        pairs = []
        with cuda.device(self.device):
            for _ in range(reps):
                if before is not None:
                    before()                    # enqueued before the start event: not timed
                start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
                start.record()
                for _ in range(inner):
                    fn()
                end.record()
                pairs.append((start, end))
            self.sync()
        return [s.elapsed_time(e) / 1000.0 / inner for s, e in pairs]


def case_id(spec):
    parts = [spec["op"], spec["framework"], spec["device"], spec["dtype"], spec["shape_text"]]
    if spec.get("variant"):
        parts.append(spec["variant"])
    return "/".join(parts)


def base_record(spec, probe, task_args):
    return {
        "id": case_id(spec), "op": spec["op"], "framework": spec["framework"],
        "device": spec["device"], "dtype": spec["dtype"], "shape": spec.get("shape") or {},
        "params": dict(spec.get("params") or {}), "variant": spec.get("variant"),
        "unit": spec["unit"], "direction": spec["direction"],
        "work": {"flops": spec.get("flops"), "bytes": spec.get("bytes")},
        "samples_s": [], "inner": 1, "timing": None, "method": dict(METHOD), "check": None,
        "status": "ok", "reason": None, "task": {"probe": probe, "args": task_args},
        "role": spec.get("role"),      # "search": a shape searched for (not a stable case)
    }


def skipped(record, reason):
    record["status"], record["reason"] = "skipped", one_line(reason)
    return record


def one_line(text, limit=400):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_error(exc):
    return one_line("%s: %s" % (type(exc).__name__, exc))


def is_out_of_memory(exc):
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text


def run_case(record, prepare, budget_s, extra_warmup_s=0.0):
    """Fill `record` (from base_record) by preparing and timing one case; never raises.
    extra_warmup_s: additional warm-up (a GPU's thermal warm-up before the first case)."""
    kernel = None
    try:
        kernel = prepare()
        _measure(record, kernel, budget_s, extra_warmup_s)
    except Skip as exc:
        skipped(record, str(exc))
    except Exception as exc:  # a broken kernel becomes a record, never a lost run
        if is_out_of_memory(exc):
            skipped(record, "out of memory: " + describe_error(exc))
        else:
            record["status"], record["reason"] = "failed", describe_error(exc)
    finally:
        clean_up(kernel)
    return record


def clean_up(kernel):
    """Run a kernel's cleanup (restores settings it changed); a failing cleanup is not the case's failure."""
    if kernel is not None and kernel.cleanup is not None:
        try:
            kernel.cleanup()
        except Exception:
            pass


def _measure(record, kernel, budget_s, extra_warmup_s):
    fn, timer = kernel.fn, kernel.timer
    if hasattr(os, "getloadavg"):
        record["params"]["load_avg_1m"] = os.getloadavg()[0]     # context: other work on the machine
    started = time.perf_counter()
    output = fn()
    timer.sync()
    first_s = time.perf_counter() - started
    record["params"]["first_call_s"] = first_s
    if kernel.check is not None:
        tol = kernel.tol if kernel.tol is not None else TOLERANCE.get(record["dtype"], 1e-4)
        actual, expected = kernel.check(output)
        err = relative_error(actual, expected)
        record["check"] = {"ok": err <= tol, "max_rel_err": err, "tol": tol, "metric": "normwise",
                           "sample": len(expected)}
        if not err <= tol:
            record["status"] = "failed"
            record["reason"] = "wrong result: relative error %.3g exceeds tolerance %.3g" % (err, tol)
            return
    del output

    # Per-call time, measured after the first call (which paid one-time costs).
    sustain_s = sustained_block_s()
    min_block = max(MIN_BLOCK_S, sustain_s or 0.0)
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        timer.sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min(ESTIMATE_S, budget_s * 0.05) or calls >= 1000:
            break
    per_call = elapsed / calls
    # A kernel with per-repetition preparation (an L2 flush) is timed one call per block.
    short = per_call < min_block and kernel.before is None
    inner = int(math.ceil(min_block / per_call)) if short else 1

    warm_until = start + max(budget_s * WARMUP_SHARE, sustain_s or 0.0) + extra_warmup_s
    warm_calls = calls
    while time.perf_counter() < warm_until or warm_calls < kernel.min_warm_calls:
        fn()
        warm_calls += 1
        timer.sync()

    rep_s = per_call * inner + _time_once(kernel.before, timer)       # the preparation costs time too
    min_reps = MIN_REPS if rep_s * MIN_REPS <= 2 * budget_s else SLOW_MIN_REPS
    if sustain_s:
        min_reps = SUSTAIN_MIN_REPS
        record["params"]["sustained"] = {"block_s": min_block, "periods": SUSTAIN_PERIODS,
                                         "quota_cores": _QUOTA[0], "period_s": _QUOTA[1]}
        record["method"]["blocks"] = "sustained"     # not comparable with short blocks
    reps = int(budget_s * (1 - WARMUP_SHARE) / max(rep_s, 1e-9))
    reps = max(min_reps, min(MAX_REPS, reps))
    samples = timer.blocks(fn, inner, reps, kernel.before)
    record["samples_s"] = [t / kernel.calls_per_fn for t in samples]
    record["inner"] = inner * kernel.calls_per_fn
    record["timing"] = timer.name
    record["params"]["warmup_calls"] = warm_calls
    record["params"]["measure_s"] = time.perf_counter() - started


_QUOTA = []


def sustained_block_s():
    """SUSTAIN_PERIODS x the CPU quota period when this process runs under a CPU quota, else None.
    Read once per process from its cgroup (facts/_cgroup.py: v1 and v2)."""
    if not _QUOTA:
        try:
            from .facts import _cgroup
            limits = _cgroup.limits()
            _QUOTA.extend([limits.get("cpu_quota_cores"), limits.get("cpu_period_s")])
        except Exception:
            _QUOTA.extend([None, None])
    quota, period = _QUOTA
    return SUSTAIN_PERIODS * period if quota and period else None


def _time_once(fn, timer):
    if fn is None:
        return 0.0
    start = time.perf_counter()
    fn()
    timer.sync()
    return time.perf_counter() - start


def relative_error(actual, expected):
    """||actual - expected|| / ||expected||; inf for NaN, length mismatch or an all-zero reference."""
    actual, expected = [float(v) for v in actual], [float(v) for v in expected]
    if len(actual) != len(expected) or not expected:
        return float("inf")
    num = sum((a - e) ** 2 for a, e in zip(actual, expected))
    den = sum(e * e for e in expected)
    if not (math.isfinite(num) and den > 0):
        return float("inf")
    return math.sqrt(num / den)


def sample_indices(n, count, seed=0):
    """A few distinct random indices in range(n), reproducible."""
    rng = random.Random(seed)
    count = min(count, n)
    return sorted(rng.sample(range(n), count))

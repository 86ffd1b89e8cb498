"""The noise floor a run measures about itself, so that a later comparison of runs measured apart
knows how far this machine drifts on its own (run.noise; docs/schema-noise.md).

Two measurements, both cheap:
- **repeats**: a few key cases (one per framework and family: GEMM, a STREAM-like copy, an elementwise
  kernel) measured again at the end of the benchmark stage; the ratio to their first measurement is the
  drift within the run — what a shared machine does to the same work a few seconds apart.
- **reference workload**: a fixed pure-Python loop and a 64 MiB memory copy, run by the HOST interpreter
  (stackprof's own, never the environment being diagnosed) at the start and at the end of the benchmark
  stage: it calibrates the machine, not the stack, so two runs compared later can tell "the machine
  was slower that day" from "this environment is slower".
``drift`` = the largest change (max(ratio, 1/ratio) − 1) of the repeats and of the reference between start
and end; ``drift_by_family`` the same per kind of work.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from statistics import median

KEY_FAMILIES = (("gemm",), ("stream_triad", "stream_copy", "stream_add", "stream_scale"),
                ("softmax", "exp", "layer_norm", "sum"), ("mlp", "dispatch"))
MAX_REPEATS = 4             # one key case per family first …
REPEAT_BUDGET_S = 6.0       # … then every other cheap CPU case, up to this much measuring time
# Drift is told apart by what limits a kernel: compute-bound work and memory-bound work drift differently
# on a shared machine (a neighbour's memory traffic moves STREAM by ±30% while GEMM holds).
FAMILY_OPS = {"compute": {"gemm", "conv2d", "sdpa"},
              "memory": {"stream_copy", "stream_scale", "stream_add", "stream_triad", "softmax", "layer_norm",
                         "sum", "exp"},
              "latency": {"mlp", "dispatch"}}           # many tiny ops: the interpreter and dispatch path
REFERENCE_FAMILY = {"python_loop_s": "latency", "copy_64mib_s": "memory"}


def family(op: str | None) -> str | None:
    return next((name for name, ops in FAMILY_OPS.items() if op in ops), None)
METHOD = ("repeats: key cases measured again at the end of the benchmark stage (first vs again); reference: a "
          "fixed pure-Python loop and a 64 MiB copy run by stackprof's own interpreter before and after the "
          "benchmarks; drift = the largest |ratio − 1| of both")

REFERENCE = r'''
import json, time
def loop():
    total = 0
    for i in range(200000):
        total += i * i % 7
    return total
src = bytearray(64 << 20)
dst = bytearray(64 << 20)
def copy():
    dst[:] = src
out = {}
for name, fn in (("python_loop_s", loop), ("copy_64mib_s", copy)):
    fn()
    samples = []
    for _ in range(7):
        start = time.perf_counter(); fn(); samples.append(time.perf_counter() - start)
    out[name] = samples
print(json.dumps(out))
'''


def reference_workload(timeout_s: float = 60.0) -> dict | None:
    """{"python_loop_s": median, "copy_64mib_s": median} of the fixed workload, by the host interpreter."""
    try:
        proc = subprocess.run([sys.executable, "-c", REFERENCE], capture_output=True, text=True, timeout=timeout_s)
        samples = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(samples, dict):
        return None
    return {name: median(values) for name, values in samples.items() if values}


def key_records(records: list[dict], budget_s: float = REPEAT_BUDGET_S) -> list[dict]:
    """The cases measured again: per family the cheapest (different frameworks first), then the other
    ok CPU cases, cheapest first, while their recorded measuring time fits the budget — so that most
    cases carry their own drift, the rest their family's."""
    def ok(r: dict) -> bool:
        return r.get("status") == "ok" and r.get("role") is None and str(r.get("device")) == "cpu"

    def cost(r: dict) -> float:
        params = r.get("params") if isinstance(r.get("params"), dict) else {}
        return float(params.get("measure_s") or 1.0)
    chosen: list[dict] = []
    for ops in KEY_FAMILIES:
        candidates = [r for r in records if r.get("op") in ops and ok(r) and r.get("variant") is None]
        candidates.sort(key=lambda r: ((r.get("stats") or {}).get("median_s") or float("inf")))
        if candidates:
            fresh = [r for r in candidates if r.get("framework") not in {c.get("framework") for c in chosen}]
            chosen.append((fresh or candidates)[0])
    chosen = chosen[:MAX_REPEATS]
    spent = sum(cost(r) for r in chosen)
    for record in sorted((r for r in records if ok(r) and r not in chosen), key=cost):
        if spent + cost(record) > budget_s:
            break
        chosen.append(record)
        spent += cost(record)
    return chosen


def measure_repeats(target, records: list[dict]) -> list[dict]:
    """The key cases again, now: [{"id", "first_median_s", "again_median_s", "ratio"}] (ratio = again/first)."""
    from stackprof import bench
    out = []
    by_framework: dict = {}
    for record in key_records(records):
        by_framework.setdefault(record.get("framework"), []).append(record)
    for framework, mine in by_framework.items():
        with target.session() as session:
            again = bench.remeasure(session, mine)
        for record, m in zip(mine, again):
            first = (record.get("stats") or {}).get("median_s")
            if m.ok and first:
                out.append({"id": record["id"], "family": family(record.get("op")), "first_median_s": first,
                            "again_median_s": m.median_s, "ratio": round(m.median_s / first, 4)})
    return out


def summarize(reference_start: dict | None, reference_end: dict | None, repeats: list[dict]) -> dict:
    ratios = [r["ratio"] for r in repeats if r.get("ratio")]
    reference_ratios = {k: round(reference_end[k] / reference_start[k], 4) for k in reference_start or {}
                        if reference_end and reference_end.get(k) and reference_start.get(k)}
    spread = [symmetric(r) for r in ratios + list(reference_ratios.values())]
    by_family: dict[str, float] = {}
    for name in FAMILY_OPS:
        values = [symmetric(r["ratio"]) for r in repeats if r.get("ratio") and r.get("family") == name]
        values += [symmetric(v) for k, v in reference_ratios.items() if REFERENCE_FAMILY.get(k) == name]
        if values:
            by_family[name] = round(max(values), 4)
    return {"method": METHOD, "reference": {"start": reference_start, "end": reference_end,
                                            "ratio": reference_ratios or None},
            "repeats": repeats, "drift": round(max(spread), 4) if spread else None,
            "drift_by_family": by_family or None}


def symmetric(ratio: float) -> float:
    """How far a time ratio is from no change, the same either way: 1.25 and 0.8 are both 25%."""
    return max(ratio, 1 / ratio) - 1


def drift_for(noise: dict | None, op: str | None, bench_id: str | None = None) -> float | None:
    """The drift that applies to a benchmark: the largest its family showed (one repeat of one case is
    too small a sample to stand alone: the family pools every case of its kind measured again), else
    the run's largest."""
    if not isinstance(noise, dict):
        return None
    fam = family(op)
    by_family = noise.get("drift_by_family") or {}
    return by_family.get(fam) if fam in by_family else noise.get("drift")


class Floor:
    """Start the reference before the benchmarks; finish() measures the rest into run.noise."""

    def __init__(self) -> None:
        started = time.perf_counter()
        self.start = reference_workload()
        self.start_s = time.perf_counter() - started

    def finish(self, target, run) -> None:
        started = time.perf_counter()
        repeats = measure_repeats(target, run.benchmarks) if run.benchmarks else []
        run.noise = summarize(self.start, reference_workload(), repeats)
        run.timings["noise_s"] = round(self.start_s + time.perf_counter() - started, 3)


def machine_change(noise_a: dict | None, noise_b: dict | None, op: str | None = None) -> float | None:
    """The change of the reference workload between two runs (the machine's own change): for `op`, the
    reference of its family when there is one, else the larger of both; None when not measured."""
    refs = []
    for noise in (noise_a, noise_b):
        ref = ((noise or {}).get("reference") or {})
        refs.append(ref.get("start") or {})
    a, b = refs
    wanted = [k for k, fam in REFERENCE_FAMILY.items() if fam == family(op)] if op else []
    keys = [k for k in (wanted or list(a)) if b.get(k) and a.get(k)]
    ratios = [b[k] / a[k] for k in keys]
    return round(max(max(r, 1 / r) - 1 for r in ratios), 4) if ratios else None

"""M. Rules that follow from the measurements themselves (no catalogue entry): library vs library,
kernel vs hardware peak, noise, correctness."""
from __future__ import annotations

import json

from stackprof import severity as scale
from stackprof.affects import threaded
from stackprof.rules.facts import Facts, as_number, part
from stackprof.rules.findings import bench, estimated, fact, make, measured, pair_experiment
from stackprof.rules.registry import rule

LAG_PCT = 0.80          # a library below 80% of the best one for the same op, dtype and shape
NOISY_GAP = 1.5        # a gap this large is beyond what IQR/median > 10% noise can explain
# Only kernels that well-built libraries run close to the peak (GEMM; STREAM-like copies) are judged.
PEAK_OPS = {"gemm", "stream_copy", "stream_triad", "stream_add", "stream_scale"}
PEAK_PCT = {"GFLOP/s": 0.25, "GB/s": 0.30}   # the best result on the machine below this share of the peak


def _value(rec: dict) -> float | None:
    value = as_number(rec.get("value"))
    if not value or value <= 0:
        return None
    return value if rec.get("direction", "higher") == "higher" else 1.0 / value


@rule("M1", "a library reaches a fraction of the best library for the same operation")
def m1_library_vs_best(facts: Facts):
    groups: dict[tuple, list[dict]] = {}
    for rec in facts.benchmarks():
        if "contended" in (part(rec, "state").get("flags") or []):
            continue                                   # other work held the CPUs: not a library's speed
        if rec.get("op_key") and _value(rec):
            key = (rec["op_key"], json.dumps(rec.get("shape"), sort_keys=True), rec.get("variant"))
            groups.setdefault(key, []).append(rec)
    lagging, by_design = [], []                        # (ratio, slow record, best record)
    for records in groups.values():
        best = max(records, key=_value)
        for rec in records:
            ratio = _value(best) / _value(rec)
            noisy = part(rec, "stats").get("noisy") or part(best, "stats").get("noisy")
            if rec.get("framework") != best.get("framework") and ratio > 1 / LAG_PCT and \
                    not (noisy and ratio < NOISY_GAP):
                # numpy's elementwise code runs on one thread by design: against a threaded library
                # the gap is the library's design, not an install choice
                design = threaded(best) and not threaded(rec)
                (by_design if design else lagging).append((ratio, rec, best))
    if lagging:
        return _m1(lagging, "defect")
    if by_design:
        return _m1(by_design, "note")
    return None


def _m1(lagging: list, kind: str):
    lagging.sort(key=lambda x: -x[0])
    ratio, slow, best = lagging[0]
    more = len({r["id"] for _, r, _ in lagging}) - 1
    threads = [part(r, "params").get("num_threads") for r in (slow, best)]
    design = kind == "note"
    title = (f"{slow.get('framework')} reaches {1 / ratio:.0%} of {best.get('framework')} on "
             f"{slow.get('op_key')} (same shape)" + (f", and {more} more" if more else "")
             + (" — by design: its kernel runs on one thread" if design else ""))
    evidence = []
    for r, rec, top in lagging[:8]:
        evidence += [bench(rec, pct_of_best=round(1 / r, 3), threads=1 if design else part(rec, "params").get("num_threads")),
                     bench(top, threads=part(top, "params").get("num_threads"))]
    text = (f"{best.get('framework')} is {ratio:.2f}× faster than {slow.get('framework')} for the same operation, "
            "dtype and shape" + (f" ({slow.get('framework')}: 1 thread by design; {best.get('framework')}: "
                                 f"{threads[1] or 'a pool of'} threads)" if design else ""))
    # Two cases measured at two moments: a hint until the pair experiment measures them alternately.
    return make(
        "M1", scale.for_kind(scale.from_ratio(ratio, measured=False), kind), title, evidence=evidence, kind=kind,
        impact=measured(ratio, text, [slow["id"], best["id"]]),
        fix=(f"Nothing to fix in the install: {slow.get('framework')} does not thread this operation. Use "
             f"{best.get('framework')} (or a threaded library) where it matters." if design else
             f"Use {best.get('framework')} for this operation, or find out why {slow.get('framework')}'s kernel is "
             "slower here (other findings above may name the cause)."),
        references=["stackprof measurement: same op, dtype and shape across libraries"],
        experiment=pair_experiment(slow, best, f"{slow.get('framework')} against {best.get('framework')} on the same "
                                               "case, measured alternately"))


@rule("M2", "kernels reach a small share of the hardware peak")
def m2_peak(facts: Facts):
    best: dict[str, tuple[float, dict]] = {}          # op_key -> (pct_of_peak, record) of the best library
    for rec in facts.benchmarks(op=PEAK_OPS):
        pct = as_number(rec.get("pct_of_peak"))
        if pct is not None and isinstance(rec.get("op_key"), str) and pct > best.get(rec["op_key"], (-1.0,))[0]:
            best[rec["op_key"]] = (pct, rec)
    low = sorted(((pct, rec) for pct, rec in best.values()
                  if pct < PEAK_PCT.get(rec.get("unit"), 0)), key=lambda x: x[0])
    if not low:
        return None
    pct, worst = low[0]
    peak = worst.get("peak") if isinstance(worst.get("peak"), dict) else {}
    return make(
        "M2", "low", f"the best {worst.get('op_key')} result on this machine reaches {pct:.0%} of the hardware peak",
        kind="note",
        evidence=[bench(r, pct_of_peak=round(p, 3), peak=r.get("peak")) for p, r in low]
        + [fact("system.cpu.max_mhz", facts.get("system.cpu.max_mhz"))],
        impact=measured(None, f"{pct:.0%} of the peak ({peak.get('value')} {peak.get('unit')}, {peak.get('source')})",
                        [worst["id"]]),
        fix="Even the best library is far from the estimated peak: unless another finding explains it, look at "
            "the platform (clock governor, throttling, a VM's CPU share, busy neighbours).",
        references=["microbenchmark-method.md: peak FLOPS = cores × clock × SIMD lanes × FMA units × 2"])


@rule("M3", "noisy benchmarks")
def m3_noisy(facts: Facts):
    records = facts.benchmarks()
    noisy = [r for r in records if part(r, "stats").get("noisy") is True]
    if not noisy:
        return None
    evidence = [bench(r, iqr_rel=part(r, "stats").get("iqr_rel")) for r in noisy[:12]]
    throttled = facts.num("system.cgroup.throttling.nr_throttled")
    if throttled:
        evidence.append(fact("system.cgroup.throttling.nr_throttled", throttled))
    return make(
        "M3", "low", f"{len(noisy)} of {len(records)} benchmarks are noisy (IQR/median > 10%): their figures are "
        "unreliable", evidence=evidence, kind="note",
        impact=estimated("torch.utils.benchmark flags IQR/median above 10% as noisy", "reports-and-compare.md §10"),
        fix="Re-run on an idle machine (close other work, stop CPU-heavy neighbours) or with --full for more "
            "repetitions; compare only results that are not noisy.",
        references=["torch.utils.benchmark Measurement (IQR/median > 10%)"])


@rule("M4", "a kernel returned wrong results")
def m4_wrong_results(facts: Facts):
    wrong = [r for r in facts.benchmarks(status=None)
             if isinstance(r.get("check"), dict) and r["check"].get("ok") is False]
    if not wrong:
        return None
    return make(
        "M4", "high", f"{len(wrong)} benchmark(s) failed their correctness check: " + ", ".join(r["id"] for r in wrong[:3]),
        evidence=[bench(r, check=r["check"]) for r in wrong[:12]],
        impact=estimated("wrong results outweigh any speed (e.g. OpenBLAS 0.3.6/0.3.7 SkylakeX DGEMM)", "numpy/numpy#14305"),
        fix="Upgrade the library (numpy/OpenBLAS/torch); report it upstream with this run.json attached.",
        references=["numpy/numpy#14305", "MacPython/numpy-wheels#46"])

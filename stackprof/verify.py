"""verify stage: prove (or refute) findings by experiment.

For a finding with an ``experiment`` ({"env": {NAME: value | None}, "benchmarks": [ids]}), the
benchmarks are re-run in fresh subprocesses of the same target, the baseline (patient's environment
unchanged) and the modified environment interleaved A B, B A, A B… (the order alternates, so a steady
drift over the window pushes alternate rounds in opposite directions and cannot pass for an effect). Verdict: the speed-up median(before)/median(after) of the per-call times,
its bootstrap CI and a Mann-Whitney p-value (stackprof/stats.py), plus agreement of every round;
"no effect" only when the CI rules out an effect above 10%, otherwise "inconclusive" (the finding
then stays suspected, with the numbers). An inconclusive result gets two more rounds if the budget allows.
"""
from __future__ import annotations

import json
import math
import os
import time
from statistics import median

from stackprof import stats
from stackprof.analyze import SEVERITY_ORDER, rank
from stackprof.model import Run, one_line
from stackprof.target import Target

ROUNDS = 2                 # A B, B A
EXTRA_ROUNDS = 2           # added once when the result is too noisy to decide (budget permitting)
NULL_BAND = 1.10           # "no effect" needs the whole 95% CI within 1/1.10 … 1.10
MIN_EFFECT = 1.05          # practical-effect threshold: below 5% we call it no effect (asv uses 10%)
ALPHA = 0.01
START_COST_S = 1.0         # interpreter + agent start, added to the framework's import time


def verify(target: Target, run: Run, budget_s: float, progress=None, rounds: int = ROUNDS) -> None:
    started = time.monotonic()
    done: dict[str, dict] = {}            # identical experiments share one measurement
    for finding in run.findings:
        exp = finding.get("experiment")
        if not isinstance(exp, dict) or not exp.get("benchmarks"):
            continue
        key = json.dumps([exp.get("env"), exp.get("benchmarks")], sort_keys=True)
        if key not in done:
            left = budget_s - (time.monotonic() - started)
            done[key] = _measure(target, run, finding, exp, left, rounds, progress)
        apply_verdict(finding, done[key])
    run.findings = rank(run.findings)
    run.timings["verify_s"] = round(time.monotonic() - started, 3)


def _measure(target: Target, run: Run, finding: dict, exp: dict, left_s: float, rounds: int, progress) -> dict:
    from stackprof import bench            # the bench engineer's module: re-runs tasks with env overrides

    records = [r for r in (run.benchmark(i) for i in exp["benchmarks"]) if r and r.get("status") == "ok"]
    env = exp.get("env") or {}
    if not records:
        return {"status": "skipped", "env": env, "note": "the experiment's benchmarks did not run ok in this run"}
    cost = estimate_cost(run, records) * 2 * rounds
    if cost > left_s:
        return {"status": "skipped", "env": env,
                "note": f"over the verification budget: needs ~{cost:.0f} s, {max(left_s, 0):.0f} s left (raise --budget)"}
    if progress:
        progress(f"verify {finding.get('id')}: {exp.get('description') or env} ({rounds} rounds, ~{cost:.0f} s)")
    before: dict[str, list] = {r["id"]: [] for r in records}
    after: dict[str, list] = {r["id"]: [] for r in records}
    t0, done = time.monotonic(), 0
    try:
        while True:
            for _ in range(rounds if done == 0 else EXTRA_ROUNDS):
                order = ((before, {}), (after, env))
                for side, overrides in order if done % 2 == 0 else order[::-1]:   # A B, B A, A B, …
                    for rec in bench.rerun(target, records, overrides):
                        if rec.get("id") in side and rec.get("status") == "ok" and rec.get("samples_s"):
                            side[rec["id"]].append([float(s) for s in rec["samples_s"]])
                done += 1
            results = [judge(rec, before[rec["id"]], after[rec["id"]]) for rec in records]
            spent = time.monotonic() - t0
            if done >= rounds + EXTRA_ROUNDS or not any(map(_unsettled, results)) \
                    or spent / done * EXTRA_ROUNDS > left_s - spent:
                break
            if progress:
                progress(f"verify {finding.get('id')}: too noisy to decide, {EXTRA_ROUNDS} more rounds")
    except Exception as exc:               # noqa: BLE001 - a failed experiment is a result, not a crash
        run.add_error("verify", f"finding {finding.get('id')}", f"{exc.__class__.__name__}: {exc}", kind="exception")
        return {"status": "failed", "env": env, "note": one_line(f"re-run failed: {exc}")}
    verdict = combine(results)
    verdict.update(env=env, rounds=done, elapsed_s=round(time.monotonic() - t0, 2), benchmarks=results,
                   load_avg=_load())
    cpus = os.cpu_count() or 1
    if verdict["load_avg"] is not None and verdict["load_avg"] > cpus:
        verdict["note"] += (f"; the machine was busy (load {verdict['load_avg']:.1f} on {cpus} CPUs): "
                            "thread-count effects reflect that contention")
    return verdict


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _unsettled(result: dict) -> bool:
    return result.get("status") == "inconclusive"      # more rounds may decide it


def estimate_cost(run: Run, records: list[dict]) -> float:
    """Seconds for one re-run subprocess of these benchmarks: start, imports, and per case its time
    budget (the harness sizes repetitions by time) or, without one, its recorded samples."""
    frameworks = {r.get("framework") for r in records}
    imports = sum(float(run.fact(f"{fw}.import_s") or 0.3) for fw in frameworks if fw)
    calls = 0.0
    for rec in records:
        samples = [float(s) for s in rec.get("samples_s") or []]
        task = rec.get("task") if isinstance(rec.get("task"), dict) else {}
        budget = task.get("args", {}).get("budget_s") if isinstance(task.get("args"), dict) else None
        if isinstance(budget, (int, float)) and budget > 0:
            calls += 1.5 * budget + 2 * max(samples, default=0.0)       # warm-up + time-boxed repetitions
        else:
            calls += 1.5 * sum(samples) * max(1, int(rec.get("inner") or 1))
    return START_COST_S + imports + calls


def judge(record: dict, before_rounds: list[list], after_rounds: list[list]) -> dict:
    """Verdict for one benchmark from per-round per-call times (seconds)."""
    rid = record.get("id")
    if not before_rounds or not after_rounds or len(before_rounds) != len(after_rounds):
        return {"id": rid, "status": "failed", "note": "the re-run returned no samples"}
    before = [s for r in before_rounds for s in r]
    after = [s for r in after_rounds for s in r]
    ratio = median(before) / median(after)                 # > 1: faster without the cause
    lo, hi = stats.bootstrap_ratio_ci(after, before)       # CI of median(before) / median(after)
    p = stats.mann_whitney_u(before, after)
    per_round = [median(b) / median(a) for b, a in zip(before_rounds, after_rounds)]
    if ratio >= MIN_EFFECT and lo > 1 and p < ALPHA and all(r > 1 for r in per_round):
        status = "confirmed"
    elif ratio <= 1 / MIN_EFFECT and hi < 1 and p < ALPHA and all(r < 1 for r in per_round):
        status = "worse"
    elif 1 / NULL_BAND <= lo and hi <= NULL_BAND:
        status = "no_effect"                               # any effect is smaller than the band: measured none
    else:
        status = "inconclusive"                            # too noisy (or drifting) to say either way
    return {"id": rid, "status": status, "ratio": round(ratio, 4), "ci": [round(lo, 4), round(hi, 4)],
            "p_value": p, "round_ratios": [round(r, 4) for r in per_round], "n": [len(before), len(after)],
            "before": _point(record, median(before)), "after": _point(record, median(after))}


def _point(record: dict, median_s: float) -> dict:
    """A median time expressed like the benchmark's own value (GFLOP/s, GB/s or µs)."""
    work = record.get("work") if isinstance(record.get("work"), dict) else {}
    unit, value = record.get("unit"), None
    if unit == "GFLOP/s" and work.get("flops"):
        value = work["flops"] / median_s / 1e9
    elif unit == "GB/s" and work.get("bytes"):
        value = work["bytes"] / median_s / 1e9
    elif unit == "us":
        value = median_s * 1e6
    return {"median_s": median_s, "value": None if value is None else round(value, 4), "unit": unit}


def combine(results: list[dict]) -> dict:
    """One verdict for the finding: confirmed if some benchmark improved and none got worse, worse in the
    mirror case, no effect if every benchmark showed none, else inconclusive (a mix says so in the note)."""
    ok = [r for r in results if r["status"] != "failed"]
    if not ok:
        return {"status": "failed", "note": "no benchmark could be re-measured"}
    up = [r for r in ok if r["status"] == "confirmed"]
    down = [r for r in ok if r["status"] == "worse"]
    if up or down:
        status = "confirmed" if not down else "worse" if not up else "inconclusive"
    else:
        status = "no_effect" if all(r["status"] == "no_effect" for r in ok) else "inconclusive"
    # The headline figure is the most conservative of the deciding benchmarks, never the most extreme.
    lead = min(up, key=lambda r: r["ratio"]) if status == "confirmed" else \
        max(down, key=lambda r: r["ratio"]) if status == "worse" else ok[0]
    ratios = [r["ratio"] for r in ok]
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    parts = [f"{r['id']}: {r['ratio']:.2f}× (95% CI {r['ci'][0]:.2f}–{r['ci'][1]:.2f}, p={r['p_value']:.2g}, "
             f"{r['status'].replace('_', ' ')})" for r in ok]
    note = ("mixed: faster on some benchmarks, slower on others; " if up and down else "") + "; ".join(parts)
    return {"status": status, "before": lead["before"], "after": lead["after"], "ratio": lead["ratio"],
            "ci": lead["ci"], "p_value": lead["p_value"], "geomean_ratio": round(geo, 4), "note": note}


def apply_verdict(finding: dict, verdict: dict) -> None:
    """Record the verdict; a confirmed effect becomes the measured impact, no effect downgrades."""
    finding["verification"] = dict(verdict)
    status, ratio = verdict.get("status"), verdict.get("ratio")
    if status not in ("confirmed", "no_effect", "worse"):
        return                          # failed / skipped / inconclusive: the finding stays as suspected
    estimate = finding.get("impact") if isinstance(finding.get("impact"), dict) else {}
    if estimate.get("kind") == "estimated":
        finding["verification"]["estimate"] = estimate
    what = (finding.get("experiment") or {}).get("description") or "the experiment"
    ids = [b["id"] for b in verdict.get("benchmarks", []) if b.get("status") != "failed"]
    if status == "confirmed":
        finding["status"] = "confirmed"
        finding["impact"] = {"kind": "measured", "ratio": ratio, "source": "measured on this machine (A/B re-run)",
                             "benchmarks": ids, "text": f"{what}: {ratio:.2f}× faster (95% CI "
                             f"{verdict['ci'][0]:.2f}–{verdict['ci'][1]:.2f}, p={verdict['p_value']:.2g})"}
        if ratio >= 2 and SEVERITY_ORDER.get(finding.get("severity"), 5) > SEVERITY_ORDER["high"]:
            finding["severity"] = "high"
        return
    was = finding.get("severity")
    finding["status"] = "not_confirmed"
    finding["severity"] = "info" if status == "worse" or was in ("low", "info") else "low"
    finding["verification"]["severity_before"] = was
    if status == "worse":
        verdict_text = f"{what}: {1 / ratio:.2f}× slower — the current setting is faster here, keep it"
    else:
        verdict_text = f"{what}: no measurable effect here ({ratio:.2f}×, 95% CI {verdict['ci'][0]:.2f}–{verdict['ci'][1]:.2f})"
    finding["impact"] = {"kind": "measured", "ratio": ratio, "source": "measured on this machine (A/B re-run)",
                         "benchmarks": ids, "text": verdict_text}
    finding["title"] = f"{finding.get('title')} — not confirmed: {'slower' if status == 'worse' else 'no effect'} when changed"

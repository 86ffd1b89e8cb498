"""verify stage: prove (or refute) findings by re-measuring without their cause.

For a finding with an ``experiment`` ({"env": {NAME: value | None}, "benchmarks": [ids]}), the
benchmarks are measured again in two warm agents of the same interpreter: the baseline (the patient's
environment unchanged; one per framework, shared by every experiment) and the modified environment.
They alternate A B, B A (the order flips each round, so a steady drift over the window pushes
alternate rounds in opposite directions and cannot pass for an effect), the idle agent stopped while
the other measures. The one judge (judge.py) decides; an unclear first pass gets EXTRA_ROUNDS more
rounds when the plan allows.

Planning (plan): experiments are ordered by what they may be worth — severity, then the estimated
ratio — and each is costed (cost model below). Within the budget they all run; beyond it, at least
MIN_VERDICTS experiments still run (every suspected finding with an A/B experiment reaches a verdict
up to that cap), and the rest are "skipped" with the exact command that proves them.

Cost model: per framework an interpreter start (measured) plus the framework's import (the probe's
import_s: TensorFlow and JAX are slow) for the modified side, and for the baseline side unless a
baseline of that framework is already warm; per round and side each case's recorded wall time
(warm-up, first call and repetitions: params.measure_s) and a GPU's warm-up.
"""
from __future__ import annotations

import json
import math
import os
import shlex
import time
from dataclasses import dataclass, field
from statistics import median

from stackprof import judge, machine_state, severity
from stackprof.analyze import rank
from stackprof.measurement import Measurement, throughput
from stackprof.model import Run, one_line
from stackprof.target import Target

ROUNDS = 2                 # A B, B A
EXTRA_ROUNDS = 2           # added once when the result is too unclear to decide (plan permitting)
MIN_VERDICTS = 6           # experiments that run even beyond the budget (most valuable first)
START_COST_S = 0.3         # interpreter + agent start when not measured
# Probes that launch processes of their own for every run: collectives start torch.distributed.run and
# its ranks, each importing torch (4–5 s measured on 2 cores, issue 13's engineer).
RELAUNCH_S = {"bench.collectives": 5.0}
DEFAULT_IMPORT_S = 0.3     # a framework import when the probe did not time it
STATUS = {"faster": "confirmed", "slower": "worse", "same": "no_effect", "unclear": "inconclusive"}


@dataclass
class Planned:
    key: str
    experiment: dict
    findings: list = field(default_factory=list)       # ids sharing this experiment
    records: list = field(default_factory=list)
    cost_s: float = 0.0
    value: tuple = ()
    run: bool = True
    skip_note: str = ""
    left_s: float = 0.0             # verification budget left when this experiment starts


def experiment_key(exp: dict) -> str:
    return json.dumps([exp.get("env"), sorted(exp.get("benchmarks") or []), exp.get("pair")], sort_keys=True,
                      default=str)


def verify(target: Target, run: Run, budget_s: float, progress=None, rounds: int = ROUNDS,
           min_verdicts: int = MIN_VERDICTS) -> None:
    """Measure every planned experiment and give each finding with one its verdict (run.findings
    becomes a new, re-ranked list; identical experiments are measured once)."""
    started = time.monotonic()
    plans = plan(run, budget_s, min_verdicts)
    verdicts: dict[str, dict] = {}
    with _Sides(target) as sides:
        for p in plans:
            if not p.run:
                verdicts[p.key] = {"status": "skipped", "env": p.experiment.get("env") or {}, "note": p.skip_note}
                continue
            if not p.records:
                verdicts[p.key] = {"status": "skipped", "env": p.experiment.get("env") or {},
                                   "note": "the experiment's benchmarks did not run ok in this run"}
                continue
            if progress:
                progress(f"verify {', '.join(p.findings)}: {p.experiment.get('description') or p.experiment.get('env')}"
                         f" ({rounds} rounds, ~{p.cost_s:.0f} s)")
            p.left_s = budget_s - (time.monotonic() - started)      # extra rounds may use what is left
            verdicts[p.key] = _measure(sides, run, p, rounds, progress)
    run.findings = rank([apply_verdict(f, verdicts[experiment_key(f["experiment"])])
                         if _has_experiment(f) and experiment_key(f["experiment"]) in verdicts
                         else apply_verdict(f, _not_measurable(f)) if _not_measurable(f) else f
                         for f in run.findings])
    run.timings["verify_s"] = round(time.monotonic() - started, 3)


def plan(run: Run, budget_s: float, min_verdicts: int = MIN_VERDICTS) -> list[Planned]:
    """The experiments in the order they run, each with its cost and whether it fits."""
    by_key: dict[str, Planned] = {}
    for finding in run.findings:
        if not _has_experiment(finding):
            continue
        key = experiment_key(finding["experiment"])
        p = by_key.setdefault(key, Planned(key, finding["experiment"]))
        p.findings.append(finding.get("id"))
        p.value = max(p.value, _worth(finding)) if p.value else _worth(finding)
    ordered = sorted(by_key.values(), key=lambda p: p.value)
    warm: set = set()
    spent = 0.0
    for n, p in enumerate(ordered):
        p.records = [r for r in (run.benchmark(i) for i in p.experiment["benchmarks"]) if r and r.get("status") == "ok"]
        p.cost_s = estimate_cost(run, p.records, warm)
        if spent + p.cost_s > budget_s and n >= min_verdicts:
            p.run = False
            p.skip_note = (f"beyond this run's verification plan (the {min_verdicts} most valuable experiments and "
                           f"what fits in {budget_s:.0f} s): needs ~{p.cost_s:.0f} s; prove it with: "
                           + prove_command(run, p.findings))
            continue
        spent += p.cost_s
        warm |= {r.get("framework") for r in p.records}
    return ordered


def prove_command(run: Run, finding_ids: list[str]) -> str:
    python = (run.target or {}).get("python") or "python"
    return (f"stackprof run --python {shlex.quote(str(python))} --budget 300 --only "
            + ",".join(sorted({_family_of(run, f) for f in finding_ids} - {None}) or ["gemm"]))


def _family_of(run: Run, finding_id: str) -> str | None:
    finding = next((f for f in run.findings if f.get("id") == finding_id), None)
    ids = ((finding or {}).get("experiment") or {}).get("benchmarks") or []
    record = run.benchmark(ids[0]) if ids else None
    probe = ((record or {}).get("task") or {}).get("probe") or ""
    return {"bench.gemm": "gemm", "bench.conv": "conv", "bench.elementwise": "elementwise",
            "bench.stream": "stream", "bench.attention": "attention", "bench.mlp_compile": "compile",
            "bench.dispatch": "dispatch", "bench.transfer": "transfer"}.get(probe)


def _not_measurable(finding: dict) -> dict | None:
    """An experiment that no benchmark of this run can show: said, not measured as "no effect"."""
    exp = finding.get("experiment")
    if isinstance(exp, dict) and exp.get("not_measurable") and not exp.get("benchmarks"):
        return {"status": "skipped", "env": exp.get("env") or {}, "note": f"not measurable here: {exp['not_measurable']}"}
    return None


def _has_experiment(finding: dict) -> bool:
    exp = finding.get("experiment")
    return isinstance(exp, dict) and bool(exp.get("benchmarks"))


def _worth(finding: dict) -> tuple:
    """Sort key: most severe first, then the largest estimated effect."""
    impact = finding.get("impact") if isinstance(finding.get("impact"), dict) else {}
    ratio = impact.get("ratio") if isinstance(impact.get("ratio"), (int, float)) else 1.0
    return (severity.ORDER.get(finding.get("severity"), 5), -ratio)


def estimate_cost(run: Run, records: list[dict], warm: set = frozenset(), rounds: int = ROUNDS) -> float:
    """Seconds to measure these benchmarks in `rounds` A/B rounds (see the module's cost model)."""
    start = _start_cost(run)
    cost = 0.0
    for framework in {r.get("framework") for r in records}:
        imp = _import_cost(run, framework)
        cost += start + imp + (0.0 if framework in warm else start + imp)
    for record in records:
        params = record.get("params") if isinstance(record.get("params"), dict) else {}
        args = ((record.get("task") or {}).get("args") or {}) if isinstance(record.get("task"), dict) else {}
        case = params.get("measure_s")
        if not isinstance(case, (int, float)) or case <= 0:
            budget = args.get("budget_s") if isinstance(args.get("budget_s"), (int, float)) else 0.5
            case = 1.5 * budget + 2 * max(record.get("samples_s") or [0.0])
        warmup = args.get("device_warmup_s") if isinstance(args.get("device_warmup_s"), (int, float)) else 0.0
        relaunch = RELAUNCH_S.get(((record.get("task") or {}).get("probe") if isinstance(record.get("task"), dict) else None), 0.0)
        cost += 2 * rounds * (case + relaunch) + 2 * warmup
    return cost


def _start_cost(run: Run) -> float:
    measured = (run.timings or {}).get("agent_start_s")
    return float(measured) if isinstance(measured, (int, float)) and measured > 0 else START_COST_S


def _import_cost(run: Run, framework: str | None) -> float:
    value = run.fact(f"{framework}.import_s") if framework else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else DEFAULT_IMPORT_S


class _Sides:
    """Warm agents: one baseline per framework (shared by all experiments) and the current
    experiment's; only the one measuring runs, the others are stopped."""

    def __init__(self, target: Target):
        self.target = target
        self.baselines: dict = {}
        self.current: dict = {}

    def __enter__(self) -> "_Sides":
        return self

    def __exit__(self, *exc) -> None:
        for session in list(self.baselines.values()) + list(self.current.values()):
            session.close()

    def session(self, framework, env: dict | None):
        pool = self.current if env else self.baselines
        if framework not in pool:
            pool[framework] = self.target.session(env or None)
        return pool[framework]

    def new_experiment(self) -> None:
        for session in self.current.values():
            session.close()
        self.current = {}

    def measure(self, framework, env: dict | None, records: list[dict]) -> list[Measurement]:
        from stackprof import bench
        session = self.session(framework, env)
        for other in list(self.baselines.values()) + list(self.current.values()):
            if other is not session:
                other.pause()
        session.resume()
        try:
            return bench.remeasure(session, records)
        finally:
            session.pause()


def _measure(sides: _Sides, run: Run, p: Planned, rounds: int, progress) -> dict:
    if p.experiment.get("pair"):
        return _measure_pair(sides, run, p, rounds, progress)
    env = p.experiment.get("env") or {}
    records = p.records
    frameworks = list(dict.fromkeys(r.get("framework") for r in records))
    before: dict[str, list] = {r["id"]: [] for r in records}
    after: dict[str, list] = {r["id"]: [] for r in records}
    waits: dict[str, list] = {r["id"]: [] for r in records}
    sides.new_experiment()
    t0, done = time.monotonic(), 0
    try:
        while True:
            for _ in range(rounds if done == 0 else EXTRA_ROUNDS):
                order = ((before, None), (after, env))
                round_wait: dict[str, list] = {}
                for side, overrides in order if done % 2 == 0 else order[::-1]:
                    for framework in frameworks:
                        mine = [r for r in records if r.get("framework") == framework]
                        for m in sides.measure(framework, overrides, mine):
                            if m.id in side and m.ok:
                                side[m.id].append(list(m.samples_s))
                                round_wait.setdefault(m.id, []).append(machine_state.contention(m.state))
                for rid, values in round_wait.items():
                    known = [v for v in values if v is not None]
                    waits[rid].append(max(known) if known else None)
                done += 1
            results = [judge_record(r, before[r["id"]], after[r["id"]], waits[r["id"]]) for r in records]
            spent = time.monotonic() - t0
            if done >= rounds + EXTRA_ROUNDS or not any(x["status"] == "inconclusive" for x in results) \
                    or spent / done * EXTRA_ROUNDS > max(p.left_s - spent, p.cost_s * 2, 1.0):
                break
            if progress:
                progress(f"verify {', '.join(p.findings)}: too unclear to decide, {EXTRA_ROUNDS} more rounds")
    except Exception as exc:               # noqa: BLE001 - a failed experiment is a result, not a crash
        run.add_error("verify", f"finding {', '.join(p.findings)}", f"{exc.__class__.__name__}: {exc}",
                      kind="exception")
        return {"status": "failed", "env": env, "note": one_line(f"re-run failed: {exc}")}
    verdict = combine(results)
    verdict.update(env=env, rounds=done, elapsed_s=round(time.monotonic() - t0, 2), benchmarks=results,
                   estimated_cost_s=round(p.cost_s, 2), load_avg=_load())
    return verdict


def _measure_pair(sides: _Sides, run: Run, p: Planned, rounds: int, progress) -> dict:
    """A "pair" experiment: two benchmarks of the same work in the patient's environment (one library
    against another on the same case), measured alternately in rounds so that drift between two
    moments cannot pass for a difference between libraries. Before = the slower-looking one."""
    by_id = {r["id"]: r for r in p.records}
    pair = [by_id.get(i) for i in p.experiment["pair"]]
    if None in pair or len(pair) != 2:
        return {"status": "skipped", "env": {}, "note": "a benchmark of the pair did not run ok in this run"}
    slow, fast = pair
    rounds_of: dict[str, list] = {slow["id"]: [], fast["id"]: []}
    waits: list = []
    t0, done = time.monotonic(), 0
    try:
        while done < rounds + EXTRA_ROUNDS:
            for _ in range(rounds if done == 0 else EXTRA_ROUNDS):
                order = (slow, fast) if done % 2 == 0 else (fast, slow)
                seen = []
                for record in order:
                    m = sides.measure(record.get("framework"), None, [record])[0]
                    if m.ok:                       # seconds per GFLOP (or per byte): the same scale for both
                        work = (m.work.get("flops") or m.work.get("bytes") or 1.0) / 1e9
                        rounds_of[record["id"]].append([t / work for t in m.samples_s])
                        seen.append(machine_state.contention(m.state))
                waits.append(max((w for w in seen if w is not None), default=None))
                done += 1
            result = judge_record(slow, rounds_of[slow["id"]], rounds_of[fast["id"]], waits)
            if result["status"] != "inconclusive":
                break
    except Exception as exc:               # noqa: BLE001
        run.add_error("verify", f"finding {', '.join(p.findings)}", f"{exc.__class__.__name__}: {exc}", kind="exception")
        return {"status": "failed", "env": {}, "note": one_line(f"re-run failed: {exc}")}
    result["id"] = f"{slow['id']} vs {fast['id']}"
    for side, record in (("before", slow), ("after", fast)):    # back to each benchmark's own value
        point = result.get(side)
        if isinstance(point, dict) and point.get("median_s"):
            work = (record.get("work") or {}).get("flops") or (record.get("work") or {}).get("bytes") or 1.0
            result[side] = remeasured_value(record, point["median_s"] * work / 1e9)
    verdict = combine([result])
    verdict.update(env={}, pair=[slow["id"], fast["id"]], rounds=done, elapsed_s=round(time.monotonic() - t0, 2),
                   benchmarks=[result], estimated_cost_s=round(p.cost_s, 2), load_avg=_load())
    return verdict


def remeasured_value(record: dict, median_s: float) -> dict:
    """A median time expressed like the benchmark's own value (GFLOP/s, GB/s or µs)."""
    value = throughput(record.get("unit"), record.get("work"), median_s)
    return {"median_s": median_s, "value": None if value is None else round(value, 4), "unit": record.get("unit")}


def judge_record(record: dict, before_rounds: list[list], after_rounds: list[list],
                 waits: list | None = None) -> dict:
    """The judge's verdict for one benchmark, before = A (the patient), after = B (cause removed)."""
    rid = record.get("id")
    if not before_rounds or not after_rounds or len(before_rounds) != len(after_rounds):
        return {"id": rid, "status": "failed", "note": "the re-run returned no samples"}
    v = judge.decide(before_rounds, after_rounds, contention=waits, names=("before", "after"))
    if v.speedup is None:
        return {"id": rid, "status": STATUS[v.effect], "note": v.reason, "left_out_rounds": list(v.left_out)}
    before = [s for r in before_rounds for s in r]
    after = [s for r in after_rounds for s in r]
    return {"id": rid, "status": STATUS[v.effect], "ratio": round(v.speedup, 4),
            "ci": [round(v.ci[0], 4), round(v.ci[1], 4)], "p_value": v.p_value,
            "round_ratios": [round(median(b) / median(a), 4) for b, a in zip(before_rounds, after_rounds)],
            "left_out_rounds": list(v.left_out), "n": [len(before), len(after)], "reason": v.reason,
            "before": remeasured_value(record, median(before)), "after": remeasured_value(record, median(after))}


def combine(results: list[dict]) -> dict:
    """One verdict for the finding: confirmed if some benchmark improved and none got worse, worse in the
    mirror case, no effect if every benchmark showed none, else inconclusive (a mix says so in the note)."""
    ok = [r for r in results if r["status"] != "failed" and r.get("ratio") is not None]
    if not ok:
        notes = "; ".join(r.get("note") or "" for r in results if r.get("note"))
        return {"status": "failed" if all(r["status"] == "failed" for r in results) else "inconclusive",
                "note": notes or "no benchmark could be re-measured"}
    up = [r for r in ok if r["status"] == "confirmed"]
    down = [r for r in ok if r["status"] == "worse"]
    if up or down:
        status = "confirmed" if not down else "worse" if not up else "inconclusive"
    else:
        status = "no_effect" if all(r["status"] == "no_effect" for r in ok) else "inconclusive"
    # The headline figure is the most conservative of the deciding benchmarks, never the most extreme.
    lead = min(up, key=lambda r: r["ratio"]) if status == "confirmed" else \
        max(down, key=lambda r: r["ratio"]) if status == "worse" else ok[0]
    geo = math.exp(sum(math.log(r["ratio"]) for r in ok) / len(ok))
    parts = [f"{r['id']}: {r['ratio']:.2f}× (95% CI {r['ci'][0]:.2f}–{r['ci'][1]:.2f}, p={r['p_value']:.2g}, "
             f"{r['status'].replace('_', ' ')})" for r in ok]
    note = ("mixed: faster on some benchmarks, slower on others; " if up and down else "") + "; ".join(parts)
    return {"status": status, "before": lead["before"], "after": lead["after"], "ratio": lead["ratio"],
            "ci": lead["ci"], "p_value": lead["p_value"], "geomean_ratio": round(geo, 4), "note": note}


def apply_verdict(finding: dict, verdict: dict) -> dict:
    """A new finding with the verdict: a confirmed effect becomes the measured impact and sets the
    severity on the one scale (severity.py); no effect or the opposite effect demotes it to info."""
    out = {**finding, "verification": dict(verdict)}
    status, ratio = verdict.get("status"), verdict.get("ratio")
    if status == "inconclusive" and verdict.get("pair"):
        # The gap was itself one measurement at two moments; measured alternately it did not hold up:
        # a question, not a defect, until a quieter measurement decides.
        out.update(severity="info", title=f"{finding.get('title')} — not borne out when measured alternately "
                                          f"({ratio:.2f}×, too noisy to decide)" if ratio else finding.get("title"))
        out["verification"]["severity_before"] = finding.get("severity")
        return out
    if status not in ("confirmed", "no_effect", "worse"):
        return out                      # failed / skipped / inconclusive: the finding stays as suspected
    estimate = finding.get("impact") if isinstance(finding.get("impact"), dict) else {}
    if estimate.get("kind") == "estimated":
        out["verification"]["estimate"] = estimate
    what = (finding.get("experiment") or {}).get("description") or "the experiment"
    ids = [b["id"] for b in verdict.get("benchmarks", []) if b.get("status") != "failed"]
    was = finding.get("severity")
    out["verification"]["severity_before"] = was
    if status == "confirmed":
        measured = severity.for_kind(severity.from_ratio(ratio), finding.get("kind") or "defect")
        out["status"] = "confirmed"
        out["severity"] = "critical" if was == "critical" else measured
        out["impact"] = {"kind": "measured", "ratio": ratio, "source": "measured on this machine (A/B re-run)",
                         "benchmarks": ids, "text": f"{what}: {ratio:.2f}× faster (95% CI "
                         f"{verdict['ci'][0]:.2f}–{verdict['ci'][1]:.2f}, p={verdict['p_value']:.2g})"}
        return out
    out["status"] = "not_confirmed"
    out["severity"] = "info"
    if status == "worse":
        verdict_text = f"{what}: {1 / ratio:.2f}× slower — the current setting is faster here, keep it"
    else:
        verdict_text = (f"{what}: no measurable effect here ({ratio:.2f}×, 95% CI "
                        f"{verdict['ci'][0]:.2f}–{verdict['ci'][1]:.2f})")
    out["impact"] = {"kind": "measured", "ratio": ratio, "source": "measured on this machine (A/B re-run)",
                     "benchmarks": ids, "text": verdict_text}
    if verdict.get("pair"):
        out["title"] = f"{finding.get('title')} — not confirmed: no such gap when measured alternately"
    else:
        out["title"] = (f"{finding.get('title')} — not confirmed: "
                        f"{'slower' if status == 'worse' else 'no effect'} when changed")
    return out


def carry_over(findings: list[dict], verified: list[dict]) -> list[dict]:
    """Findings of a new analysis with the verdicts that the earlier findings' experiments got
    (matched by rule id and experiment): analysis re-runs on the final numbers, proof is kept."""
    by_key = {(f.get("id"), experiment_key(f["experiment"])): f for f in verified
              if _has_experiment(f) and isinstance(f.get("verification"), dict)}
    out = []
    for finding in findings:
        old = by_key.get((finding.get("id"), experiment_key(finding["experiment"]))) if _has_experiment(finding) else None
        unmeasurable = _not_measurable(finding)
        out.append(apply_verdict(finding, old["verification"]) if old else
                   apply_verdict(finding, unmeasurable) if unmeasurable else finding)
    return rank(out)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None

"""Benchmarks: plan the tasks for a mode, run them in the target, then attach statistics, peaks,
best-on-machine and the headline (contract B in docs/schema-benchmarks.md).

plan(run, mode, only, device, budget_s) -> [Task]       what to measure (bench_suite.py)
execute(session, run, tasks, progress)                  runs them; every planned case gets a record
finish(run, peers=None)                                 stats, value, peak, best, headline (idempotent)
run_benchmarks(target, run, mode, ...)                  the three above
rerun(target, records, env_overrides) -> [records]      the same cases again, in a fresh process
Each framework runs in its own agent process (the session is restarted between frameworks), as a
user's program would import it alone: numpy's and torch's thread pools never compete.
"""
from __future__ import annotations

import time
from typing import Callable

from stackprof import hardware, headline, stats
from stackprof.bench_suite import FAMILIES, describe_case, normalize_only, suite
from stackprof.errors import StackprofError
from stackprof.model import Run
from stackprof.target import Session, Target, Task

MODES = ("quick", "default", "full")
CASE_BUDGET_S = {"quick": 0.25, "default": 0.6, "full": 1.0}
FRAMEWORK_ORDER = ("numpy", "tensorflow", "jax", "torch")
Progress = Callable[[int, int, str], None]          # (cases done, cases planned, what runs now)


def plan(run: Run, mode: str = "quick", only=None, device: str | None = None,
         budget_s: float | None = None) -> list[Task]:
    if mode not in MODES:
        raise StackprofError(f"unknown benchmark mode '{mode}' (choose from {', '.join(MODES)})")
    families = normalize_only(only)
    devices = _devices(device)
    groups = [g for g in suite(mode, run.environment, devices) if g.family in families]
    n_cases = sum(len(g.cases) for g in groups)
    if budget_s is not None and budget_s <= 0:
        raise StackprofError(f"--budget must be positive (got {budget_s})")
    per_case = budget_s / max(n_cases, 1) if budget_s else CASE_BUDGET_S[mode]
    groups.sort(key=lambda g: (_framework_rank(g.framework), g.device != "cpu"))
    tasks = []
    for g in groups:
        args = {"framework": g.framework, "device": g.device, "budget_s": round(per_case, 4),
                "cases": g.cases, **g.extra}
        timeout = 90 + len(g.cases) * (per_case * 4 + 5) + (600 if g.family == "compile" else 0)
        tasks.append(Task(FAMILIES[g.family], args, timeout))
    return tasks


def _framework_rank(framework: str | None) -> int:
    return FRAMEWORK_ORDER.index(framework) if framework in FRAMEWORK_ORDER else len(FRAMEWORK_ORDER)


def _devices(device: str | None) -> list[str]:
    if device is None:
        return ["cpu", "cuda:0"]
    if device == "cpu" or (device.startswith("cuda:") and device[5:].isdigit()):
        return [device]
    if device == "cuda":
        return ["cuda:0"]
    raise StackprofError(f"unknown device '{device}' (use cpu, cuda or cuda:N)")


def execute(session: Session, run: Run, tasks: list[Task], progress: Progress | None = None) -> None:
    total = sum(len(t.args.get("cases") or []) for t in tasks)
    done = [0]
    previous_listener = session.listener

    def listen(event: dict) -> None:
        if previous_listener:
            previous_listener(event)
        if event.get("event") == "progress" and progress:
            progress(done[0], total, str(event.get("message", "")))
        elif event.get("event") == "record":
            done[0] += 1

    session.listener = listen
    started = time.perf_counter()
    framework = None
    try:
        for task in tasks:
            if framework is not None and task.args.get("framework") != framework:
                session.close()              # the next framework starts in a fresh process
            framework = task.args.get("framework")
            result = session.run(task)
            records = [r for r in result.records if isinstance(r, dict)]
            run.benchmarks.extend(records)
            if not result.ok:
                run.add_error("bench", task.probe, result.error or "failed", kind=result.kind or "error")
                missing = _unfinished(task, records, result.error or "failed")
                run.benchmarks.extend(missing)
                done[0] += len(missing)
    finally:
        session.listener = previous_listener
    if progress:
        progress(total, total, "")
    run.timings["bench_s"] = round(run.timings.get("bench_s", 0.0) + time.perf_counter() - started, 3)


def _unfinished(task: Task, records: list[dict], error: str) -> list[dict]:
    """Failed records for the cases a crashed or stopped task never reported."""
    seen = {r.get("id") for r in records}
    out = []
    for case in (task.args.get("cases") or [])[len(records):]:
        record = describe_case(task, case)
        if record["id"] not in seen:
            record.update(status="failed", reason=f"not measured: {error}")
            out.append(record)
    return out


def finish(run: Run, peers: list[Run] | None = None) -> None:
    """Attach stats, value, op_key, peak, best-on-machine and the headline. `peers`: other Runs
    measured on the same machine whose records also count as best-on-machine candidates. Called
    again after verify: a result re-measured with a confirmed fix applied is what this machine can
    reach, so it counts as a candidate too."""
    cpu_estimate = hardware.cpu.estimate(run.environment.get("system"))
    for record in run.benchmarks:
        annotate(record, run.environment, cpu_estimate)
    _flag_low_estimate(run.benchmarks)
    candidates = list(run.benchmarks) + fixed_candidates(run)
    for peer in peers or []:
        for record in peer.benchmarks:
            candidates.append(annotate(dict(record), peer.environment))
        candidates.extend(fixed_candidates(peer))
    best = best_by_op_key(candidates)
    for record in run.benchmarks:
        top = best.get(record.get("op_key")) if record.get("value") is not None else None
        record["best_on_machine"] = None if not top else {
            "id": top["id"], "value": top["value"], **({"fix": top["fix"]} if top.get("fix") else {})}
        record["pct_of_best"] = _fraction(record, top["value"]) if top else None
    run.headline = headline.compute(run.benchmarks)


def fixed_candidates(run: Run) -> list[dict]:
    """Results that verify measured with a confirmed fix applied (the experiment's "after"), as
    best-on-machine candidates named after the fix: "<id> [with A6 fix]"."""
    out = []
    for finding in run.findings:
        verification = finding.get("verification") if isinstance(finding, dict) else None
        if not isinstance(verification, dict) or verification.get("status") != "confirmed":
            continue
        for entry in verification.get("benchmarks") or []:
            after = entry.get("after") if isinstance(entry, dict) else None
            base = run.benchmark(entry.get("id")) if isinstance(entry, dict) else None
            value = after.get("value") if isinstance(after, dict) else None
            if (entry.get("status") != "confirmed" or base is None or base.get("status") != "ok"
                    or not isinstance(value, (int, float)) or not base.get("op_key")):
                continue
            out.append({**base, "id": f"{base['id']} [with {finding.get('id')} fix]", "value": float(value),
                        "fix": finding.get("id")})
    return out


def annotate(record: dict, environment: dict, cpu_estimate: dict | None = None) -> dict:
    """Stats, value (throughput at the median, in `unit`), op_key, peak, pct_of_peak."""
    record["op_key"] = op_key(record)
    record["stats"] = stats.summarize(record.get("samples_s") or []) if record.get("status") == "ok" else None
    record["value"] = _value(record)
    record["peak"] = hardware.peak_for(record, environment, cpu_estimate) if record["value"] is not None else None
    record["pct_of_peak"] = _fraction(record, record["peak"]["value"]) if record["peak"] else None
    if record["peak"] and record["pct_of_peak"] and record["pct_of_peak"] > 1.0:
        record["peak"]["exceeded"] = True           # an estimate input (usually the clock) is too low
    return record


def _flag_low_estimate(records: list[dict]) -> None:
    """One result above the CPU estimate shows an input (clock, cores) is too low for every dtype."""
    estimated = [r for r in records if (r.get("peak") or {}).get("source", "").startswith("estimate")]
    over = next((r["id"] for r in estimated if r["peak"].get("exceeded")), None)
    for record in estimated:
        record["peak"]["estimate_too_low"] = over is not None
        if over:
            record["peak"]["exceeded_by"] = over


def op_key(record: dict) -> str:
    """What "same operation, same dtype" means: TF32 results are their own precision."""
    return f"{record.get('op')}/{record.get('device')}/{hardware.precision(record)}"


def _value(record: dict) -> float | None:
    summary = record.get("stats") or {}
    median = summary.get("median_s")
    if record.get("status") != "ok" or not median or median <= 0:
        return None
    unit, work = record.get("unit"), record.get("work") or {}
    if unit == "us":
        return median * 1e6
    amount = work.get("flops") if unit == "GFLOP/s" else work.get("bytes")
    return amount / median / 1e9 if amount else None


def _fraction(record: dict, reference: float | None) -> float | None:
    value = record.get("value")
    if not value or not reference:
        return None
    return value / reference if record.get("direction") != "lower" else reference / value


def best_by_op_key(records: list[dict]) -> dict[str, dict]:
    best: dict[str, dict] = {}
    for record in records:
        value, key = record.get("value"), record.get("op_key")
        if value is None or not key or record.get("status") != "ok":
            continue
        current = best.get(key)
        lower = record.get("direction") == "lower"
        if current is None or (value < current["value"] if lower else value > current["value"]):
            best[key] = record
    return best


def run_benchmarks(target: Target, run: Run, mode: str = "quick", only=None, device: str | None = None,
                   budget_s: float | None = None, progress: Progress | None = None) -> None:
    tasks = plan(run, mode, only, device, budget_s)
    with target.session() as session:
        execute(session, run, tasks, progress)
    finish(run)


def rerun(target: Target, records: list[dict], env_overrides: dict) -> list[dict]:
    """Run the records' tasks again with the environment changed; one new record per input record
    (same id, method and shape), with stats and value. Cases that cannot run come back failed."""
    tasks, order = [], []
    for record in records:
        task = record.get("task") or {}
        if not task.get("probe"):
            raise StackprofError(f"benchmark {record.get('id')} has no task to re-run")
        args = task.get("args") or {}
        budget = float(args.get("budget_s") or 0.5)
        tasks.append(Task(task["probe"], args, 90 + budget * 4 + (600 if "compile" in task["probe"] else 0)))
        order.append(record.get("id"))
    tasks.sort(key=lambda t: _framework_rank(t.args.get("framework")))
    scratch = Run(environment={})
    with target.session(env_overrides) as session:
        execute(session, scratch, tasks)
    by_id = {r.get("id"): r for r in scratch.benchmarks}
    out = []
    for record_id, record in zip(order, records):
        new = by_id.get(record_id)
        if new is None:
            new = {**{k: record.get(k) for k in ("id", "op", "framework", "device", "dtype", "shape", "params",
                                                 "variant", "unit", "direction", "work", "task", "method")},
                   "samples_s": [], "status": "failed", "reason": "the re-run returned no result"}
        out.append(annotate(new, {}))
    return out

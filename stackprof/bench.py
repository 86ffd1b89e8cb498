"""Benchmarks: plan the tasks for a mode, run them in the target, then attach statistics, peaks,
best-on-machine and the headline (contract B in docs/schema-benchmarks.md).

plan(run, mode, only, device, budget_s) -> [Task]       what to measure (bench_suite.py)
measure(session, tasks, progress) -> Batch              runs them: one immutable Measurement per planned
                                                        case, with the machine state while it ran
execute(session, run, tasks, progress)                  measure() into a Run (new lists)
assess(records, environment, fixes, peers) -> [dict]    new records: stats, value, peak, best, max (pure)
finish(run, peers=None)                                 assess + headline (idempotent)
run_benchmarks(target, run, mode, ...)                  plan, execute, finish
rerun(target, records, env_overrides) -> [Measurement]  the same cases again, in a fresh process
Each framework runs in its own agent process (the session is restarted between frameworks), as a
user's program would import it alone: numpy's and torch's thread pools never compete.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from stackprof import hardware, headline, machine_state
from stackprof.bench_suite import FAMILIES, describe_case, normalize_only, suite
from stackprof.errors import StackprofError
from stackprof.measurement import Measurement, thaw
from stackprof.model import Run, one_line
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


@dataclass(frozen=True)
class Batch:
    """What one measuring pass returned: immutable measurements, the errors, the wall time."""
    measurements: tuple
    errors: tuple
    elapsed_s: float


def measure(session: Session, tasks: list[Task], progress: Progress | None = None) -> Batch:
    """Run the tasks in the session; every planned case comes back as a Measurement, with the machine
    state seen while it ran (a crashed or stopped task's unmeasured cases come back failed)."""
    total = sum(len(t.args.get("cases") or []) for t in tasks)
    watch = _CaseWatch(session)
    done = [0]
    previous_listener = session.listener

    def listen(event: dict) -> None:
        if previous_listener:
            previous_listener(event)
        watch(event)
        if event.get("event") == "progress" and progress:
            progress(done[0], total, str(event.get("message", "")))
        elif event.get("event") == "record":
            done[0] += 1

    session.listener = listen
    started = time.perf_counter()
    measurements: list[Measurement] = []
    errors: list[dict] = []
    framework = None
    try:
        for task in tasks:
            if framework is not None and task.args.get("framework") != framework:
                session.close()              # the next framework starts in a fresh process
            framework = task.args.get("framework")
            result = session.run(task)
            records = [r for r in result.records if isinstance(r, dict)]
            measurements += [Measurement.from_record(watch.attach(r)) for r in records]
            if not result.ok:
                errors.append({"stage": "bench", "source": task.probe, "kind": result.kind or "error",
                               "message": one_line(result.error or "failed")})
                missing = _unfinished(task, records, result.error or "failed")
                measurements += [Measurement.from_record(r) for r in missing]
                done[0] += len(missing)
    finally:
        session.listener = previous_listener
        watch.close()
    if progress:
        progress(total, total, "")
    return Batch(tuple(measurements), tuple(errors), round(time.perf_counter() - started, 3))


def execute(session: Session, run: Run, tasks: list[Task], progress: Progress | None = None) -> None:
    """measure() into a Run: its benchmarks and errors become new lists with the new results added."""
    batch = measure(session, tasks, progress)
    run.benchmarks = list(run.benchmarks) + [m.to_record() for m in batch.measurements]
    run.errors = list(run.errors) + list(batch.errors)
    run.timings["bench_s"] = round(run.timings.get("bench_s", 0.0) + batch.elapsed_s, 3)


class _CaseWatch:
    """Machine state per case: a snapshot when the agent announces a case, the difference when its
    record arrives; NVML samples while a GPU case runs."""

    def __init__(self, session: Session):
        self.session = session
        self.opened: machine_state.Snapshot | None = None
        self.sampler = None
        self.states: dict[str, dict] = {}

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "progress":
            self._close_sampler()
            self.opened = machine_state.snapshot(self._pid())
            device = _device_of(str(event.get("message", "")))
            if device and device.startswith("cuda"):
                from stackprof.gpu_sampler import GpuSampler
                self.sampler = GpuSampler(device, self._pid()).start()
        elif kind == "record" and self.opened is not None:
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            state = machine_state.delta(self.opened, machine_state.snapshot(self._pid()))
            samples = self._close_sampler()
            if samples:
                state["gpu"] = samples
                state["flags"] = machine_state.flags(state)
            self.states[str(data.get("id"))] = state
            self.opened = None

    def attach(self, record: dict) -> dict:
        state = self.states.pop(str(record.get("id")), None)
        measured = record.get("status") == "ok"       # a skipped or failed case measured nothing
        return {**record, "state": state} if state is not None and measured else record

    def close(self) -> None:
        self._close_sampler()

    def _close_sampler(self) -> list:
        sampler, self.sampler = self.sampler, None
        return sampler.stop() if sampler is not None else []

    def _pid(self) -> int | None:
        proc = getattr(self.session, "proc", None)
        return proc.pid if proc is not None and proc.poll() is None else None


def _device_of(case_id: str) -> str | None:
    parts = case_id.split("/")
    return parts[2] if len(parts) > 2 else None


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
    """Replace the Run's benchmarks by their assessment (assess) and compute the headline. `peers`:
    other Runs measured on the same machine whose results also count as best-on-machine candidates.
    Results that verify re-measured with a confirmed fix applied count too (fixed_candidates)."""
    others = [(peer.benchmarks, peer.environment, fixed_candidates(peer)) for peer in peers or []]
    run.benchmarks = assess(run.benchmarks, run.environment, fixes=fixed_candidates(run), peers=others)
    run.headline = headline.compute(run.benchmarks)


def assess(records, environment: dict, fixes: list[dict] = (), peers=()) -> list[dict]:
    """New benchmark records: each measurement plus what is derived from it on the host — stats,
    value, op_key, peak and % of peak, best on this machine for the same operation, device, dtype,
    shape and variant (default path against default path) and % of that, the machine's max
    achievable for the operation (any shape, searched shapes included) and % of it. Pure: the
    records given are not changed."""
    measurements = [Measurement.from_record(r) for r in records]
    cpu_estimate = hardware.cpu.estimate(environment.get("system"))
    fresh = [annotate(m, environment, cpu_estimate) for m in measurements]
    fresh = _flag_low_estimate(fresh)
    candidates = list(fresh) + list(fixes)
    for peer_records, peer_env, peer_fixes in peers:
        candidates += [annotate(Measurement.from_record(r), peer_env) for r in peer_records] + list(peer_fixes)
    best = best_by_case_key(candidates)
    maxima = best_by_op_key(candidates)
    out = []
    for record in fresh:
        top = best.get(case_key(record)) if record.get("value") is not None else None
        top_any = maxima.get(record.get("op_key")) if record.get("value") is not None else None
        out.append({**record,
                    "best_on_machine": None if not top else {
                        "id": top["id"], "value": top["value"], **({"fix": top["fix"]} if top.get("fix") else {})},
                    "pct_of_best": _fraction(record, top["value"]) if top else None,
                    "max_achievable": None if not top_any else {"id": top_any["id"], "value": top_any["value"]},
                    "pct_of_max": _fraction(record, top_any["value"]) if top_any else None})
    return out


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


def annotate(record, environment: dict, cpu_estimate: dict | None = None) -> dict:
    """A new record: the measurement's fields plus op_key, stats, value, peak and pct_of_peak."""
    m = Measurement.from_record(record)
    out = m.to_record()
    out["op_key"] = op_key(out)
    out["stats"] = m.stats
    out["value"] = m.value
    peak = hardware.peak_for(out, environment, cpu_estimate) if out["value"] is not None else None
    out["peak"] = dict(peak) if peak else None
    out["pct_of_peak"] = _fraction(out, peak["value"]) if peak else None
    if peak and out["pct_of_peak"] and out["pct_of_peak"] > 1.0:
        out["peak"]["exceeded"] = True           # an estimate input (usually the clock) is too low
    return out


def _flag_low_estimate(records: list[dict]) -> list[dict]:
    """One result above the CPU estimate shows an input (clock, cores) is too low for every dtype."""
    estimated = {id(r) for r in records if (r.get("peak") or {}).get("source", "").startswith("estimate")}
    over = next((r["id"] for r in records if id(r) in estimated and r["peak"].get("exceeded")), None)
    out = []
    for record in records:
        if id(record) in estimated:
            flag = {"estimate_too_low": over is not None, **({"exceeded_by": over} if over else {})}
            record = {**record, "peak": {**record["peak"], **flag}}
        out.append(record)
    return out


def op_key(record: dict) -> str:
    """What "same operation, same dtype" means: TF32 results are their own precision."""
    return f"{record.get('op')}/{record.get('device')}/{hardware.precision(record)}"


def case_key(record: dict) -> str:
    """What "the same case" means for % of best: operation, device, precision, shape and variant
    (searched shapes are a machine's max achievable, not a case)."""
    return json.dumps([record.get("op_key") or op_key(record), record.get("shape"), record.get("variant"),
                       record.get("role")], sort_keys=True, default=str)


def _fraction(record: dict, reference: float | None) -> float | None:
    value = record.get("value")
    if not value or not reference:
        return None
    return value / reference if record.get("direction") != "lower" else reference / value


def _best(records: list[dict], key) -> dict[str, dict]:
    best: dict[str, dict] = {}
    for record in records:
        value, k = record.get("value"), key(record)
        if value is None or not k or record.get("status") != "ok":
            continue
        current = best.get(k)
        lower = record.get("direction") == "lower"
        if current is None or (value < current["value"] if lower else value > current["value"]):
            best[k] = record
    return best


def best_by_case_key(records: list[dict]) -> dict[str, dict]:
    return _best(records, case_key)


def best_by_op_key(records: list[dict]) -> dict[str, dict]:
    return _best(records, lambda r: r.get("op_key"))


def run_benchmarks(target: Target, run: Run, mode: str = "quick", only=None, device: str | None = None,
                   budget_s: float | None = None, progress: Progress | None = None) -> None:
    tasks = plan(run, mode, only, device, budget_s)
    with target.session() as session:
        execute(session, run, tasks, progress)
    finish(run)


def remeasure(session: Session, records: list[dict]) -> list[Measurement]:
    """The records' cases again, in this session: one new Measurement per record (same id, method
    and shape; a case that could not run comes back failed with the reason)."""
    tasks, order = [], []
    for record in records:
        task = record.get("task") or {}
        if not task.get("probe"):
            raise StackprofError(f"benchmark {record.get('id')} has no task to re-run")
        args = thaw(task.get("args") or {})
        budget = float(args.get("budget_s") or 0.5)
        tasks.append(Task(task["probe"], args, 90 + budget * 4 + (600 if "compile" in task["probe"] else 0)))
        order.append(record.get("id"))
    tasks.sort(key=lambda t: _framework_rank(t.args.get("framework")))
    batch = measure(session, tasks)
    by_id = {m.id: m for m in batch.measurements}
    out = []
    for record_id, record in zip(order, records):
        new = by_id.get(record_id)
        if new is None:
            reason = batch.errors[0]["message"] if batch.errors else "the re-run returned no result"
            new = Measurement.from_record(record).with_changes(samples_s=(), status="failed", reason=reason,
                                                               state=None)
        out.append(new)
    return out


def rerun(target: Target, records: list[dict], env_overrides: dict) -> list[Measurement]:
    """remeasure() in a fresh process of the target with the environment changed."""
    with target.session(env_overrides) as session:
        return remeasure(session, records)

"""Several interpreters in one ``stackprof run``: facts of each, then the benchmarks interleaved,
then analyze + verify each, each Run written to DIR/<label>/ and their comparison to DIR/.

Interleaving: the benchmark plan runs in ROUNDS passes; within a pass each task runs for every target
back to back, the target order flipping from task to task and from pass to pass (so every benchmark is
measured A B in one pass and B A in the other), each run with its share of the time budget. The
passes' samples are merged into one record that keeps ``round_sizes``, so the comparison can demand
that every round agrees: a burst of load from a neighbour on a shared machine hits one round, not the
verdict. While one target measures, the others' agents are stopped (SIGSTOP), so that their idle
BLAS/OpenMP threads cannot spin on the CPUs the measurement needs. Each case's machine state
(machine_state.py) comes with its record; per round, the waiting that other work caused is what
the judge uses to leave contended rounds out.

Each target keeps its own warm agent (Target.session) for the whole benchmark phase, restarted only
between frameworks as bench.execute does, so interleaving costs no extra imports. Stages run as in
pipeline.diagnose: a failing stage becomes an errors[] entry and everything else still runs.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from stackprof.errors import StackprofError
from stackprof.target import Target, Task

Echo = Callable[[str], None]
# Three rounds (A B, B A, A B … per task): on a VM whose memory bandwidth and scheduling swing by 30%
# for seconds at a time, two rounds that happen to fall the same way called 8 of 75 unchanged cases
# faster/slower; with three every round must agree (benchmarks/compare_stability.py: 0 of 60).
ROUNDS = 3


def run_many(targets: list[Target], labels: list[str], options: dict, outdir: str | Path,
             echo: Echo | None = None) -> dict:
    """Run the suite in every target; returns {"runs": [Run], "comparison": dict,
    "paths": {label: {fmt: Path}, "comparison": {fmt: Path}}}.

    options: mode (quick|default|full), budget_s (for all targets together), redact, verify, only, device.
    Labels must be distinct: they name the output folders.
    """
    from stackprof.compare import compare_runs
    from stackprof.render.compare_output import write_comparison
    from stackprof.compare.text import counts_text
    from stackprof.pipeline import finalize, new_run, write_outputs

    echo = echo or (lambda message: None)
    if len(targets) != len(labels):
        raise StackprofError(f"{len(targets)} interpreters but {len(labels)} labels")
    folders = output_folders(labels)
    mode = options.get("mode") or "default"
    redact = options.get("redact", True)
    share = options["budget_s"] / len(targets) if options.get("budget_s") else None   # the budget is for all
    extra = {k: v for k, v in options.items() if k not in ("mode", "redact") and _jsonable(v)}
    together = {"id": uuid.uuid4().hex, "labels": list(labels), "rounds": ROUNDS}   # how compare knows
    runs = [new_run(label, mode=mode, redact=redact, interleaved=together, **extra) for label in labels]
    interrupted = False
    try:
        _diagnose_all(targets, runs, mode, share, options, echo)
    except KeyboardInterrupt:
        interrupted = True
        for run in runs:
            run.add_error("run", "run", "interrupted: the report holds what was finished", kind="partial")

    outputs: dict = {}
    finished = []
    for run, folder in zip(runs, folders):
        run = finalize(run, redact=redact)
        outputs[run.label] = write_outputs(run, Path(outdir) / folder)
        echo(f"[{run.label}] wrote {Path(outdir) / folder}")
        finished.append(run)
    comparison = compare_runs(finished)
    outputs["comparison"] = write_comparison(comparison, outdir)
    for pair in comparison["pairs"]:
        echo(f"{finished[pair['b']].label} vs {finished[pair['a']].label}: {counts_text(pair['counts'])}")
    echo(f"wrote {outputs['comparison']['html']}")
    if interrupted:
        raise KeyboardInterrupt
    return {"runs": finished, "comparison": comparison, "paths": outputs}


def _diagnose_all(targets, runs, mode: str, share: float | None, options: dict, echo: Echo) -> None:
    from stackprof import analyze, noise, verify
    from stackprof.collect import collect_facts
    from stackprof.pipeline import BENCH_SHARE, VERIFY_BUDGET_S, run_stage, settle

    started = time.perf_counter()
    for target, run in zip(targets, runs):
        echo(f"[{run.label}] probing {target.executable}")
        run_stage(run, "probe", collect_facts, target, run)
    bench_started = time.perf_counter()
    floor = noise.Floor()                     # the machine's reference before the benchmarks
    try:
        _benchmarks_interleaved(targets, runs, mode, share * BENCH_SHARE if share else None, options, echo)
    except Exception as exc:                  # noqa: BLE001 - never lose the facts to the benchmark stage
        for run in runs:
            run.add_error("bench", "bench", f"{exc.__class__.__name__}: {exc}", kind="exception")
    bench_s = round(time.perf_counter() - bench_started, 3)
    for target, run in zip(targets, runs):
        run.timings["bench_s"] = bench_s          # one shared wall time: the tasks were interleaved
        run_stage(run, "noise", floor.finish, target, run)   # so that each run can be compared apart later
        run_stage(run, "analyze", analyze.analyze, run)
        if options.get("verify", True):
            budget = share * (1 - BENCH_SHARE) if share else VERIFY_BUDGET_S.get(mode, VERIFY_BUDGET_S["default"])
            run_stage(run, "verify", verify.verify, target, run, budget, progress=_prefixed(echo, run.label))
    for run in runs:
        if options.get("verify", True):   # same machine: every run's confirmed fixes count for best-on-machine
            run_stage(run, "settle", settle, run, [other for other in runs if other is not run])
        run.timings["total_s"] = round(time.perf_counter() - started, 3)


def _benchmarks_interleaved(targets, runs, mode: str, budget_s: float | None, options: dict, echo: Echo) -> None:
    try:
        from stackprof import bench
    except Exception as exc:                  # noqa: BLE001 - a broken bench module must not lose the facts
        for run in runs:
            run.add_error("bench", "bench", f"benchmarks unavailable: {exc.__class__.__name__}: {exc}",
                          kind="exception")
        return
    plans = []
    for run in runs:
        try:
            plans.append(bench.plan(run, mode=mode, only=options.get("only"), device=options.get("device"),
                                    budget_s=budget_s))
        except Exception as exc:              # noqa: BLE001
            run.add_error("bench", "plan", f"{exc.__class__.__name__}: {exc}", kind="exception")
            plans.append([])
    echo(f"benchmarks ({mode}): interleaved in {ROUNDS} rounds over {len(runs)} environments")
    measured: list[list[dict]] = [[] for _ in runs]        # every round's records, per target
    try:
        measure_interleaved(targets, runs, plans, echo, measured=measured)
    finally:                                  # an interrupted run keeps what was measured
        for run, records in zip(runs, measured):
            run.benchmarks.extend(merge_rounds(records))
        for run in runs:
            try:                              # same machine: every run's results count for best-on-machine
                bench.finish(run, peers=[other for other in runs if other is not run])
            except Exception as exc:          # noqa: BLE001
                run.add_error("bench", "finish", f"{exc.__class__.__name__}: {exc}", kind="exception")


def measure_interleaved(targets, runs, plans: list[list[Task]], echo: Echo, envs: list[dict] | None = None,
                        measured: list[list[dict]] | None = None) -> list[list[dict]]:
    """Run each target's plan interleaved in ROUNDS passes (interleave), each target in its own warm
    agent with its environment overrides (envs: one dict per target, None = unset); every round's
    records per target, appended to ``measured`` as they arrive (an interrupt keeps them)."""
    from stackprof import bench
    measured = measured if measured is not None else [[] for _ in targets]
    order = interleave(plans)
    _run_order(targets, runs, order, bench, measured, echo, envs)
    return measured


def _run_order(targets, runs, order, bench, measured: list[list[dict]], echo: Echo, envs=None) -> None:
    with ExitStack() as stack:
        sessions = [stack.enter_context(t.session(env)) for t, env in zip(targets, envs or [None] * len(targets))]
        frameworks: list = [None] * len(targets)
        for n, (index, task) in enumerate(order, 1):
            run = runs[index]
            echo(f"[{run.label}] {n}/{len(order)} {task.probe} {_args_text(task.args)}")
            sessions[index].resume()
            framework = task.args.get("framework")
            if frameworks[index] is not None and framework != frameworks[index]:
                sessions[index].close()       # as bench.measure does: each framework in a fresh process
            frameworks[index] = framework
            try:
                batch = bench.measure(sessions[index], [task])
            except Exception as exc:          # noqa: BLE001 - the other tasks and targets go on
                run.add_error("bench", task.probe, f"{exc.__class__.__name__}: {exc}", kind="exception")
                continue
            finally:
                # Stop the idle agent while the others measure: its BLAS/OpenMP threads may still spin
                # after its last call and would take CPU time from the benchmark of the next target.
                sessions[index].pause()
            measured[index].extend(m.to_record() for m in batch.measurements)
            for error in batch.errors:        # the same failure in every round is reported once
                if error not in run.errors:
                    run.errors.append(error)


def interleave(plans: list[list[Task]], rounds: int = ROUNDS) -> list[tuple[int, Task]]:
    """[(target index, task)]: the whole plan ``rounds`` times, each task back to back for every target,
    the target order flipping from task to task and from round to round (task 1: A B then B A; task 2:
    B A then A B), each run of a task with 1/rounds of its time budget. A benchmark's rounds are a whole
    pass apart, so one burst of load from a neighbour cannot hit the same side in every round. A task
    that only some targets planned (a framework missing in one environment) runs only there."""
    keyed = [{_task_key(t): t for t in plan} for plan in plans]
    order_keys: dict[str, None] = {}
    for plan in plans:
        for task in plan:
            order_keys.setdefault(_task_key(task), None)
    indices = list(range(len(plans)))
    out = []
    for r in range(rounds):
        for n, key in enumerate(order_keys):
            for index in (indices if (n + r) % 2 == 0 else indices[::-1]):
                if key in keyed[index]:
                    out.append((index, _round_task(keyed[index][key], rounds)))
    return out


def _round_task(task: Task, rounds: int) -> Task:
    args = dict(task.args)
    if args.get("budget_s"):
        args["budget_s"] = round(float(args["budget_s"]) / rounds, 4)
    return Task(task.probe, args, task.timeout_s)


def merge_rounds(records: list[dict]) -> list[dict]:
    """One record per benchmark id from its rounds: the samples of the rounds that ran ok, in order,
    with ``round_sizes`` (samples per round), ``cpu_wait`` (per round, the CPU share that other
    work took: machine_state.contention) and ``state`` (each round's machine state under ``rounds``); a
    benchmark no round measured keeps its first record. New records: the inputs are not changed."""
    from stackprof.machine_state import contention

    by_id: dict[str, list[dict]] = {}
    for record in records:
        by_id.setdefault(record.get("id"), []).append(record)
    merged = []
    for recs in by_id.values():
        ok = [r for r in recs if r.get("status") == "ok" and r.get("samples_s")]
        if not ok:
            merged.append(dict(recs[0]))
            continue
        record = {**ok[0], "samples_s": [s for r in ok for s in r["samples_s"]],
                  "round_sizes": [len(r["samples_s"]) for r in ok],
                  "cpu_wait": [r.get("cpu_wait") if "cpu_wait" in r else contention(r.get("state")) for r in ok],
                  "state": _merged_state([r.get("state") for r in ok])}
        if len(ok) < len(recs):
            failed = next(r for r in recs if r not in ok)
            record["reason"] = f"{len(recs) - len(ok)} of {len(recs)} rounds did not run: {failed.get('reason')}"
        merged.append(record)
    return merged


def _merged_state(states: list) -> dict | None:
    """The rounds' machine states side by side, with the union of their flags."""
    known = [s for s in states if isinstance(s, dict)]
    if not known:
        return None
    flags = sorted({f for s in known for f in s.get("flags") or []})
    return {"rounds": known, "flags": flags}


def output_folders(labels: list[str]) -> list[str]:
    """A safe, distinct folder name per label (labels may hold any text)."""
    folders = []
    for label in labels:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "env"
        if name in folders:
            raise StackprofError(f"labels must be distinct: '{label}' names the same folder as another; "
                                 "use --label to name each --python")
        folders.append(name)
    return folders


def _task_key(task) -> str:
    return task.probe + " " + json.dumps(task.args, sort_keys=True, default=str)


def _args_text(args: dict) -> str:
    cases = args.get("cases") or []
    shown = " ".join(f"{k}={v}" for k, v in sorted(args.items())
                     if k in ("framework", "device") and not isinstance(v, (dict, list)))
    return f"{shown} ({len(cases)} case{'s' if len(cases) != 1 else ''})"


def _prefixed(echo: Echo, label: str):
    return lambda message: echo(f"[{label}] {message}")


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False

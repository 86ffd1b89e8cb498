"""`stackprof compare --remeasure`: two runs measured apart, measured again together.

When the interpreters of the runs exist on this machine, their common benchmarks are re-run interleaved
(A B, B A … as `stackprof run --python A --python B` does), each side with the performance environment
variables its Run recorded restored: a recorded allow-listed variable is set to its recorded value, an
allow-listed variable that the Run did not record is unset (it was not set then). Secrets were never
recorded and are not needed; values the report redacted (a home path, a user name) are restored where
they can be ("~" expanded) and otherwise left as they are now, with a note. The fresh runs replace the
originals in the comparison; the originals' verdicts are kept beside them.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from stackprof.errors import StackprofError
from stackprof.model import Run
from stackprof.paths import import_probe
from stackprof.target import Target, Task

UNRESTORABLE = ("<user>", "<host>", "<redacted>", "<secret removed>")


def target_of(run: Run, name: str) -> Target:
    recorded = (run.target or {}).get("python") if isinstance(run.target, dict) else None
    if not recorded:
        raise StackprofError(f"run {name} ({run.label}) does not record its interpreter: --remeasure needs it")
    path = os.path.expanduser(str(recorded))
    if any(mark in path for mark in UNRESTORABLE) or not Path(path).exists():
        raise StackprofError(f"run {name}'s interpreter {recorded} does not exist on this machine: --remeasure needs "
                             "both interpreters here (compare without it to judge the runs as measured)")
    return Target(path)


def recorded_env(run: Run) -> tuple[dict, dict, list[str]]:
    """(overrides for the agent: value or None = unset; the same as the Run recorded them, redacted, for
    documents; notes on what could not be restored)."""
    env_vars = import_probe("facts.env_vars")
    recorded = ((run.environment or {}).get("env_vars") or {}).get("vars") or {}
    overrides: dict = {}
    notes: list[str] = []
    for name in os.environ:
        if env_vars.allowed(name) and name not in recorded:
            overrides[name] = None                 # not set when the run was made
    for name, value in recorded.items():
        if not env_vars.allowed(name):
            continue
        text = os.path.expanduser(str(value)) if str(value).startswith("~") else str(value)
        if any(mark in text for mark in UNRESTORABLE):
            notes.append(f"{name} was redacted in the run ({value}); left as it is now")
            overrides.pop(name, None)
            continue
        overrides[name] = text
    shown = {name: None if value is None else recorded[name] for name, value in overrides.items()}
    return overrides, shown, notes


def common_tasks(runs: list[Run]) -> list[list[Task]]:
    """Per run, one task per benchmark that ran ok in every run (same id), as that run measured it."""
    from stackprof.bench import _framework_rank
    ok = [{b["id"]: b for b in run.benchmarks if isinstance(b, dict) and b.get("status") == "ok"
           and isinstance(b.get("task"), dict) and b.get("role") is None} for run in runs]
    ids = [i for i in ok[0] if all(i in other for other in ok[1:])]
    plans = []
    for by_id in ok:
        tasks = [Task(by_id[i]["task"]["probe"], dict(by_id[i]["task"].get("args") or {}),
                      90 + 4 * float((by_id[i]["task"].get("args") or {}).get("budget_s") or 0.5)
                      + (600 if "compile" in by_id[i]["task"]["probe"] else 0)) for i in ids]
        tasks.sort(key=lambda t: _framework_rank(t.args.get("framework")))
        plans.append(tasks)
    return plans


def remeasure(runs: list[Run], echo=None) -> list[Run]:
    """Fresh Runs: each original's facts with its common benchmarks measured again, interleaved."""
    from stackprof import bench
    from stackprof.multi import ROUNDS, measure_interleaved, merge_rounds
    from stackprof.compare.text import side_letter

    echo = echo or (lambda message: None)
    targets = [target_of(run, side_letter(i)) for i, run in enumerate(runs)]
    envs, shown, notes = zip(*(recorded_env(run) for run in runs))
    plans = common_tasks(runs)
    if not plans[0]:
        raise StackprofError("the runs share no benchmark that ran ok in both: nothing to re-measure")
    together = {"id": uuid.uuid4().hex, "labels": [r.label for r in runs], "rounds": ROUNDS}
    fresh = [Run(label=run.label, environment=run.environment, target=run.target,
                 options={**(run.options or {}), "interleaved": together, "remeasured_from": run.run_id,
                          "restored_env": dict(env), "restore_notes": list(note)})     # as recorded: no home path
             for run, env, note in zip(runs, shown, notes)]
    echo(f"re-measuring {len(plans[0])} common benchmarks of {len(runs)} runs, interleaved")
    measured = measure_interleaved(targets, fresh, plans, echo, envs=list(envs))
    for run, records in zip(fresh, measured):
        run.benchmarks = merge_rounds(records)
    for run in fresh:
        bench.finish(run, peers=[other for other in fresh if other is not run])
    return fresh


def originals(comparison: dict) -> list[dict]:
    """What the comparison of the runs as measured said, kept beside the re-measured verdicts."""
    return [{"a": pair["a"], "b": pair["b"], "basis": pair.get("basis"), "threshold": pair.get("threshold"),
             "counts": pair["counts"],
             "verdicts": {b["id"]: {"verdict": b["verdict"], "speedup": b.get("speedup")} for b in pair["benchmarks"]}}
            for pair in comparison["pairs"]]

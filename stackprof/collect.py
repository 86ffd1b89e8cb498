"""probe stage: run the fact probes in the target, add host-level facts, build the Run.

The order of FACT_PROBES matters: native_libs runs after the framework probes so that it sees
the libraries those frameworks loaded into the same process.
"""
from __future__ import annotations

import time

from stackprof.model import Run
from stackprof.target import Target, Task, TaskResult

# (probe module under probes/, environment section, timeout in seconds)
FACT_PROBES: list[tuple[str, str, float]] = [
    ("facts.system", "system", 30),
    ("facts.python", "python", 20),
    ("facts.env_vars", "env_vars", 10),
    ("facts.packages", "packages", 60),
    ("facts.numpy", "numpy", 60),
    ("facts.torch", "torch", 120),
    ("facts.tensorflow", "tensorflow", 120),
    ("facts.jax", "jax", 120),
    ("facts.native_libs", "native_libs", 60),
]


def collect_facts(target: Target, run: Run, listener=None, only: list[str] | None = None,
                  env_overrides: dict | None = None) -> None:
    """Fill run.environment and run.errors from the target's fact probes; never raises for a probe."""
    from stackprof import host_facts   # host-side facts (NVML, …); imported late: optional deps

    started = time.perf_counter()
    plan = [(p, s, t) for p, s, t in FACT_PROBES if only is None or s in only]
    tasks = [Task(probe, {}, timeout) for probe, _, timeout in plan]
    results = target.run_tasks(tasks, env_overrides=env_overrides, listener=listener)
    for (probe, section, _), result in zip(plan, results):
        _store(run, section, result)
    for section, facts, errors in host_facts.collect():
        run.environment[section] = facts
        for message in errors:
            run.add_error("host", section, message)
    run.target = {"python": target.executable, "requested": target.requested,
                  "version": ".".join(map(str, target.version))}
    run.timings["probe_s"] = round(time.perf_counter() - started, 3)


def _store(run: Run, section: str, result: TaskResult) -> None:
    if result.ok and isinstance(result.data, dict):
        run.environment[section] = result.data
        for message in result.data.get("errors", []) if isinstance(result.data.get("errors"), list) else []:
            run.add_error("probe", f"facts.{section}", str(message), kind="partial")
    else:
        run.environment[section] = {"status": "error", "error": result.error}
        run.add_error("probe", result.probe, result.error or "failed", kind=result.kind or "error")

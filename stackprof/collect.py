"""probe stage: run the fact probes in the target, add host-level facts, build the Run.

The order of FACT_PROBES matters: native_libs runs after the framework probes so that it sees
the libraries those frameworks loaded into the same process.
"""
from __future__ import annotations

import os
import threading
import time

from stackprof.errors import StackprofError
from stackprof.model import Run
from stackprof.redact import looks_secret
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
    ("facts.kernels", "kernels", 60),
    ("facts.native_libs", "native_libs", 60),
]
TIMEOUT_SCALE_ENV = "STACKPROF_PROBE_TIMEOUT_SCALE"   # e.g. 3 on a slow network filesystem
HOST_TIMEOUT_S = 30.0                                 # host facts (NVML), after the target's probes


def probe_timeouts(timeout_s: float | None = None) -> dict[str, float]:
    """Per-section timeout: ``timeout_s`` for every probe when given (--probe-timeout), else the
    defaults above times $STACKPROF_PROBE_TIMEOUT_SCALE."""
    if timeout_s is not None:
        if timeout_s <= 0:
            raise StackprofError(f"--probe-timeout must be positive, got {timeout_s}")
        return {section: float(timeout_s) for _, section, _ in FACT_PROBES}
    raw = os.environ.get(TIMEOUT_SCALE_ENV, "").strip()
    scale = 1.0
    if raw:
        try:
            scale = float(raw)
        except ValueError:
            scale = -1.0
        if not scale > 0:
            raise StackprofError(f"{TIMEOUT_SCALE_ENV} must be a positive number, got '{raw[:40]}'")
    return {section: default * scale for _, section, default in FACT_PROBES}


# Sections that call into the libraries (a tiny GEMM per library to see which kernel it dispatches):
# part of `stackprof run`; `stackprof probe` reads files only unless asked (--kernels), to stay fast.
CALLING_PROBES = ("kernels",)


def collect_facts(target: Target, run: Run, listener=None, only: list[str] | None = None,
                  env_overrides: dict | None = None, timeout_s: float | None = None,
                  exclude: tuple[str, ...] = ()) -> None:
    """Fill run.environment and run.errors from the target's fact probes; never raises for a probe."""
    started = time.perf_counter()
    timeouts = probe_timeouts(timeout_s)
    plan = [(p, s) for p, s, _ in FACT_PROBES if (only is None or s in only) and s not in exclude]
    host = _HostFacts()                      # NVML in parallel with the target's probes
    tasks = [Task(probe, {}, timeouts[section]) for probe, section in plan]
    results = target.run_tasks(tasks, env_overrides=env_overrides, listener=listener)
    for (probe, section), result in zip(plan, results):
        _store(run, section, result)
    for section, facts, errors in host.result():
        run.environment[section] = facts
        for message in errors:
            run.add_error("host", section, message, kind="partial")
    run.target = {"python": target.executable, "requested": target.requested,
                  "version": ".".join(map(str, target.version))}
    if target.start_s is not None:
        run.timings["agent_start_s"] = round(target.start_s, 3)     # verify's cost model uses it
    run.timings["probe_s"] = round(time.perf_counter() - started, 3)


class _HostFacts:
    """Host-side collectors (stackprof.host_facts) on a thread; a failure becomes a section error."""

    def __init__(self):
        self._out: list = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from stackprof import host_facts   # imported late: optional deps (pynvml)
        try:
            self._out = host_facts.collect()
        except Exception as exc:  # never lose the target's facts to a host-side bug
            self._out = [("gpus", {"available": None, "reason": f"host facts failed: {exc}"},
                          [f"{exc.__class__.__name__}: {exc}"])]

    def result(self) -> list:
        self._thread.join(timeout=HOST_TIMEOUT_S)
        if self._thread.is_alive():          # a wedged driver can hang NVML: report, don't wait
            message = f"NVML did not answer within {HOST_TIMEOUT_S:g} s"
            return [("gpus", {"available": None, "reason": message}, [message])]
        return self._out


def _store(run: Run, section: str, result: TaskResult) -> None:
    if result.ok and isinstance(result.data, dict):
        data = result.data
        if section == "env_vars":
            data = _recheck_env_vars(data)
        run.environment[section] = data
        errors = data.get("errors")
        for message in errors if isinstance(errors, list) else []:
            kind = "exception" if data.get("import_error") else "partial"
            run.add_error("probe", f"facts.{section}", str(message), kind=kind)
    else:
        run.environment[section] = {"status": "error", "error": result.error}
        run.add_error("probe", result.probe, result.error or "failed", kind=result.kind or "error")


def _recheck_env_vars(data: dict) -> dict:
    """The probe already dropped secret-looking values; check again with the host's rules, so a
    stale or modified probe can never leak one."""
    values = data.get("vars")
    if not isinstance(values, dict):
        return data
    dropped = list(data.get("dropped_secret") or [])
    kept = {}
    for name, value in values.items():
        if isinstance(value, str) and looks_secret(value, strict=True):
            dropped.append(name)
        else:
            kept[name] = value
    return dict(data, vars=kept, dropped_secret=sorted(set(dropped)), count=len(kept))

"""How large a change must be before two runs measured apart may call it faster or slower.

Runs made at different times share no rounds, so no within-run statistic sees the drift between them;
each run measures its own (run.noise: key cases repeated, and a machine reference workload run by the
host interpreter: noise.py). The threshold is the larger of the judge's minimum effect, the drift each
run showed, and the change of the machine's reference workload between the runs; a change below it is
"within drift". Runs without a noise measurement (older stackprof) say so.
"""
from __future__ import annotations

from stackprof import judge, noise


def apart_threshold(run_a, run_b, names: tuple[str, str] = ("A", "B"), op: str | None = None) -> dict:
    """The threshold for one kind of operation (its family's drift: compute or memory), or, without
    `op`, the largest over every family (the pair's summary)."""
    drift_a, drift_b = (noise.drift_for(run.noise, op) if op else (run.noise or {}).get("drift")
                        for run in (run_a, run_b))
    machine = noise.machine_change(run_a.noise, run_b.noise)
    parts = {"minimum effect": judge.MIN_EFFECT, f"drift within {names[0]}": drift_a,
             f"drift within {names[1]}": drift_b, "change of the machine reference between the runs": machine}
    known = {k: v for k, v in parts.items() if isinstance(v, (int, float))}
    value = max(known.values())
    applied = max(known, key=known.get)
    unknown = [k for k, v in parts.items() if v is None]
    reason = (f"the larger of {', '.join(f'{k} ±{v:.0%}' for k, v in known.items())}: {applied} applied"
              + (f"; not measured: {', '.join(unknown)} (a run from an older stackprof)" if unknown else ""))
    return {"value": round(value, 4), "applied": applied, "parts": parts, "reason": reason}

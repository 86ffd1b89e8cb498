"""How large a change must be before two runs measured apart may call it faster or slower.

Runs made at different times share no rounds, so no within-run statistic sees the drift between them;
each run measures its own (run.noise: key cases repeated, and a machine reference workload run by the
host interpreter: noise.py). Each run's figure may sit anywhere within its own drift of the truth, and
the machine itself may have changed between them, so two runs of one environment can differ by up to
(1 + drift A)(1 + drift B)(1 + machine change) − 1: the threshold is the larger of that and the judge's
minimum effect, per kind of work (compute, memory, latency). A change below it is "within drift". Runs
without a noise measurement (older stackprof) say so.
"""
from __future__ import annotations

from stackprof import judge, noise


def apart_threshold(run_a, run_b, names: tuple[str, str] = ("A", "B"), op: str | None = None,
                    bench_id: str | None = None) -> dict:
    """The threshold for one benchmark (its own drift when both runs measured it again, else its
    family's), or, without `op`, the largest over everything (the pair's summary)."""
    drift_a, drift_b = (noise.drift_for(run.noise, op, bench_id) if op else (run.noise or {}).get("drift")
                        for run in (run_a, run_b))
    machine = noise.machine_change(run_a.noise, run_b.noise, op)
    parts = {f"drift within {names[0]}": drift_a, f"drift within {names[1]}": drift_b,
             "change of the machine reference between the runs": machine}
    known = {k: v for k, v in parts.items() if isinstance(v, (int, float))}
    combined = 1.0
    for v in known.values():
        combined *= 1 + v
    combined -= 1
    value = max(judge.MIN_EFFECT, combined)
    applied = "the minimum effect" if value == judge.MIN_EFFECT else "the combined drift"
    unknown = [k for k, v in parts.items() if v is None]
    reason = (f"±{value:.0%} = the larger of the minimum effect ±{judge.MIN_EFFECT:.0%} and the combined drift "
              + " × ".join(f"(1 + {v:.0%} {k})" for k, v in known.items()) + " − 1"
              + (f"; not measured: {', '.join(unknown)} (a run from an older stackprof)" if unknown else ""))
    return {"value": round(value, 4), "applied": applied, "parts": parts, "reason": reason}

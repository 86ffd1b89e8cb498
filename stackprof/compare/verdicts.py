"""Per-benchmark verdicts between two runs, decided by the one judge (stackprof/judge.py) that verify
uses too: ratio of medians, bootstrap interval, Mann-Whitney U, minimum effect, no-effect band, rounds
that must agree and contended rounds left out.

What is compared must be comparable (same method, shape, dtype, unit, work, timing, device,
variant); failed, skipped and missing sides say so. All numbers come from the raw per-call samples
(samples_s), so every benchmark is compared in time: lower is faster whatever its unit; ``ratio``
then restates the result in the benchmark's own unit and direction. The judge's "unclear" is
"noisy" here.
"""
from __future__ import annotations

from stackprof import judge, stats
from stackprof.compare.rounds import clean_samples, paired_rounds

MIN_EFFECT = judge.MIN_EFFECT
VERDICT_WORDS = {"faster": "faster", "slower": "slower", "same": "same", "unclear": "noisy"}

VERDICTS = ("faster", "slower", "same", "within_drift", "noisy", "not_comparable", "failed", "skipped", "missing")
BASES = {"interleaved": "interleaved rounds (one command)", "remeasured": "re-measured interleaved (--remeasure)",
         "apart": "runs measured apart"}

# What must be equal for two records to measure the same thing.
COMPARABLE_FIELDS = (("method", "method name/version"), ("shape", "shape"), ("dtype", "dtype"),
                     ("unit", "unit"), ("direction", "direction"), ("work", "work per call"),
                     ("timing", "timing mode"), ("device", "device"), ("variant", "variant"))


def method_text() -> dict:
    """How verdicts are reached: the one judge's rules (stackprof/judge.py), in this document's words."""
    judged = judge.method()
    return {**judged, "speedup": "median time in A / median time in B (> 1: B is faster)",
            "ratio": "value in B / value in A, in the benchmark's unit",
            "words": "faster / slower / same as the judge says; the judge's unclear is reported as noisy",
            "rounds": "runs measured interleaved in rounds: every round must show the change on its own",
            "contention": (f"a round in which other processes used (or the hypervisor stole) more than "
                           f"{judged['contention_limit']:.0%} of the machine's CPU time is left out; with fewer than "
                           f"{judged['min_clean_rounds']} rounds left a change is noisy, not faster/slower")}


def compare_benchmarks(run_a, run_b, names: tuple[str, str] = ("A", "B"), basis: str = "interleaved",
                       threshold=None) -> list[dict]:
    """One entry per benchmark id in either run, in the order of run A then run B; ``names`` are
    how the reasons call the two sides. ``basis``: how the runs were measured (BASES); for runs
    measured apart, ``threshold(op)`` ({"value", "reason"}: compare/drift.py) is the smallest change called."""
    by_a = {b.get("id"): b for b in run_a.benchmarks if isinstance(b, dict) and b.get("id")}
    by_b = {b.get("id"): b for b in run_b.benchmarks if isinstance(b, dict) and b.get("id")}
    ids = list(by_a) + [i for i in by_b if i not in by_a]
    out = []
    for i in ids:
        ref = by_a.get(i) or by_b.get(i) or {}
        limit = threshold(ref.get("op"), i) if threshold else None
        entry = compare_records(by_a.get(i), by_b.get(i), names, min_effect=(limit or {}).get("value") or MIN_EFFECT)
        entry["basis"] = basis
        if basis == "apart" and limit:
            entry = within_drift(entry, limit)
        out.append(entry)
    return out


def within_drift(entry: dict, threshold: dict) -> dict:
    """Runs measured apart: a change beyond the usual minimum effect but not beyond the drift these runs
    show is "within drift", said as such — never faster/slower."""
    speedup = entry.get("speedup")
    if entry.get("verdict") in ("same", "noisy") and speedup and abs(speedup - 1) >= MIN_EFFECT \
            and abs(speedup - 1) < threshold["value"]:
        return _set(entry, "within_drift", f"{(speedup - 1) * 100:+.1f}% speed, within the ±{threshold['value']:.0%} "
                                           f"these runs measured apart can drift ({threshold['reason']})")
    return entry


def compare_records(a: dict | None, b: dict | None, names: tuple[str, str] = ("A", "B"),
                    min_effect: float = MIN_EFFECT) -> dict:
    ref = a or b
    entry = {
        "id": ref.get("id"), "op": ref.get("op"), "op_key": ref.get("op_key"),
        "framework": ref.get("framework"), "device": ref.get("device"), "dtype": ref.get("dtype"),
        "unit": ref.get("unit"), "direction": ref.get("direction"),
        "a": _side(a), "b": _side(b),
        "speedup": None, "speedup_ci": None, "ratio": None, "ratio_ci": None, "p_value": None,
        "round_speedups": None, "contended_rounds": None, "threshold": None, "verdict": None, "reason": None,
    }
    if a is None or b is None:
        return _set(entry, "missing", f"only in run {names[0] if b is None else names[1]}")
    status_a, status_b = a.get("status") or "ok", b.get("status") or "ok"
    if status_a != "ok" or status_b != "ok":
        return _status_verdict(entry, status_a, status_b, a, b, names)
    different = [label for field, label in COMPARABLE_FIELDS if _norm(a.get(field)) != _norm(b.get(field))]
    if different:
        return _set(entry, "not_comparable", "different " + ", ".join(different))
    samples_a, samples_b = _samples(a), _samples(b)
    if not samples_a or not samples_b:
        return _set(entry, "not_comparable", "no raw samples on " + ("both sides" if not samples_a and not samples_b
                                                                     else names[0] if not samples_a else names[1]))
    rounds = paired_rounds(a, b)
    if rounds:
        verdict = judge.decide([x for x, _, _ in rounds], [y for _, y, _ in rounds],
                               contention=[w for _, _, w in rounds], min_effect=min_effect, names=names)
        entry["contended_rounds"] = list(verdict.left_out)
        entry["round_speedups"] = [_median(x) / _median(y) for x, y, _ in rounds]
    else:
        verdict = judge.decide([samples_a], [samples_b], min_effect=min_effect, names=names)
    return _from_verdict(entry, verdict)


def _median(samples: list[float]) -> float:
    return stats.summarize(samples)["median_s"]


def _from_verdict(entry: dict, verdict: judge.Verdict) -> dict:
    """The judge's verdict in the comparison's words: unclear is "noisy" here; ratio is restated in
    the benchmark's own unit and direction."""
    if verdict.speedup is not None:
        speedup, (lo, hi) = verdict.speedup, verdict.ci
        higher_is_better = entry["direction"] != "lower"
        entry.update(speedup=speedup, speedup_ci=[lo, hi], p_value=verdict.p_value,
                     ratio=speedup if higher_is_better else 1 / speedup,
                     ratio_ci=[lo, hi] if higher_is_better else [1 / hi, 1 / lo], threshold=verdict.threshold)
    return _set(entry, VERDICT_WORDS[verdict.effect], verdict.reason)


def _status_verdict(entry, status_a, status_b, a, b, names) -> dict:
    sides = [(s, st, rec) for s, st, rec in ((names[0], status_a, a), (names[1], status_b, b)) if st != "ok"]
    verdict = "failed" if any(st == "failed" for _, st, _ in sides) else "skipped"
    text = "; ".join(f"{st} in {s}" + (f": {rec.get('reason')}" if rec.get("reason") else "") for s, st, rec in sides)
    return _set(entry, verdict, text)


def _side(record: dict | None) -> dict | None:
    if record is None:
        return None
    summary = stats.summarize(_samples(record))
    return {
        "status": record.get("status") or "ok", "reason": record.get("reason"),
        "value": record.get("value"), "n": summary.get("n", 0), "median_s": summary.get("median_s"),
        "iqr_rel": summary.get("iqr_rel"), "noisy": bool(summary.get("noisy")),
        "pct_of_peak": record.get("pct_of_peak"), "peak": record.get("peak"),
        "method": record.get("method"), "shape": record.get("shape"),
    }


def _samples(record: dict) -> list[float]:
    return clean_samples(record.get("samples_s"))


def _norm(value):
    return None if value in ({}, [], "") else value


def _set(entry: dict, verdict: str, reason: str) -> dict:
    entry["verdict"], entry["reason"] = verdict, reason
    return entry


def _pct(speedup: float) -> str:
    return f"{(speedup - 1) * 100:+.1f}%"


def _interval(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"

"""Per-benchmark verdicts between two runs: ratio of medians, bootstrap CI, Mann-Whitney U, verdict.

A difference is called only when it is both statistically significant (p < ALPHA) and larger than
MIN_EFFECT (asv and pyperf combine the two the same way) — and, for runs measured interleaved in
rounds (records with ``round_sizes``), when every round on its own shows it (as verify does): a burst
of load during one round cannot make a verdict. A benchmark whose spread is too large to tell is
"noisy", never "same". All numbers come from the raw per-call samples (samples_s), so every
benchmark is compared in time: lower is faster whatever its unit; ``ratio`` then restates the result
in the benchmark's own unit and direction.
"""
from __future__ import annotations

import math

from stackprof import stats
from stackprof.compare.rounds import CPU_WAIT_LIMIT, clean_samples, paired_rounds

MIN_EFFECT = 0.05            # smallest speed change reported as faster/slower (±5 %)
ALPHA = 0.01                 # Mann-Whitney U two-sided significance level
CONFIDENCE = 0.95            # bootstrap interval of the ratio of medians
RESAMPLES = 2000
NOISY_IQR_REL = stats.NOISY_IQR_REL
MIN_CLEAN_ROUNDS = 2         # interleaved runs: rounds that must agree for faster/slower

VERDICTS = ("faster", "slower", "same", "noisy", "not_comparable", "failed", "skipped", "missing")

# What must be equal for two records to measure the same thing.
COMPARABLE_FIELDS = (("method", "method name/version"), ("shape", "shape"), ("dtype", "dtype"),
                     ("unit", "unit"), ("direction", "direction"), ("work", "work per call"),
                     ("timing", "timing mode"), ("device", "device"), ("variant", "variant"))


def method_text() -> dict:
    return {
        "statistic": "median of per-call times (samples_s)",
        "speedup": "median time in A / median time in B (> 1: B is faster)",
        "ratio": "value in B / value in A, in the benchmark's unit",
        "ci": {"kind": "percentile bootstrap of the ratio of medians, each side resampled independently",
               "confidence": CONFIDENCE, "resamples": RESAMPLES},
        "test": {"name": "Mann-Whitney U, two-sided", "alpha": ALPHA},
        "min_effect": MIN_EFFECT,
        "noisy_iqr_rel": NOISY_IQR_REL,
        "rounds": "runs measured interleaved in rounds: every round must show the change on its own",
        "cpu_wait_limit": CPU_WAIT_LIMIT,
        "contention": (f"a round in which either side's threads spent more than {CPU_WAIT_LIMIT:.0%} of their time "
                       "runnable but waiting for a CPU (other work on the machine) is left out; with fewer than "
                       f"{MIN_CLEAN_ROUNDS} rounds left a change is noisy, not faster/slower"),
        "text": (f"faster/slower: Mann-Whitney U p < {ALPHA} and a speed change of at least "
                 f"{MIN_EFFECT:.0%} (in every round, for interleaved runs); noisy: a side's IQR/median > "
                 f"{NOISY_IQR_REL:.0%} and the "
                 f"{CONFIDENCE:.0%} bootstrap interval straddles the ±{MIN_EFFECT:.0%} threshold, "
                 "or a change beyond the threshold that is not significant; same: otherwise."),
    }


def compare_benchmarks(run_a, run_b, names: tuple[str, str] = ("A", "B")) -> list[dict]:
    """One entry per benchmark id in either run, in the order of run A then run B; ``names`` are
    how the reasons call the two sides."""
    by_a = {b.get("id"): b for b in run_a.benchmarks if isinstance(b, dict) and b.get("id")}
    by_b = {b.get("id"): b for b in run_b.benchmarks if isinstance(b, dict) and b.get("id")}
    ids = list(by_a) + [i for i in by_b if i not in by_a]
    return [compare_records(by_a.get(i), by_b.get(i), names) for i in ids]


def compare_records(a: dict | None, b: dict | None, names: tuple[str, str] = ("A", "B")) -> dict:
    ref = a or b
    entry = {
        "id": ref.get("id"), "op": ref.get("op"), "op_key": ref.get("op_key"),
        "framework": ref.get("framework"), "device": ref.get("device"), "dtype": ref.get("dtype"),
        "unit": ref.get("unit"), "direction": ref.get("direction"),
        "a": _side(a), "b": _side(b),
        "speedup": None, "speedup_ci": None, "ratio": None, "ratio_ci": None, "p_value": None,
        "round_speedups": None, "contended_rounds": None, "verdict": None, "reason": None,
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
    if not rounds:
        return _judge(entry, samples_a, samples_b, names)
    entry["round_speedups"] = [_median(x) / _median(y) for x, y, _ in rounds]
    clean = [r for r in rounds if r[2] <= CPU_WAIT_LIMIT]
    contended = [i for i, r in enumerate(rounds) if r[2] > CPU_WAIT_LIMIT]
    entry["contended_rounds"] = contended
    if not clean:
        _judge(entry, samples_a, samples_b, names)         # the numbers, for the record
        worst = max(r[2] for r in rounds)
        return _set(entry, "noisy", f"other work held the CPUs in every round (the benchmark's threads waited "
                                    f"for a CPU up to {worst:.0%} of the time); measure on a quieter machine")
    _judge(entry, [v for x, _, _ in clean for v in x], [v for _, y, _ in clean for v in y], names,
           [_median(x) / _median(y) for x, y, _ in clean])
    if contended:
        left_out = (f"round{'s' if len(contended) > 1 else ''} {', '.join(str(i + 1) for i in contended)} "
                    "left out: other work held the CPUs")
        if entry["verdict"] in ("faster", "slower") and len(clean) < MIN_CLEAN_ROUNDS:
            return _set(entry, "noisy", f"{entry['reason']}, but in one round only ({left_out})")
        entry["reason"] += f" ({left_out})"
    return entry


def _median(samples: list[float]) -> float:
    return stats.summarize(samples)["median_s"]


def _judge(entry: dict, samples_a: list[float], samples_b: list[float], names: tuple[str, str],
           rounds: list[float] | None = None) -> dict:
    """The verdict from these samples; ``rounds``: the speed-up of each (clean) round on its own."""
    summary_a, summary_b = stats.summarize(samples_a), stats.summarize(samples_b)
    med_a, med_b = summary_a["median_s"], summary_b["median_s"]
    if med_a <= 0 or med_b <= 0:
        return _set(entry, "not_comparable", "a median time of zero")
    speedup = med_a / med_b
    t_lo, t_hi = stats.bootstrap_ratio_ci(samples_a, samples_b, CONFIDENCE, RESAMPLES)   # of time B / time A
    speed_ci = [1 / t_hi if t_hi > 0 else math.inf, 1 / t_lo if t_lo > 0 else math.inf]
    p = stats.mann_whitney_u(samples_a, samples_b)
    higher_is_better = entry["direction"] != "lower"
    entry.update(speedup=speedup, speedup_ci=speed_ci, p_value=p,
                 ratio=speedup if higher_is_better else 1 / speedup,
                 ratio_ci=speed_ci if higher_is_better else [t_lo, t_hi])
    up, down = 1 + MIN_EFFECT, 1 / (1 + MIN_EFFECT)
    beyond = speedup >= up or speedup <= down
    straddles = any(speed_ci[0] < edge < speed_ci[1] for edge in (up, down))
    noisy_sides = [name for summary, name in zip((summary_a, summary_b), names) if summary["noisy"]]
    change = f"{_pct(speedup)} speed (p = {p:.2g})"
    if noisy_sides and straddles:
        return _set(entry, "noisy", f"IQR/median > {NOISY_IQR_REL:.0%} in {' and '.join(noisy_sides)}"
                                    f" and the interval {_interval(speed_ci)} straddles ±{MIN_EFFECT:.0%}")
    disagree = rounds and len(rounds) > 1 and not all(r >= up if speedup > 1 else r <= down for r in rounds)
    if beyond and p < ALPHA and disagree:
        return _set(entry, "noisy", f"{_pct(speedup)} speed (p = {p:.2g}) but the rounds disagree: "
                                    + ", ".join(_pct(r) for r in rounds))
    if beyond and p < ALPHA:
        return _set(entry, "faster" if speedup > 1 else "slower",
                    change + (f", every round: {', '.join(_pct(r) for r in rounds)}" if rounds and len(rounds) > 1
                              else ""))
    if beyond:
        floor = stats.min_attainable_p(len(samples_a), len(samples_b))
        why = (f"too few samples ({len(samples_a)}+{len(samples_b)}) to reach p < {ALPHA}" if floor >= ALPHA
               else f"not significant (p = {p:.2g} ≥ {ALPHA})")
        return _set(entry, "noisy", f"{_pct(speedup)} speed but {why}")
    return _set(entry, "same", f"{_pct(speedup)} speed, within ±{MIN_EFFECT:.0%}")


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

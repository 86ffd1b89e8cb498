"""The one A/B judge: is B faster than A, slower, the same, or can this data not tell?

verify (the patient's environment vs the environment with a cause removed) and compare (run A vs
run B) both ask this question of raw per-call times, and both get their answer here, with one
statistic, one interval, one test, one minimum effect and one no-effect band:

- statistic: the speed-up median(time A) / median(time B) (> 1: B is faster), pooled over the rounds
  that count; interval: percentile bootstrap of that ratio, each side resampled independently;
  test: two-sided Mann-Whitney U.
- faster / slower: the speed-up is beyond the minimum effect (±5% by default; a comparison of runs
  measured apart raises it to the drift the runs show), p < ALPHA, the interval excludes 1, and, when
  the data come in interleaved rounds, every round on its own shows a change beyond the minimum effect.
- same: the whole interval lies within the no-effect band (±10%, or the minimum effect when larger):
  any effect is smaller than that.
- unclear: anything else, with the reason (noisy, not significant, too few samples, rounds disagree,
  contended).
- Rounds in which other work held the CPUs are left out (``contention``: per round, the share of the
  machine's CPU time other processes used while the case ran, plus time stolen by the hypervisor;
  machine_state.py measures it). Throttling by the
  environment's own quota is part of what is measured, not noise. With fewer than MIN_CLEAN_ROUNDS
  clean rounds left, no faster/slower is called.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import Sequence

from stackprof import stats

MIN_EFFECT = 0.05          # smallest speed change called faster/slower (asv uses 10%, pyperf ~5%)
NO_EFFECT_BAND = 0.10      # "same" needs the whole interval within ±10%
ALPHA = 0.01               # Mann-Whitney U two-sided significance level
CONFIDENCE = 0.95
RESAMPLES = 2000
CONTENTION_LIMIT = 0.10    # a round whose threads waited this share of their time for other work is left out
MIN_CLEAN_ROUNDS = 2
NOISY_IQR_REL = stats.NOISY_IQR_REL

EFFECTS = ("faster", "slower", "same", "unclear")


@dataclass(frozen=True)
class Verdict:
    effect: str                         # faster | slower | same | unclear (B relative to A)
    reason: str
    speedup: float | None = None        # median time A / median time B
    ci: tuple | None = None             # 95% interval of the speed-up
    p_value: float | None = None
    round_speedups: tuple = ()          # per clean round
    left_out: tuple = ()                # indices of rounds left out as contended
    n: tuple = (0, 0)                   # samples per side that counted
    threshold: float = MIN_EFFECT       # the minimum effect that applied
    noisy: tuple = ()                   # which sides had IQR/median above NOISY_IQR_REL

    def as_dict(self) -> dict:
        return {"effect": self.effect, "reason": self.reason, "speedup": _r(self.speedup),
                "ci": [_r(v) for v in self.ci] if self.ci else None, "p_value": self.p_value,
                "round_speedups": [_r(v) for v in self.round_speedups], "left_out_rounds": list(self.left_out),
                "n": list(self.n), "threshold": self.threshold}


def decide(a_rounds: Sequence[Sequence[float]], b_rounds: Sequence[Sequence[float]], *,
           contention: Sequence[float | None] | None = None, min_effect: float = MIN_EFFECT,
           names: tuple[str, str] = ("A", "B")) -> Verdict:
    """Judge B against A from per-round per-call seconds (one round each = no rounds).
    Rounds pair up when both sides have the same number (≥ 2) of them."""
    a_rounds = [_clean(r) for r in a_rounds if _clean(r)]
    b_rounds = [_clean(r) for r in b_rounds if _clean(r)]
    if not a_rounds or not b_rounds:
        missing = " and ".join(n for n, r in zip(names, (a_rounds, b_rounds)) if not r)
        return Verdict("unclear", f"no samples in {missing}", threshold=min_effect)
    paired = len(a_rounds) == len(b_rounds) and len(a_rounds) >= 2
    left_out: tuple = ()
    all_contended = None
    if paired and contention is not None and len(contention) == len(a_rounds):
        left_out = tuple(i for i, c in enumerate(contention) if c is not None and c > CONTENTION_LIMIT)
        if len(left_out) == len(a_rounds):        # the numbers of every round, for the record
            worst = max(c for c in contention if c is not None)
            all_contended = (f"other work held the CPUs in every round (the measuring threads waited for a CPU "
                             f"up to {worst:.0%} of the time); measure on a quieter machine")
        else:
            keep = [i for i in range(len(a_rounds)) if i not in left_out]
            a_rounds, b_rounds = [a_rounds[i] for i in keep], [b_rounds[i] for i in keep]
    a = [s for r in a_rounds for s in r]
    b = [s for r in b_rounds for s in r]
    speedup = median(a) / median(b)
    lo, hi = stats.bootstrap_ratio_ci(b, a, CONFIDENCE, RESAMPLES)     # of median(a) / median(b)
    p = stats.mann_whitney_u(a, b)
    rounds = tuple(median(x) / median(y) for x, y in zip(a_rounds, b_rounds)) if paired else ()
    noisy = tuple(n for n, side in zip(names, (a, b)) if stats.summarize(side)["noisy"])
    base = dict(speedup=speedup, ci=(lo, hi), p_value=p, round_speedups=rounds, left_out=left_out,
                n=(len(a), len(b)), threshold=min_effect, noisy=noisy)
    if all_contended:
        return Verdict("unclear", all_contended, **base)
    up, down = 1 + min_effect, 1 / (1 + min_effect)
    band = max(NO_EFFECT_BAND, min_effect)
    beyond = speedup >= up or speedup <= down
    faster = speedup > 1
    # Every round on its own must show the change: a burst of load in one round cannot make a verdict.
    agree = len(rounds) < 2 or all(r >= up if faster else r <= down for r in rounds)
    dropped = f" ({_rounds_text(left_out)} left out: other work held the CPUs)" if left_out else ""
    change = f"{_pct(speedup)} speed (p = {p:.2g})"
    if beyond and p < ALPHA and (lo > 1 if faster else hi < 1) and agree:
        if left_out and len(a_rounds) < MIN_CLEAN_ROUNDS:
            return Verdict("unclear", f"{change}, but in one round only{dropped}", **base)
        every = f", every round: {', '.join(_pct(r) for r in rounds)}" if len(rounds) > 1 else ""
        return Verdict("faster" if faster else "slower", change + every + dropped, **base)
    if 1 / (1 + band) <= lo and hi <= 1 + band:
        return Verdict("same", f"{_pct(speedup)} speed, 95% interval {_interval((lo, hi))} within "
                               f"±{band:.0%}{dropped}", **base)
    if noisy and any(lo < edge < hi for edge in (up, down)):
        return Verdict("unclear", f"IQR/median > {NOISY_IQR_REL:.0%} in {' and '.join(noisy)} and the interval "
                                  f"{_interval((lo, hi))} straddles ±{min_effect:.0%}{dropped}", **base)
    if beyond and not agree:
        return Verdict("unclear", f"{change} but the rounds disagree: {', '.join(_pct(r) for r in rounds)}{dropped}",
                       **base)
    if beyond:
        floor = stats.min_attainable_p(len(a), len(b)) if len(a) * len(b) <= 400 else 0.0
        why = (f"too few samples ({len(a)}+{len(b)}) to reach p < {ALPHA}" if floor >= ALPHA
               else f"not significant (p = {p:.2g} ≥ {ALPHA})" if p >= ALPHA
               else f"the interval {_interval((lo, hi))} includes no change")
        return Verdict("unclear", f"{_pct(speedup)} speed but {why}{dropped}", **base)
    return Verdict("unclear", f"{_pct(speedup)} speed, but the interval {_interval((lo, hi))} reaches beyond "
                              f"±{band:.0%}: too noisy to say there is no effect{dropped}", **base)


def method() -> dict:
    """The judge's rules as data, for documents that must say how verdicts were reached."""
    return {
        "statistic": "median of per-call times; speed-up = median time A / median time B",
        "ci": {"kind": "percentile bootstrap of the ratio of medians, each side resampled independently",
               "confidence": CONFIDENCE, "resamples": RESAMPLES},
        "test": {"name": "Mann-Whitney U, two-sided", "alpha": ALPHA},
        "min_effect": MIN_EFFECT, "no_effect_band": NO_EFFECT_BAND, "noisy_iqr_rel": NOISY_IQR_REL,
        "contention_limit": CONTENTION_LIMIT, "min_clean_rounds": MIN_CLEAN_ROUNDS,
        "text": (f"faster/slower: a speed change of at least {MIN_EFFECT:.0%} (unless a larger threshold is stated), "
                 f"Mann-Whitney U p < {ALPHA}, a {CONFIDENCE:.0%} bootstrap interval that excludes no change, and "
                 f"every interleaved round showing the change on its own; same: the whole interval within "
                 f"±{NO_EFFECT_BAND:.0%}; otherwise unclear (noisy, not significant, rounds disagree). Rounds in "
                 f"which other processes used more than {CONTENTION_LIMIT:.0%} of the machine's CPU time (or the "
                 "hypervisor stole it) are left out; the environment's own quota throttling is part of the result."),
    }


def _clean(samples) -> list[float]:
    return [float(v) for v in samples or [] if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]


def _pct(speedup: float) -> str:
    return f"{(speedup - 1) * 100:+.1f}%"


def _interval(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _rounds_text(indices) -> str:
    return f"round{'s' if len(indices) > 1 else ''} {', '.join(str(i + 1) for i in indices)}"


def _r(value):
    return None if value is None else round(value, 4)

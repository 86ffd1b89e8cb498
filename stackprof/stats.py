"""The one statistics module: descriptive statistics of timing samples and two-sample tests.

Probes return raw samples; everything computed from them is computed here, once, on the host.
"""
from __future__ import annotations

import math
import random
from statistics import fmean, median

NOISY_IQR_REL = 0.10          # torch.utils.benchmark's threshold: IQR/median above this is "noisy"


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default 'linear' method)."""
    if not sorted_values:
        raise ValueError("quantile of no samples")
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples: list[float]) -> dict:
    """Median, quartiles, IQR/median and the noisy flag of a list of per-call times (seconds)."""
    values = sorted(float(v) for v in samples if v is not None and math.isfinite(v))
    if not values:
        return {"n": 0}
    med = median(values)
    q1, q3 = quantile(values, 0.25), quantile(values, 0.75)
    iqr_rel = (q3 - q1) / med if med > 0 else 0.0
    return {
        "n": len(values), "median_s": med, "mean_s": fmean(values), "min_s": values[0],
        "max_s": values[-1], "q1_s": q1, "q3_s": q3, "iqr_rel": iqr_rel,
        "noisy": iqr_rel > NOISY_IQR_REL,
    }


def bootstrap_ratio_ci(a: list[float], b: list[float], confidence: float = 0.95,
                       resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of median(b) / median(a), resampling each side independently."""
    if not a or not b:
        raise ValueError("bootstrap needs samples on both sides")
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        ma = median(rng.choices(a, k=len(a)))
        mb = median(rng.choices(b, k=len(b)))
        ratios.append(mb / ma if ma > 0 else math.inf)
    ratios.sort()
    tail = (1.0 - confidence) / 2
    return quantile(ratios, tail), quantile(ratios, 1.0 - tail)


def mann_whitney_u(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation with tie and continuity
    correction; exact permutation distribution when both samples are small and untied)."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise ValueError("Mann-Whitney U needs samples on both sides")
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(pooled)
    tie_term, i = 0.0, 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        tie_term += t ** 3 - t
        i = j + 1
    rank_sum_a = sum(r for r, (_, side) in zip(ranks, pooled) if side == 0)
    u = rank_sum_a - n * (n + 1) / 2
    if tie_term == 0 and n * m <= 400:
        return _exact_p(u, n, m)
    mean_u = n * m / 2
    var_u = n * m / 12 * ((n + m + 1) - tie_term / ((n + m) * (n + m - 1)))
    if var_u <= 0:
        return 1.0
    z = (abs(u - mean_u) - 0.5) / math.sqrt(var_u)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def _exact_p(u: float, n: int, m: int) -> float:
    # counts[k] = number of rank arrangements with U == k (classic recurrence over n, m).
    counts = _u_distribution(n, m)
    total = sum(counts)
    mean_u = n * m / 2
    extreme = abs(u - mean_u)
    tail = sum(c for k, c in enumerate(counts) if abs(k - mean_u) >= extreme - 1e-9)
    return min(1.0, tail / total)


def _u_distribution(n: int, m: int) -> list[int]:
    table = {}

    def f(nn: int, mm: int) -> list[int]:
        if nn == 0 or mm == 0:
            return [1]
        key = (nn, mm)
        if key not in table:
            left, right = f(nn - 1, mm), f(nn, mm - 1)
            size = nn * mm + 1
            out = [0] * size
            for k, c in enumerate(left):      # the largest element is from the first sample: +mm
                if k + mm < size:
                    out[k + mm] += c
            for k, c in enumerate(right):
                out[k] += c
            table[key] = out
        return table[key]

    return f(n, m)


def min_attainable_p(n: int, m: int) -> float:
    """Smallest two-sided p-value the exact test can give for these sample sizes (asv's p_min rule)."""
    return 2.0 / math.comb(n + m, n)


def geometric_mean(values: list[float]) -> float:
    values = [v for v in values if v and v > 0]
    if not values:
        raise ValueError("geometric mean of no positive values")
    return math.exp(sum(math.log(v) for v in values) / len(values))

"""The one severity scale: how bad a finding is follows its effect, measured where possible.

A measured speed ratio (how many times faster without the cause, from an A/B re-run or a
side-by-side measurement) maps to a severity through one stated table; an estimate quoted from a
source maps through the same table but can never exceed MAX_ESTIMATED (a hint is not a proof).
"critical" is not reachable from a ratio: it is reserved for facts that mean the hardware cannot be
used at all (a CPU-only wheel on a GPU host, a driver that cannot run the build), decided by the rule.
Opportunities and notes never rank above low/medium and never carry high or critical.
"""
from __future__ import annotations

ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
HIGH_RATIO = 1.5          # ≥ 1.5× slower because of the cause
MEDIUM_RATIO = 1.15       # ≥ 1.15×
MAX_ESTIMATED = "medium"  # an effect only quoted from elsewhere is at most medium
MAX_BY_KIND = {"defect": "critical", "opportunity": "medium", "note": "low"}

SCALE_TEXT = (f"severity from the effect: ≥ {HIGH_RATIO:g}× high, ≥ {MEDIUM_RATIO:g}× medium, smaller "
              "but measured low; an estimated effect is at most medium; critical only when the hardware "
              "cannot be used at all; opportunities at most medium, notes at most low")


def from_ratio(ratio: float | None, *, measured: bool = True) -> str:
    """Severity of an effect of `ratio` (≥ 1: times slower with the cause). None → low."""
    if ratio is None or ratio != ratio:
        return "low"
    effect = ratio if ratio >= 1 else 1 / ratio
    level = "high" if effect >= HIGH_RATIO else "medium" if effect >= MEDIUM_RATIO else "low"
    return level if measured else cap(level, MAX_ESTIMATED)


def cap(severity: str, limit: str) -> str:
    """The milder of the two severities."""
    return severity if ORDER.get(severity, 5) >= ORDER[limit] else limit


def for_kind(severity: str, kind: str) -> str:
    """Opportunities and notes never carry high/critical."""
    return cap(severity, MAX_BY_KIND.get(kind, "critical"))


def worse(a: str, b: str) -> bool:
    """True when a is more severe than b."""
    return ORDER.get(a, 5) < ORDER.get(b, 5)

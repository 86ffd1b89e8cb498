"""Number and value formatting shared by every renderer (plain strings; escaping is the caller's)."""
from __future__ import annotations

import math

NONE = "—"


def is_num(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def num(value: object, digits: int = 4) -> str:
    """A measured number with ``digits`` significant digits, no exponent for everyday magnitudes."""
    if not is_num(value):
        return NONE if value is None else str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10 ** digits:
        return f"{value:,.0f}"
    if magnitude < 1e-3:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - math.floor(math.log10(magnitude)), 0)
    return f"{value:.{decimals}f}"


def pct(value: object, digits: int = 3) -> str:
    """A value already in percent (0–100 scale)."""
    return NONE if not is_num(value) else num(value, digits) + "%"


def share(value: object) -> str:
    """A 0–1 fraction (pct_of_peak, pct_of_best) as a percent with up to 3 significant digits."""
    if not is_num(value):
        return NONE
    text = num(100 * value, 3)
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def fraction_pct(value: object) -> str:
    """A 0–1 fraction as a percent."""
    return NONE if not is_num(value) else f"{100 * value:.0f}%" if value >= 0.1 else f"{100 * value:.2g}%"


def ratio(value: object) -> str:
    return NONE if not is_num(value) else f"{num(value, 3)}×"


def pvalue(value: object) -> str:
    """'p = 0.012' or 'p < 0.0001'."""
    return "p = " + NONE if not is_num(value) else f"p = {value:.2g}" if value >= 1e-4 else "p < 0.0001"


def nbytes(value: object) -> str:
    if not is_num(value):
        return NONE if value is None else str(value)
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{num(size, 3)} {unit}"
        size /= 1024
    return str(value)


def seconds(value: object) -> str:
    if not is_num(value):
        return NONE
    if value >= 1:
        return f"{num(value, 3)} s"
    if value >= 1e-3:
        return f"{num(value * 1e3, 3)} ms"
    return f"{num(value * 1e6, 3)} µs"


def one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fact(item: object, key: str = "") -> str:
    """Any fact value as text: booleans yes/no, null as a dash, byte counts human-readable."""
    if item is None:
        return NONE
    if isinstance(item, bool):
        return "yes" if item else "no"
    if is_num(item) and key.endswith("bytes"):
        return f"{nbytes(item)} ({item:,})" if item >= 1024 else nbytes(item)
    if isinstance(item, float):
        return f"{item:.6g}"
    if isinstance(item, (list, tuple)):
        return ", ".join(fact(v) for v in item) if item else "[]"
    if isinstance(item, dict):
        return ", ".join(f"{k}={fact(v, k)}" for k, v in item.items()) if item else "{}"
    return str(item)

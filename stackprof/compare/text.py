"""Plain-text pieces shared by the comparison renderers (terminal, Markdown, HTML): how a fact value,
a fact path, a speed change and a verdict are written. Escaping is each renderer's job."""
from __future__ import annotations

import json

ABSENT_TEXT = "(absent)"

VERDICT_TEXT = {
    "faster": "faster", "slower": "slower", "same": "same", "noisy": "noisy", "within_drift": "within drift",
    "not_comparable": "not comparable", "failed": "failed", "skipped": "skipped", "missing": "missing",
}
VERDICT_MARK = {"faster": "▲", "slower": "▼", "same": "=", "noisy": "~", "within_drift": "≈", "not_comparable": "x",
                "failed": "!", "skipped": "-", "missing": "?"}


def value_text(value, present: bool = True, limit: int | None = 120, absent: str = ABSENT_TEXT) -> str:
    if not present:
        return absent
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        text = "[" + ", ".join(value_text(v, limit=None) for v in value) + "]"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def excerpts(values: list, present: list[bool], limit: int = 60, absent: str = ABSENT_TEXT) -> list[str]:
    """The values as text of at most ``limit`` characters, cut where they differ: two long build
    strings that share their first 80 characters are shown from just before the first difference."""
    texts = [value_text(v, p, None, absent) for v, p in zip(values, present)]
    if max(len(t) for t in texts) <= limit:
        return texts
    shown = [t for t, p in zip(texts, present) if p]
    common = len(_common_prefix(shown)) if len(shown) > 1 else 0
    start = max(0, common - limit // 4) if common > limit // 2 else 0
    out = []
    for text, p in zip(texts, present):
        if not p:
            out.append(text)
            continue
        piece = ("…" if start else "") + text[start:]
        out.append(piece if len(piece) <= limit else piece[: limit - 1] + "…")
    return out


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def short_path(path: str, section: str) -> str:
    """The path without its section prefix (env_vars.vars.X → X; packages[numpy] → numpy)."""
    if section == "env_vars" and path.startswith("env_vars.vars."):
        return path[len("env_vars.vars."):]
    if section == "packages" and path.startswith("packages[") and path.endswith("]"):
        return path[len("packages["):-1]
    rest = path[len(section):]
    return rest[1:] if rest.startswith(".") else rest or path


def change_text(speedup: float | None) -> str:
    return "" if speedup is None else f"{(speedup - 1) * 100:+.1f}%"


def interval_text(ci) -> str:
    if not ci:
        return ""
    return f"[{(ci[0] - 1) * 100:+.1f}%, {(ci[1] - 1) * 100:+.1f}%]"


def counts_text(counts: dict) -> str:
    order = ["faster", "slower", "same", "within_drift", "noisy", "not_comparable", "failed", "skipped", "missing"]
    parts = [f"{counts[v]} {VERDICT_TEXT[v]}" for v in order if counts.get(v)]
    return ", ".join(parts) or "no benchmarks"


def absent_text(path: str) -> str:
    return "(unset)" if path.startswith("env_vars.") else "(not installed)" if path.startswith("packages[") \
        else ABSENT_TEXT


def bundle_text(change: dict, limit: int = 6) -> str:
    """'9 facts only in B', or for packages 'only in B: torch, sympy, … (9)'."""
    names = change.get("names")
    if names:
        shown = ", ".join(names[:limit]) + (", …" if len(names) > limit else "")
        return f"only in {change['only_in']}: {shown} ({change['count']})"
    return f"{change['count']} facts only in {change['only_in']}"


def fact_change(fact: dict) -> str:
    """'path: a → b' for an attributed fact or a what-changed entry."""
    a, b = excerpts([fact.get("a"), fact.get("b")], fact.get("present", [True, True]), 60, absent_text(fact["path"]))
    return f"{fact['path']}: {a} → {b}"


def run_name(run: dict) -> str:
    return f"{run.get('label') or '?'} ({str(run.get('run_id', ''))[:8]})"


def collapse_groups(entries: list[dict], threshold: int = 6) -> tuple[list[dict], list[tuple[str, list[dict]]]]:
    """Split a section's differing entries into rows to show and bundles of facts that only some runs
    have (a framework installed on one side adds dozens): bundles larger than threshold are collapsed.
    Packages are one fact each (an added package is news), so they collapse only beyond 30."""
    if entries and entries[0]["section"] == "packages":
        threshold = max(threshold, 30)
    by_presence: dict[tuple, list[dict]] = {}
    for e in entries:
        if not all(e["present"]):
            by_presence.setdefault(tuple(e["present"]), []).append(e)
    collapsed = {k: v for k, v in by_presence.items() if len(v) > threshold}
    shown = [e for e in entries if tuple(e["present"]) not in collapsed]
    bundles = []
    for presence, items in collapsed.items():
        which = [i for i, p in enumerate(presence) if p]
        bundles.append((f"{len(items)} facts present only in run{'s' if len(which) > 1 else ''} "
                        + ", ".join(chr(ord('A') + i) for i in which), items))
    return shown, bundles


def facts_differ(n: int, kind: str = "fact") -> str:
    return f"{n} {kind} differs" if n == 1 else f"{n} {kind}s differ"


def unmeasured_in_both(bench: dict) -> bool:
    """Skipped or failed on both sides: nothing to compare (a framework missing everywhere, no GPU)."""
    return all(side and side.get("status") != "ok" for side in (bench["a"], bench["b"]))


def unmeasured_summary(benches: list[dict], limit: int = 4) -> str:
    reasons: dict[str, int] = {}
    for b in benches:
        for side in (b["a"], b["b"]):
            reason = (side or {}).get("reason") or (side or {}).get("status") or "?"
            reasons[reason] = reasons.get(reason, 0) + 1
    top = sorted(reasons, key=lambda r: -reasons[r])
    text = "; ".join(top[:limit]) + (f"; … {len(top) - limit} more reasons" if len(top) > limit else "")
    return f"{len(benches)} not measured in either run ({text})"


def side_letter(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else str(index)


def basis_text(pair: dict) -> str:
    """How this pair's verdicts were reached: the basis and the threshold that applied."""
    basis = pair.get("basis_text") or ("interleaved rounds" if pair.get("interleaved") else "runs measured apart")
    threshold = pair.get("threshold")
    if threshold:
        return f"{basis}; faster/slower only beyond ±{threshold['value']:.0%} ({threshold['reason']})"
    return f"{basis}; faster/slower beyond the judge's minimum effect, every round agreeing"

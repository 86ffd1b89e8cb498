"""Attribution: for each significant difference, the differing facts that can explain it.

The facts come from the fact groups connected to the benchmark's operation (relevance.py) and from
findings that one run has and the other lacks when they name that benchmark or one of those causes.
Runs from different machines get their hardware differences first. Nothing connected: "unexplained".
"""
from __future__ import annotations

from stackprof.compare.envdiff import pair_entries
from stackprof.compare.paths import matches
from stackprof.compare.relevance import groups_for
from stackprof.compare.text import facts_differ, side_letter

SIGNIFICANT = ("faster", "slower")
MAX_FACTS = 12


def attribute(pair_benchmarks: list[dict], env_diff: dict, run_a, run_b, a: int, b: int) -> None:
    """Fill ``attribution`` in each significant benchmark entry of one pair (A = run a, B = run b)."""
    entries = pair_entries(env_diff, a, b)
    hardware = [e for e in entries if e["hardware"]]
    titles = _rule_titles()
    for bench in pair_benchmarks:
        if bench["verdict"] not in SIGNIFICANT:
            bench["attribution"] = None
            continue
        bench["attribution"] = _explain(bench, entries, hardware, (run_a, run_b), (a, b), titles)


def _explain(bench, entries, hardware, runs, sides, titles) -> dict:
    a, b = sides
    facts, seen = [], set()
    if hardware:
        for e in hardware:
            facts.append(_fact(e, a, b, "hardware", "different hardware"))
            seen.add(e["path"])
    groups = groups_for(bench.get("op"), bench.get("framework"), bench.get("device"))
    matched_groups = []
    for group in groups:
        hits = [e for e in entries if e["path"] not in seen and matches(e["path"], group.patterns)]
        for e in hits:
            facts.append(_fact(e, a, b, group.name, group.title))
            seen.add(e["path"])
        if hits:
            matched_groups.append({"name": group.name, "title": group.title,
                                   "causes": [{"id": c, "title": titles.get(c)} for c in group.causes]})
    causes = {c for group in groups for c in group.causes}
    findings = _differing_findings(bench, runs, sides, causes, titles)
    explained = bool(facts or findings)
    return {
        "explained": explained,
        "hardware_first": bool(hardware),
        "facts": facts[:MAX_FACTS],
        "facts_total": len(facts),
        "findings": findings,
        "groups": matched_groups,
        "text": _text(bench, facts, findings, hardware, len(entries)),
    }


def _fact(entry: dict, a: int, b: int, group: str, why: str) -> dict:
    return {"path": entry["path"], "a": entry["values"][a] if entry["present"][a] else None,
            "b": entry["values"][b] if entry["present"][b] else None,
            "present": [entry["present"][a], entry["present"][b]], "group": group, "why": why}


def _differing_findings(bench: dict, runs, sides, causes: set[str], titles: dict) -> list[dict]:
    """Findings present in one run only that name this benchmark or one of its causes."""
    run_a, run_b = runs
    ids_a = {f.get("id") for f in run_a.findings if isinstance(f, dict)}
    ids_b = {f.get("id") for f in run_b.findings if isinstance(f, dict)}
    out = []
    for side, run, other in ((side_letter(sides[0]), run_a, ids_b), (side_letter(sides[1]), run_b, ids_a)):
        for f in run.findings:
            if not isinstance(f, dict) or f.get("id") in other:
                continue
            named = bench["id"] in ((f.get("experiment") or {}).get("benchmarks") or [])
            if named or f.get("id") in causes:
                out.append({"id": f.get("id"), "title": f.get("title") or titles.get(f.get("id")),
                            "only_in": side, "status": f.get("status"), "severity": f.get("severity")})
    return out


def _text(bench: dict, facts: list[dict], findings: list[dict], hardware: list, differing: int) -> str:
    if hardware:
        return (f"the runs come from different machines ({facts_differ(len(hardware), 'hardware fact')}); "
                "hardware is the first explanation")
    if facts:
        kinds = list(dict.fromkeys(f["why"] for f in facts))
        return (f"{facts_differ(len(facts))} that can move {bench.get('op_key') or bench.get('op')}: "
                + "; ".join(kinds))
    if findings:
        return "findings present in only one run: " + ", ".join(str(f["id"]) for f in findings)
    return (f"unexplained: none of the {differing} differing facts is known to affect "
            f"{bench.get('op_key') or bench.get('op')}" if differing else
            "unexplained: the environments show no differing fact")


def _rule_titles() -> dict[str, str]:
    """Rule names by catalogue id, from the rule registry (optional here: never fail a comparison on it)."""
    try:
        from stackprof.rules import RULES
        return {str(rid): str(rule.name) for rid, rule in RULES.items()}
    except Exception:                          # noqa: BLE001 - another part's import error
        return {}

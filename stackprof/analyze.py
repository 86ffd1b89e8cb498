"""analyze stage: run every registered rule on the Run and rank the findings.

A rule that raises is a bug in that rule, not in the environment: it becomes an errors[] entry and
the other rules still run.
"""
from __future__ import annotations

from dataclasses import asdict

from stackprof import affects
from stackprof.model import Finding, Run
from stackprof.rules import RULES
from stackprof.rules.facts import Facts, as_number

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
MEASURED_MIN_RATIO = 1.10     # a measured effect smaller than this does not outrank estimated ones


def analyze(run: Run) -> None:
    facts = Facts(run)
    found = []
    for rule in RULES.values():
        try:
            result = rule.check(facts)
        except Exception as exc:       # noqa: BLE001 - one broken rule must not lose the others
            run.add_error("analyze", f"rule {rule.id}", f"{exc.__class__.__name__}: {exc}", kind="exception")
            continue
        for finding in result if isinstance(result, list) else [result] if result else []:
            found.append(asdict(finding) if isinstance(finding, Finding) else finding)
    run.findings = rank([with_affected_benchmarks(f, run) for f in found])


def with_affected_benchmarks(finding: dict, run: Run) -> dict:
    """The finding with its experiment's benchmarks chosen through the one table of what each cause
    affects (affects.py): the cheapest that shows the cause, per framework; or, when no benchmark it
    affects ran, no benchmark and the reason ("not_measurable"), instead of a re-run that cannot show it."""
    exp = finding.get("experiment")
    if not isinstance(exp, dict) or exp.get("pair"):       # a pair names its two benchmarks itself
        return finding
    names = exp.get("candidates") if isinstance(exp.get("candidates"), list) else exp.get("benchmarks") or []
    candidates = [r for r in (run.benchmark(i) for i in names) if r]
    ids, why = affects.choose(str(finding.get("id")), candidates)
    new = {k: v for k, v in exp.items() if k not in ("candidates", "not_measurable")}
    new["benchmarks"] = ids
    row = affects.AFFECTS.get(str(finding.get("id")))
    if row is not None:
        new["affects"] = row.what
    if why:
        new["not_measurable"] = why
    return {**finding, "experiment": new}


KIND_ORDER = {"defect": 0, "opportunity": 1, "note": 2}   # an opportunity or note never ranks above a defect


def rank(findings: list[dict]) -> list[dict]:
    """Defects, then opportunities, then notes; within each, measured effects first — those proven by
    experiment before those only observed — largest ratio first; then severity, then the estimated ratio.
    A finding without a kind (an older document) is a defect."""
    def key(finding: dict):
        impact = finding.get("impact") if isinstance(finding.get("impact"), dict) else {}
        ratio = as_number(impact.get("ratio")) or 0.0
        measured = impact.get("kind") == "measured" and ratio >= MEASURED_MIN_RATIO
        proven = measured and finding.get("status") == "confirmed"
        kind = finding.get("kind")
        return (KIND_ORDER.get(kind, 0) if isinstance(kind, str) else 0, 0 if proven else 1 if measured else 2,
                -ratio if measured else 0.0, SEVERITY_ORDER.get(finding.get("severity"), 5), -ratio)
    return sorted(findings, key=key)

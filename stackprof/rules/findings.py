"""Small builders shared by the rules, so every Finding has the same shape (docs/schema-findings.md)."""
from __future__ import annotations

from stackprof import severity as scale
from stackprof.model import Finding
from stackprof.rules.facts import as_number, part

SEVERITIES = ("critical", "high", "medium", "low", "info")
KINDS = ("defect", "opportunity", "note")   # defect: an install/env choice that slows this environment;
# opportunity: a program or default choice that trades something for speed; note: about the measurement


def fact(path: str, value) -> dict:
    return {"fact": path, "value": value}


def bench(record: dict, value=None, **extra) -> dict:
    return {"benchmark": record.get("id"), "value": record.get("value") if value is None else value,
            "unit": record.get("unit"), **extra}


def estimated(text: str, source: str, ratio: float | None = None) -> dict:
    """An impact quoted from the catalogue (reported elsewhere, not measured here)."""
    return {"kind": "estimated", "ratio": ratio, "text": text, "source": source}


def measured(ratio: float | None, text: str, benchmarks: list[str] | None = None) -> dict:
    """An impact measured on this machine; ratio = how many times faster without the cause."""
    return {"kind": "measured", "ratio": None if ratio is None else round(ratio, 3), "text": text,
            "source": "measured on this machine", "benchmarks": benchmarks or []}


def pick(records: list[dict], limit: int = 2) -> list[str]:
    """Benchmarks for an experiment: the largest amount of work first, one per framework, then one per
    further dtype, so a change that touches several libraries is measured on each."""
    ranked = sorted(records, key=lambda r: -(as_number(part(r, "work").get("flops"))
                                             or as_number(part(r, "work").get("bytes")) or 0.0))
    chosen: list[dict] = []
    for rec in ranked:
        if rec.get("framework") not in {c.get("framework") for c in chosen}:
            chosen.append(rec)
    for rec in ranked:
        if (rec.get("framework"), rec.get("dtype")) not in {(c.get("framework"), c.get("dtype")) for c in chosen}:
            chosen.append(rec)
    return [rec["id"] for rec in chosen[:limit]]


def experiment(env: dict, records: list[dict], description: str, limit: int = 2) -> dict | None:
    """Env overrides (None = unset) plus the benchmarks that should move; None when nothing changes.
    ``candidates``: every benchmark the rule thinks the change can move; analyze narrows them through
    the one table of what each cause affects (stackprof/affects.py) to the cheapest that shows it."""
    if not env:
        return None
    return {"env": dict(env), "benchmarks": pick(records, limit),
            "candidates": [r["id"] for r in records if r.get("id")], "description": description}


def pair_experiment(slow: dict, fast: dict, description: str) -> dict:
    """Two benchmarks of the same work measured alternately in the patient's environment (verify): a
    gap between two libraries seen once, at two moments, is proven only when it holds interleaved."""
    ids = [slow["id"], fast["id"]]
    return {"env": {}, "pair": ids, "benchmarks": ids, "description": description}


def graded(impact: dict, kind: str = "defect") -> str:
    """Severity of an impact on the one scale (stackprof.severity): a measured speed ratio maps through
    the table, an estimated one too but at most medium, no ratio is low; capped by the kind."""
    ratio = as_number(impact.get("ratio")) if isinstance(impact, dict) else None
    measured_here = isinstance(impact, dict) and impact.get("kind") == "measured"
    return scale.for_kind(scale.from_ratio(ratio, measured=measured_here), kind)


def make(rule_id: str, severity: str, title: str, *, evidence: list, impact: dict, fix: str,
         references: list[str], ab: bool = False, experiment: dict | None = None,
         kind: str = "defect") -> Finding:
    """One finding. ``severity``: usually graded(impact, kind); an opportunity or note is capped by
    its kind (never high or critical), whatever the rule asked for."""
    assert severity in SEVERITIES, severity
    assert kind in KINDS, kind
    severity = scale.for_kind(severity, kind)
    return Finding(id=rule_id, severity=severity, kind=kind, title=title, evidence=evidence, impact=impact, fix=fix,
                   references=list(references), ab=ab, experiment=experiment,
                   status="info" if severity == "info" else "suspected")

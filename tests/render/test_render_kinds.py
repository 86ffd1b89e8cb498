"""Defects, opportunities and notes each get their own section in every format: an opportunity or a
note is never shown among, or above, the defects (docs/schema-findings.md, `kind`)."""
from __future__ import annotations

import re

from stackprof.analyze import rank
from stackprof.model import Run
from stackprof.render import render


def _finding(fid: str, kind: str, severity: str, ratio: float, measured: bool = False) -> dict:
    return {"id": fid, "kind": kind, "severity": severity, "title": f"{fid} title", "status": "suspected",
            "evidence": [{"fact": "x.y", "value": 1}], "fix": f"fix {fid}", "references": [], "ab": False,
            "impact": {"kind": "measured" if measured else "estimated", "ratio": ratio, "text": f"{fid} impact",
                       "source": "test"}}


def _run() -> Run:
    # A large measured opportunity and a note would outrank the small defect on ratio alone.
    findings = rank([_finding("C4", "opportunity", "medium", 6.0, measured=True),
                     _finding("F7", "note", "info", 1.0),
                     _finding("B3", "defect", "low", 1.05),
                     _finding("A6", "defect", "medium", 1.35)])
    return Run(label="kinds", findings=findings)


def test_rank_puts_every_defect_first():
    assert [f["id"] for f in _run().findings] == ["A6", "B3", "C4", "F7"]


def test_html_has_a_section_per_kind_after_the_defects():
    html = render(_run(), "html")
    spans = {kind: html.index(f'<section id="{kind}">') for kind in ("findings", "opportunities", "notes")}
    assert spans["findings"] < spans["opportunities"] < spans["notes"]
    findings_part = html[spans["findings"]:spans["opportunities"]]
    assert re.findall(r'<span class="fid">([^<]+)</span>', findings_part) == ["A6", "B3"]
    assert 'id="opportunity-1"' in html and 'id="note-1"' in html
    assert "C4 title" in html[spans["opportunities"]:spans["notes"]] and "F7 title" in html[spans["notes"]:]


def test_markdown_and_terminal_keep_the_kinds_apart():
    md = render(_run(), "md")
    assert md.index("A6 title") < md.index("B3 title") < md.index("Opportunities (1)") < md.index("C4 title") \
        < md.index("Notes (1)") < md.index("F7 title")
    assert "Also 1 opportunity, 1 note" in md
    text = render(_run(), "terminal")
    assert text.index("Findings (2") < text.index("Opportunities (1)") < text.index("C4") < text.index("Notes (1)")


def test_no_defect_says_so_and_still_lists_opportunities():
    run = Run(label="healthy", findings=rank([_finding("C4", "opportunity", "medium", 6.0, measured=True)]))
    md = render(run, "md")
    assert "No findings: no install or environment choice found" in md and "C4 title" in md
    html = render(run, "html")
    assert 'id="finding-1"' not in html and 'id="opportunity-1"' in html
    assert "Findings: none" in render(run, "terminal")


def test_a_finding_without_a_kind_is_a_defect():
    run = Run(label="old", findings=[{"id": "A1", "severity": "high", "title": "old document"}])
    assert 'id="finding-1"' in render(run, "html")

"""The profile part of the report: escaped everywhere, present only with a profile, small enough."""
from __future__ import annotations

import re

import json
import sys
from pathlib import Path

from stackprof.model import Run
from stackprof.render import render
from stackprof.render.parts import profile as part
from tests.rules.edit import as_run, fixture

from . import builders as b

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "render"))
from render_safety import markdown_problems, parse_html  # noqa: E402

HOSTILE = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'


def profiled(section) -> Run:
    doc = fixture("torch-healthy")
    doc["profile"] = section
    return as_run(doc)


def test_absent_without_a_profile():
    run = Run(label="plain")
    assert part.html(run) is None and part.markdown(run) is None and part.figures(run) == []
    assert "## Profile" not in render(as_run(fixture("torch-healthy")), "md")


def test_hostile_frame_and_command_names_are_escaped():
    section = b.from_lines([b.stack(f"{HOSTILE} (evil.py:1)", 50), b.stack(f"x (lib{HOSTILE}.so)", 50)])
    section["command"] = ["python", HOSTILE]
    page = render(profiled(section), "html")
    doc = parse_html(page)
    assert not [t for t, _ in doc.tags if t == "img"]
    ours = [body for attrs, body in doc.scripts if attrs.get("type") != "application/json"]
    assert len(ours) == 3 and not any("alert(" in body for body in ours)     # plotly, flame graph, report.js
    for attrs, body in doc.scripts:
        if attrs.get("type") == "application/json":
            json.loads(body)
            assert not re.search(r"[<>&]", body)
    assert markdown_problems(render(profiled(section), "md")) == []


def test_markdown_and_terminal_have_the_breakdown():
    run = profiled(b.captured("matmul", fixture("torch-healthy")["environment"]))
    md = render(run, "md")
    assert "## Profile" in md and "native BLAS/LAPACK" in md and "SKYLAKEX" in md
    text = part.terminal(run)
    assert "native BLAS/LAPACK" in text and "BLAS: OpenBLAS" in text


def test_a_long_varied_profile_keeps_the_page_under_2_mb():
    """About 60 s × 100 Hz × 8 threads of deep, varied stacks: the flame tree is capped, the page fits."""
    lines = []
    for t in range(8):
        for i in range(1200):
            frames = ";".join(f"module_{t}.function_{i % 150}_{d} (package/sub_{d % 7}/file_{d}.py:{i % 5})"
                              for d in range(5 + i % 45))
            lines.append(f"thread ({100 + t}): Worker-{t};main (train.py:1);{frames} 5")
    section = b.from_lines(lines, wall_s=60.0)
    assert section["samples"]["total"] == 48_000
    page = render(profiled(section), "html")
    assert len(page.encode("utf-8")) <= 2_000_000

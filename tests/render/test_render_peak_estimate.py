"""A CPU peak estimate that a measured result exceeded is marked in every format, with a note."""
from __future__ import annotations

from render_builders import full_run

from stackprof.render import render


def _with_low_estimate():
    run = full_run()
    cpu = [b for b in run.benchmarks if b.get("device") == "cpu" and isinstance(b.get("peak"), dict)
           and b.get("pct_of_peak") is not None]
    assert cpu, "the builder has CPU results with a peak"
    for rec in cpu:
        rec["peak"]["estimate_too_low"] = True
        rec["peak"]["exceeded_by"] = cpu[0]["id"]
    cpu[0]["pct_of_peak"] = 1.46
    return run, cpu[0]


def test_exceeded_estimate_is_marked_and_explained():
    run, over = _with_low_estimate()
    for fmt in ("md", "terminal", "html"):
        text = render(run, fmt)
        mark = "146%\\*" if fmt == "md" else "146%*"      # Markdown escapes the asterisk
        assert mark in text, fmt
        assert "upper bounds" in text, fmt


def test_no_note_when_the_estimate_holds():
    run = full_run()
    for fmt in ("md", "terminal", "html"):
        assert "upper bounds" not in render(run, fmt)

"""The distributed-run section in a real headless Chromium (tests/browser/chromium.py): the captured
two-node run's section (tests/dist/data) renders offline — rank and node tables, the N-way diff, the
heat map, the straggler tests, the collectives chart — with no error, and text from the ranks cannot
execute."""
from __future__ import annotations

import json

import pytest

from stackprof.analyze import analyze
from stackprof.render import render
from tests.browser.chromium import ARTIFACTS, chromium_available, open_html
from tests.dist.rule_cases import captured
from tests.rules.edit import as_run, fixture

pytestmark = [pytest.mark.browser, pytest.mark.skipif(chromium_available() is not None,
                                                      reason=str(chromium_available()))]


def _page(tmp_path, dist: dict):
    doc = fixture("torch-healthy")
    doc["dist"] = dist
    run = as_run(doc)
    analyze(run)
    path = tmp_path / "report.html"
    path.write_text(render(run, "html"), encoding="utf-8")
    return path


def test_dist_section_renders_offline(tmp_path):
    path = _page(tmp_path, captured("dist-two-nodes-omp1"))
    result = open_html(path, screenshot=ARTIFACTS / "dist-report.png", must_be_visible=("#dist", "table.heat"),
                       evaluate="[document.querySelectorAll('table.heat tbody tr').length, "
                                "document.querySelector('#dist').innerText.includes('straggler')]")
    result.assert_rendered(min_charts=1)
    assert "chart-collectives" in result.charts
    rows, mentions = result.evaluated
    assert rows == 2 and mentions


def test_text_from_ranks_cannot_execute(tmp_path):
    dist = captured("dist-killed-rank")
    hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    dist["ranks"][1]["error"] = hostile
    dist["ranks"][0]["host"] = hostile
    dist["env_diff"]["differing"].append({"path": hostile, "section": "x", "scope": "rank", "expected": False,
                                          "relevant": True, "hardware": False, "distinct": 2, "values": [
                                              {"value": hostile, "present": True, "ranks": [0], "nodes": [0]},
                                              {"value": None, "present": False, "ranks": [1], "nodes": [0]}]})
    path = _page(tmp_path, json.loads(json.dumps(dist)))
    result = open_html(path)
    assert not result.dialogs and result.ok, result.problems

"""The profile report in a real browser (Debian's chromium, headless, offline), like the run report:
no request, no console error, every chart drawn, the flame graph drawn, zoomable and searchable."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.chromium import chromium_available, open_html

from .builders import PROGRAMS

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(chromium_available() is not None, reason=str(chromium_available()))]

FLAME_STATE = """(() => {
  const rects = () => Array.from(document.querySelectorAll('#profile-flame rect'));
  const before = rects().length;
  const widest = rects().filter(r => +r.getAttribute('y') > 40)
                        .sort((a, b) => b.getAttribute('width') - a.getAttribute('width'))[0];
  const widthBefore = +widest.getAttribute('width');
  widest.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  const zoomed = rects().filter(r => r.querySelector('title').textContent === widest.querySelector('title').textContent);
  const widthAfter = Math.max(...zoomed.map(r => +r.getAttribute('width')));
  document.querySelector('#profile-flame .flame-reset').click();
  const after = rects().length;
  const search = document.querySelector('#profile-flame .flame-search');
  search.value = 'spin'; search.dispatchEvent(new Event('input'));
  const hits = document.querySelectorAll('#profile-flame rect.hit').length;
  const matched = document.querySelector('#profile-flame .flame-match').textContent;
  return {before, widthBefore, widthAfter, hits, matched, after};
})()"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gil") / "out"
    subprocess.run([sys.executable, "-m", "stackprof", "profile", "-o", str(out), "--", sys.executable,
                    str(PROGRAMS / "gil_threads.py"), "2"], check=True, capture_output=True, timeout=240)
    return out / "report.html"


def test_profile_report_renders_offline_with_its_charts_and_flame_graph(report):
    result = open_html(report, screenshot="test-artifacts/profile-report.png",
                       must_be_visible=("#profile", "#profile-flame svg", "#chart-profile-categories"),
                       evaluate=FLAME_STATE)
    result.assert_rendered(min_charts=2)
    assert {"chart-profile-categories", "chart-profile-threads"} <= set(result.charts)
    state = result.evaluated
    assert state["before"] > 10 and state["after"] == state["before"]
    assert state["widthAfter"] > state["widthBefore"]          # the clicked frame now spans the graph
    assert state["hits"] >= 3 and state["matched"].startswith("matched: ")
    assert report.stat().st_size <= 2_000_000

"""The comparison page in headless chromium: offline, no console errors, every chart drawn."""
from __future__ import annotations

import pytest

from stackprof.compare import compare_runs
from stackprof.render.compare_output import write_comparison
from tests.browser.chromium import chromium_available, open_html

from .builders import environment, record, run, samples, skylake_environment

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def comparison_html(tmp_path_factory):
    copy = dict(op="copy", unit="GB/s", work={"flops": None, "bytes": 2 ** 27})
    third = environment()
    third["torch"] = {"installed": True, "version": "2.13.0+cpu", "cpu_capability": "AVX512",
                      "config": {"build_settings": {f"SETTING_{i}": str(i) for i in range(12)}}}
    runs = [
        run("haswell <b>", benchmarks=[record(samples_s=samples(0.010, seed=1)),
                                       record("copy/numpy/cpu/fp64/128MiB", samples(0.02, seed=3), **copy)]),
        run("skylakex", env=skylake_environment(),
            benchmarks=[record(samples_s=samples(0.006, seed=2)),
                        record("copy/numpy/cpu/fp64/128MiB", samples(0.02, spread=0.3, seed=4), **copy)]),
        run("with torch", env=third, benchmarks=[record(samples_s=samples(0.0101, seed=5))]),
    ]
    out = tmp_path_factory.mktemp("compare-html")
    return write_comparison(compare_runs(runs), out)["html"]


def test_comparison_page_renders_offline_with_charts(comparison_html):
    reason = chromium_available()
    if reason:
        pytest.skip(reason)
    result = open_html(comparison_html, screenshot="test-artifacts/comparison.png",
                       must_be_visible=("#benchmarks table", "#environment details"),
                       evaluate="document.querySelectorAll('td.verdict').length")
    result.assert_rendered(min_charts=2)
    assert set(result.charts) == {"chart-speed", "chart-peak"}
    assert result.evaluated == 4                          # 2 benchmarks × B vs A, 2 × C vs A
    assert result.title.startswith("stackprof comparison — haswell <b>")

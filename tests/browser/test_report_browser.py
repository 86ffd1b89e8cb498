"""The HTML report in a real browser (Debian's chromium, headless, network disabled): no request,
no console error, every chart drawn, the findings visible. Screenshots go to test-artifacts/."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stackprof.render import render
from tests.browser.chromium import chromium_available, open_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "render"))
from render_builders import full_run, gpu_run, probe_only_run, with_strings  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.skipif(chromium_available() is not None,
                                                      reason=str(chromium_available()))]


def _write(tmp_path: Path, run, name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_text(render(run, "html"), encoding="utf-8")
    return path


def test_full_report_renders_offline_with_every_chart(tmp_path):
    result = open_html(_write(tmp_path, full_run()), screenshot="test-artifacts/report-full.png",
                       must_be_visible=("#findings", "#finding-1", "#benchmarks"))
    result.assert_rendered(min_charts=3)
    assert set(result.charts) == {"chart-peak", "chart-gemm", "chart-bandwidth"}
    assert result.title == "stackprof report — torch-env"
    assert result.screenshot.stat().st_size > 10_000


def test_gpu_shaped_report_renders(tmp_path):
    result = open_html(_write(tmp_path, gpu_run()), screenshot="test-artifacts/report-gpu-shaped.png",
                       must_be_visible=("#findings",))
    result.assert_rendered(min_charts=3)


def test_hostile_strings_do_not_execute_or_break_the_page(tmp_path):
    hostile = '</script><script>alert(1)</script><img src=x onerror=alert(2)>"\'&<b>\x1b[31m'
    result = open_html(_write(tmp_path, with_strings(full_run(), hostile)),
                       screenshot="test-artifacts/report-hostile.png", must_be_visible=("#findings",),
                       evaluate="document.getElementById('stackprof-run').textContent.length")
    result.assert_rendered(min_charts=3)
    assert result.evaluated > 1000          # the embedded Run is one intact JSON block


def test_probe_only_report_has_no_chart_and_no_error(tmp_path):
    result = open_html(_write(tmp_path, probe_only_run()), must_be_visible=("#findings", "#environment"))
    result.assert_rendered()
    assert result.charts == {}


def test_sorting_a_table_works(tmp_path):
    result = open_html(_write(tmp_path, full_run()), evaluate="""(() => {
        const table = document.querySelector('table.bench');
        const header = table.tHead.rows[0].cells[2];          // median
        header.click(); header.click();                       // descending
        return Array.from(table.tBodies[0].rows).slice(0, 3).map(r => r.cells[2].textContent.trim());
    })()""")
    result.assert_rendered()
    values = [float(v) for v in result.evaluated]
    assert values == sorted(values, reverse=True) and values[0] >= 200


# The helper must be able to fail, or the tests above prove nothing.

def test_helper_reports_network_requests_console_errors_and_undrawn_charts(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><title>bad</title></head><body>'
                    '<img src="https://example.invalid/x.png"><div class="chart" id="c1"></div>'
                    '<script>console.error("boom"); alert("hi"); undefined_function();</script></body></html>')
    result = open_html(page, must_be_visible=("#findings",), timeout_ms=2_000)
    assert any("example.invalid" in u for u in result.requests)
    assert any("boom" in m for m in result.console_errors)
    assert result.page_errors and result.dialogs == ["hi"]
    assert result.charts == {"c1": 0}
    assert result.visible == {"#findings": False}
    assert not result.ok


@pytest.mark.slow
def test_report_of_a_real_probe_run(venv_torch, tmp_path, stackprof_cli):
    """Facts from the real probes in a torch+numpy venv, re-rendered by `stackprof report`."""
    assert stackprof_cli("probe", "--python", venv_torch, "-o", tmp_path).returncode == 0
    done = stackprof_cli("report", tmp_path / "run.json", "-o", tmp_path / "report.html")
    assert done.returncode == 0, done.stderr
    result = open_html(tmp_path / "report.html", screenshot="test-artifacts/report-probe-torch.png",
                       must_be_visible=("#findings", "#environment", "#env-torch"))
    result.assert_rendered()


def test_opportunities_and_notes_sections_render_after_the_findings(tmp_path):
    run = full_run()
    run.findings += [
        {"id": "C4", "kind": "opportunity", "severity": "medium", "title": "FP32 matmuls run without TF32",
         "status": "suspected", "impact": {"kind": "estimated", "ratio": 6.9, "text": "~7x", "source": "s"},
         "fix": "torch.set_float32_matmul_precision('high')", "references": []},
        {"id": "F7", "kind": "note", "severity": "info", "title": "ECC is on", "status": "suspected",
         "impact": {}, "fix": "nothing", "references": []}]
    result = open_html(_write(tmp_path, run), screenshot="test-artifacts/report-kinds.png",
                       must_be_visible=("#findings", "#opportunities", "#opportunity-1", "#notes", "#note-1"),
                       evaluate="[...document.querySelectorAll('section[id]')].map(s => s.id).join(',')")
    result.assert_rendered(min_charts=3)
    order = result.evaluated.split(",")
    assert order.index("findings") < order.index("opportunities") < order.index("notes")

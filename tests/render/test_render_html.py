"""The HTML report as a document: self-contained, escaped, complete, re-readable, small enough.
(tests/browser/ opens it in a real browser.)"""
from __future__ import annotations

import re

from render_builders import broken_env_run, full_run, probe_only_run, with_strings
from render_safety import html_problems, parse_html, strip_assets

from stackprof.model import Run, load_run
from stackprof.render import render
from stackprof.render.html import MAX_BYTES, SAMPLE_DIGITS, macros, page, Section
from stackprof.render.figures import benchmark_figures


def _scripts(html: str) -> list[tuple[dict, str]]:
    return parse_html(html).scripts


def test_report_is_self_contained():
    html = render(full_run(), "html")
    assert not html_problems(html)
    ours = strip_assets(html)
    # nothing that makes a browser fetch: no src/srcset, no <link>, no url() in CSS, no @import/@font-face
    assert not re.search(r"\s(src|srcset)\s*=", ours)
    assert "<link" not in ours and "url(" not in ours and "@import" not in ours and "@font-face" not in ours
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    # plotly.js inlined exactly once
    assert html.count("plotly.js (basic - minified) v") == 1


def test_report_sections_and_findings_order():
    html = render(full_run(), "html")
    for anchor in ("headline", "findings", "charts", "benchmarks", "environment", "errors"):
        assert f'id="{anchor}"' in html
    order = [html.index(f'id="{a}"') for a in ("headline", "findings", "charts", "benchmarks", "environment")]
    assert order == sorted(order), "findings come before charts, tables and environment"
    titles = re.findall(r'<span class="fid">([^<]+)</span>', html)
    assert titles == ["A5", "C4", "A9", "M3"]      # the document's order: analyze/verify rank them
    assert 'class="finding sev-low demoted"' in html   # A9: its experiment showed no effect
    # the measured before/after of the confirmed finding is shown as numbers
    assert re.search(r'class="before"[^>]*>130\.2<.*class="after"[^>]*>179\.7<', html, re.S)
    assert "confirmed by experiment" in html and "experiment showed no effect" in html
    assert 'href="https://github.com/numpy/numpy/issues/15764"' in html


def test_every_environment_section_and_the_package_installers_are_shown():
    run = full_run()
    html = render(run, "html")
    for section in run.environment:
        assert f'id="env-{section}"' in html
    for dist in run.environment["packages"]["distributions"]:
        assert f"<td>{dist['name']}</td>" in html
    assert "<th scope=\"col\">installer</th>" in html and "<td>uv</td>" in html


def test_benchmark_table_has_stats_and_skip_reasons():
    html = render(full_run(), "html")
    assert "no CUDA device" in html and "RuntimeError: mkldnn convolution failed" in html
    assert "IQR/median" in html and "% of peak" in html and "% of best" in html
    assert "noisy" in html        # the launch benchmark's IQR is above 10%


def test_charts_one_per_figure_with_a_parsable_spec():
    run = full_run()
    html = render(run, "html")
    figures = benchmark_figures(run)
    assert [f.id for f in figures] == ["chart-peak", "chart-gemm", "chart-bandwidth"]
    specs = {a.get("id"): body for a, body in _scripts(html) if (a.get("class") or "") == "figure-spec"}
    assert sorted(specs) == sorted(f"{f.id}-spec" for f in figures)
    for fig in figures:
        assert f'<div class="chart" id="{fig.id}"' in html


def test_embedded_run_round_trips_through_the_model(tmp_path):
    run = full_run()
    path = tmp_path / "report.html"
    path.write_text(render(run, "html"), encoding="utf-8")
    assert load_run(path).to_dict() == run.to_dict()


def test_probe_only_run_has_no_charts_and_no_plotly():
    html = render(probe_only_run(), "html")
    assert not html_problems(html)
    assert "plotly.js (basic" not in html and 'class="chart"' not in html
    assert "No benchmarks in this run" in html and "No headline" in html


def test_broken_sections_render_with_their_error():
    html = render(broken_env_run(), "html")
    assert not html_problems(html)
    assert "timeout after 120 s in facts.torch" in html
    assert 'status-error' in html


def test_planted_markup_comes_out_escaped():
    planted = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'
    base = render(full_run(), "html")
    html = render(with_strings(full_run(), planted), "html")
    assert not html_problems(html, expected_scripts=len(_scripts(base)))
    assert planted not in strip_assets(html)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_tolerates_odd_documents():
    """Documents from other versions or hand edits: wrong types inside sections must not crash."""
    run = full_run()
    run.findings.append({"id": 7, "severity": None, "evidence": "not a list", "impact": [], "references": [None]})
    run.findings.append("not a dict")
    run.benchmarks.append({"id": "x", "status": "ok", "value": float("nan"), "stats": None})
    run.benchmarks.append("not a dict")
    run.environment["weird"] = ["a", 1, None]
    run.environment["system"]["cpu"] = "a string"
    run.headline = {"score": "high", "components": ["x"]}
    html = render(run, "html")
    assert not html_problems(html)


def test_many_benchmarks_stay_under_2_MB():
    run = full_run(extra_gemm_shapes=300)            # 325 benchmarks, 50 raw samples most
    assert len(run.benchmarks) >= 300
    html = render(run, "html")
    assert len(html.encode("utf-8")) <= MAX_BYTES
    assert f"rounded to {SAMPLE_DIGITS} significant digits" in html
    embedded = Run.from_dict(__import__("json").loads(
        next(body for a, body in _scripts(html) if a.get("id") == "stackprof-run")))
    assert [b["id"] for b in embedded.benchmarks] == [b["id"] for b in run.benchmarks]
    for mine, theirs in zip(run.benchmarks, embedded.benchmarks):
        for a, b in zip(mine["samples_s"], theirs["samples_s"]):
            assert abs(a - b) <= 1e-6 * abs(a)


def test_small_report_keeps_full_precision():
    run = full_run()
    html = render(run, "html")
    assert "rounded to" not in html


def test_page_shell_is_reusable():
    m = macros()
    body = m.data_table(["name", "value"], [["<b>", "&"]])
    html = page("A <title>", [Section("one", "First", body), Section("two", "Second", m.kv_table([("k", "<v>")]))],
                subtitle="sub", embedded={"my-doc": {"x": "</script>"}})
    assert not html_problems(html)
    assert "<title>A &lt;title&gt;</title>" in html and "<td>&lt;b&gt;</td>" in html and "&lt;v&gt;" in html
    assert 'href="#one"' in html and 'href="#two"' in html
    assert "plotly.js (basic" not in html          # no figures, no bundle


def test_gpu_run_shows_devices_and_cuda_results():
    from render_builders import gpu_run
    run = gpu_run()
    html = render(run, "html")
    assert not html_problems(html)
    assert "2× NVIDIA H100 80GB HBM3 · driver 570.86.15 · CUDA driver 12.8" in html
    assert "CUDA 12.8" in html                       # torch essentials: the CUDA build
    assert "<h4>devices <span class=\"muted\">(2)</span></h4>" in html
    gemm = next(f for f in benchmark_figures(run) if f.id == "chart-gemm")
    names = {trace["name"] for trace in gemm.spec["data"]}
    assert {"torch cuda:0 bf16", "torch cuda:0 fp32", "torch cpu fp32"} <= names
    bandwidth = next(f for f in benchmark_figures(run) if f.id == "chart-bandwidth")
    assert "h2d torch cuda:0 u8 pinned" in {trace["name"] for trace in bandwidth.spec["data"]}

"""The Markdown summary: what a maintainer sees in a GitHub issue."""
from __future__ import annotations

import copy

from render_builders import broken_env_run, full_run, probe_only_run, with_strings
from render_safety import markdown_problems

from stackprof.render import render
from stackprof.render.markdown import LIMIT, size


def test_summary_table_findings_and_details():
    md = render(full_run(), "md")
    assert not markdown_problems(md)
    lines = md.splitlines()
    assert lines[0].startswith("## stackprof report: `torch-env`")
    assert lines[2] == "|  |  |" and lines[4].startswith("| **Headline** | **89%**")
    top = md.index("### Findings")
    assert md.index("A5: numpy") < md.index("C4: two") < md.index("A9: torch thread")
    assert "**Measured:** 130.2 → 179.7 GFLOP/s (1.38×, 95% CI 1.31–1.45, p = 0.0002)" in md
    assert "**Fix:** `unset OPENBLAS_CORETYPE`" in md
    assert "[numpy/numpy\\#15764](<https://github.com/numpy/numpy/issues/15764>)" in md or \
        "[numpy/numpy#15764](<https://github.com/numpy/numpy/issues/15764>)" in md
    assert md.index("### Headline numbers") > top
    assert "<details><summary>All benchmarks (25)</summary>" in md
    assert "<details><summary>Environment: packages</summary>" in md
    assert "<details><summary>Errors (1)</summary>" in md
    assert "| `gemm/torch/cuda:0/fp16/4096x4096x4096` | skipped |" in md


def test_package_installers_in_details():
    md = render(full_run(), "md")
    assert "| `threadpoolctl` | `3.6.0` | `uv` |" in md


def test_probe_only_and_broken_runs():
    for run in (probe_only_run(), broken_env_run()):
        md = render(run, "md")
        assert not markdown_problems(md)
        assert "no benchmarks in this run" in md
    assert "timeout after 120 s" in render(broken_env_run(), "md")


def _huge_run():
    run = full_run(extra_gemm_shapes=400)
    dists = run.environment["packages"]["distributions"]
    for i in range(3000):
        d = copy.deepcopy(dists[0])
        d["name"] = f"package-number-{i}-with-a-long-name"
        dists.append(d)
    run.findings *= 10
    return run


def test_fits_a_github_comment_by_cutting_details_with_a_note():
    md = render(_huge_run(), "md")
    assert size(md) < LIMIT
    assert not markdown_problems(md)
    assert "cut to fit a GitHub comment" in md
    # the essentials survive the cut
    assert "| **Headline** |" in md and "### Findings" in md and "### Headline numbers" in md
    assert md.count("<details>") == md.count("</details>")


def test_markup_in_values_is_neutralised():
    planted = "<script>alert(1)</script> | `tick` @octocat *em* [x](javascript:alert(1))"
    md = render(with_strings(full_run(), planted), "md")
    assert not markdown_problems(md)
    assert "\\<script\\>" in md          # in prose, backslash-escaped
    assert "`<script>alert(1)</script> \\| ``tick`` @octocat" in md or "<script>alert(1)</script>" in md

"""The Comparison document: pairs against the baseline, what changed, run summaries, errors."""
from __future__ import annotations

import json

import pytest

from stackprof.compare import compare_runs
from stackprof.errors import DocumentError

from .builders import environment, record, run, samples, skylake_environment


def test_document_is_json_and_states_its_method():
    doc = compare_runs([run("a"), run("b", env=skylake_environment())])
    json.dumps(doc, allow_nan=False)
    assert doc["schema"] == "stackprof.comparison/1"
    assert doc["method"]["test"] == {"name": "Mann-Whitney U, two-sided", "alpha": 0.01}
    assert doc["method"]["min_effect"] == 0.05
    assert [r["label"] for r in doc["runs"]] == ["a", "b"]


def test_what_changed_lists_facts_and_counts_one_sided_sections():
    env_c = environment()
    env_c["torch"] = {"installed": True, "version": "2.13.0", "cpu_capability": "AVX512",
                      "config": {"build_settings": {"USE_MKL": "ON", "USE_MKLDNN": "ON"}}}
    doc = compare_runs([run("a"), run("b", env=skylake_environment()), run("c", env=env_c)])
    b = doc["pairs"][0]["what_changed"]
    assert {c["path"] for c in b} == {"native_libs.libraries[blas:openblas].architecture",
                                     "env_vars.vars.OPENBLAS_CORETYPE"}
    c = doc["pairs"][1]["what_changed"]
    assert c[0]["path"] == "torch.installed" and (c[0]["a"], c[0]["b"]) == (False, True)
    assert {"path": "torch.*", "count": 4, "only_in": "C", "a": None, "b": None, "present": [False, True]} in c


def test_comparing_the_same_run_or_a_single_run_is_refused():
    a = run("a")
    with pytest.raises(DocumentError, match="same run"):
        compare_runs([a, a])
    with pytest.raises(DocumentError, match="at least two runs"):
        compare_runs([a])


def test_runs_without_benchmarks_still_compare_environments():
    doc = compare_runs([run("a", benchmarks=[]), run("b", env=skylake_environment(), benchmarks=[])])
    assert doc["pairs"][0]["benchmarks"] == [] and doc["pairs"][0]["counts"] == {}
    assert doc["environment_diff"]["differing_count"] == 2


def test_benchmark_ids_in_one_run_only_are_missing_on_the_other_side():
    extra = record("gemm/numpy/cpu/fp64/512x512x512", samples(0.02), dtype="fp64")
    doc = compare_runs([run("a", benchmarks=[record(), extra]), run("b")])
    verdicts = {b["id"]: b["verdict"] for b in doc["pairs"][0]["benchmarks"]}
    assert verdicts["gemm/numpy/cpu/fp64/512x512x512"] == "missing"


def test_markdown_always_fits_a_github_comment():
    from stackprof.render.compare_markdown import LIMIT, render

    big = environment()
    big["torch"] = {"installed": True, "config": {"build_settings": {f"FLAG_{i}": "x" * 300 for i in range(400)}}}
    many = [record(f"gemm/numpy/cpu/fp32/{n}x{n}x{n}", samples(0.01, seed=n)) for n in range(1, 400)]
    doc = compare_runs([run("a", benchmarks=many), run("b", env=big, benchmarks=[dict(r) for r in many])])
    text = render(doc)
    assert len(text.encode("utf-16-le")) // 2 <= LIMIT
    assert "same within" in text                          # the compact form: "same" counted, not listed

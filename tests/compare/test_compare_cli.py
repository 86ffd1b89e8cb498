"""The real `stackprof compare` command on Run documents: outputs, formats, errors (one line, exit 2)."""
from __future__ import annotations

import json
import re

from .builders import record, run, samples, skylake_environment


def _pair(tmp_path):
    a = run("haswell", benchmarks=[record(samples_s=samples(0.010, seed=1)),
                                   record("copy/numpy/cpu/fp64/64MiB", samples(0.02, seed=3), op="copy",
                                          unit="GB/s", work={"flops": None, "bytes": 2 ** 27})])
    b = run("skylakex", env=skylake_environment(),
            benchmarks=[record(samples_s=samples(0.006, seed=2)),
                        record("copy/numpy/cpu/fp64/64MiB", samples(0.02, seed=4), op="copy",
                               unit="GB/s", work={"flops": None, "bytes": 2 ** 27})])
    return a.save(tmp_path / "a.json"), b.save(tmp_path / "b.json")


def test_writes_three_files_and_prints_the_summary(tmp_path, stackprof_cli):
    a, b = _pair(tmp_path)
    out = tmp_path / "out"
    proc = stackprof_cli("compare", a, b, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == {"comparison.html", "comparison.md", "comparison.json"}
    assert "faster" in proc.stdout and "OPENBLAS_CORETYPE" in proc.stdout
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["schema"] == "stackprof.comparison/1"
    verdicts = {b["id"]: b["verdict"] for b in doc["pairs"][0]["benchmarks"]}
    assert verdicts == {"gemm/numpy/cpu/fp32/512x512x512": "faster", "copy/numpy/cpu/fp64/64MiB": "same"}
    md = (out / "comparison.md").read_text()
    plain = md.replace("\\", "")
    assert "Mann-Whitney U p < 0.01" in plain and "at least 5%" in plain      # test and threshold stated
    assert 'id="stackprof-comparison"' in (out / "comparison.html").read_text()


def test_json_and_markdown_on_stdout(tmp_path, stackprof_cli):
    a, b = _pair(tmp_path)
    proc = stackprof_cli("compare", a, b, "-o", tmp_path / "o", "--format", "json")
    assert json.loads(proc.stdout)["pairs"][0]["counts"] == {"faster": 1, "same": 1}
    proc = stackprof_cli("compare", a, b, "-o", tmp_path / "o", "--format", "md")
    assert proc.stdout.startswith("# stackprof comparison")


def test_reads_the_run_embedded_in_a_report_html(tmp_path, stackprof_cli):
    a, b = _pair(tmp_path)
    html = tmp_path / "report.html"
    payload = b.read_text().replace("<", "\\u003c")
    html.write_text(f'<!DOCTYPE html><html><body><script type="application/json" id="stackprof-run">{payload}'
                    "</script></body></html>")
    proc = stackprof_cli("compare", a, html, "-o", tmp_path / "o")
    assert proc.returncode == 0, proc.stderr
    assert "skylakex" in proc.stdout


def test_three_runs_are_each_compared_with_the_first(tmp_path, stackprof_cli):
    a, b = _pair(tmp_path)
    c = run("slow", benchmarks=[record(samples_s=samples(0.02, seed=5))]).save(tmp_path / "c.json")
    proc = stackprof_cli("compare", a, b, c, "-o", tmp_path / "o", "--format", "json")
    doc = json.loads(proc.stdout)
    assert [(p["a"], p["b"]) for p in doc["pairs"]] == [(0, 1), (0, 2)]
    assert doc["pairs"][1]["counts"] == {"slower": 1, "missing": 1}
    assert "C vs A" in (tmp_path / "o" / "comparison.md").read_text()


def _one_error_line(proc, *words):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0]


def test_comparing_a_run_with_itself_is_one_clear_error(tmp_path, stackprof_cli):
    a, _ = _pair(tmp_path)
    copy = tmp_path / "copy.json"
    copy.write_text(a.read_text())
    _one_error_line(stackprof_cli("compare", a, copy, "-o", tmp_path / "o"), "same run")
    assert not (tmp_path / "o").exists()


def test_incompatible_schema_is_one_clear_error(tmp_path, stackprof_cli):
    a, b = _pair(tmp_path)
    data = json.loads(b.read_text())
    data["schema"] = "stackprof.run/2"
    b.write_text(json.dumps(data))
    _one_error_line(stackprof_cli("compare", a, b, "-o", tmp_path / "o"), "stackprof.run/2", "newer")
    (tmp_path / "x.json").write_text('{"schema": "pytest-benchmark/4"}')
    _one_error_line(stackprof_cli("compare", a, tmp_path / "x.json", "-o", tmp_path / "o"), "expected")


def test_corrupt_missing_and_single_inputs(tmp_path, stackprof_cli):
    a, b = _pair(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text(b.read_text()[:200])
    _one_error_line(stackprof_cli("compare", a, broken, "-o", tmp_path / "o"), "truncated")
    _one_error_line(stackprof_cli("compare", a, tmp_path / "nope.json", "-o", tmp_path / "o"), "no such file")
    proc = stackprof_cli("compare", a)
    assert proc.returncode == 2 and "at least two runs" in proc.stderr


def test_hostile_labels_and_values_are_escaped(tmp_path, stackprof_cli):
    env = skylake_environment()
    env["env_vars"]["vars"]["OMP_NUM_THREADS"] = "<img src=x onerror=alert(1)> | `x` @someone"
    a = run("<script>alert(1)</script>", benchmarks=[record(samples_s=samples(0.01, seed=1))])
    b = run("b|**bold**", env=env, benchmarks=[record(samples_s=samples(0.006, seed=2))])
    out = tmp_path / "o"
    proc = stackprof_cli("compare", a.save(tmp_path / "a.json"), b.save(tmp_path / "b.json"), "-o", out)
    assert proc.returncode == 0, proc.stderr
    html = (out / "comparison.html").read_text()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    md = (out / "comparison.md").read_text()
    assert "@someone" in md and "<img src=x" in md                       # shown, as literal code
    prose = re.sub(r"(`+).*?\1", "", md)                                 # outside code spans
    assert "<img" not in prose and "@someone" not in prose and "**bold**" not in prose

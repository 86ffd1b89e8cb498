"""stackprof report: re-render from run.json or report.html alone; bad input is one line, exit 2."""
from __future__ import annotations

import json

import pytest
from render_builders import full_run
from render_safety import html_problems, markdown_problems

from stackprof.model import load_run
from stackprof.render import render


@pytest.fixture
def run_json(tmp_path):
    run = full_run()
    return run, run.save(tmp_path / "run.json")


def test_json_to_html_to_md_and_back(run_json, tmp_path, stackprof_cli):
    run, path = run_json
    html = tmp_path / "report.html"
    done = stackprof_cli("report", path, "-o", html)
    assert done.returncode == 0, done.stderr
    assert f"wrote {html} (html," in done.stderr
    assert load_run(html).to_dict() == run.to_dict()          # the page alone carries the Run
    md = stackprof_cli("report", html, "--format", "md")
    assert md.returncode == 0 and md.stdout == render(run, "md")
    as_json = stackprof_cli("report", html, "--format", "json")
    assert json.loads(as_json.stdout) == run.to_dict()


def test_format_follows_the_output_suffix_and_terminal_is_the_default(run_json, tmp_path, stackprof_cli):
    run, path = run_json
    assert stackprof_cli("report", path, "-o", tmp_path / "r.md").returncode == 0
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert text == render(run, "md") and not markdown_problems(text)
    shown = stackprof_cli("report", path)
    assert shown.returncode == 0 and shown.stdout.startswith("stackprof — torch-env")
    assert "\x1b[" not in shown.stdout                      # not a terminal: no colours
    assert stackprof_cli("report", path, "-o", tmp_path / "r.txt").returncode == 0
    assert "\x1b[" not in (tmp_path / "r.txt").read_text(encoding="utf-8")


def _bad_inputs(tmp_path, good_path):
    text = good_path.read_text(encoding="utf-8")
    html = render(load_run(good_path), "html")
    cases = {
        "corrupt.json": "{not json",
        "truncated.json": text[: len(text) // 2],
        "newer.json": json.dumps({"schema": "stackprof.run/2", "label": "x"}),
        "comparison.json": json.dumps({"schema": "stackprof.comparison/1"}),
        "noschema.json": json.dumps({"label": "x"}),
        "list.json": "[1, 2]",
        "wrongtype.json": json.dumps({"schema": "stackprof.run/1", "benchmarks": {"a": 1}}),
        "empty.json": "",
        "binary.json": "\udcff",
        "plain.html": "<html><body>hello</body></html>",
        "truncated.html": html[: html.index('id="stackprof-run"') + 2000],
    }
    paths = []
    for name, content in cases.items():
        path = tmp_path / name
        if name == "binary.json":
            path.write_bytes(b"\xff\xfe\x00garbage")
        else:
            path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths + [tmp_path / "missing.json", tmp_path]


def test_bad_input_is_one_line_and_exit_2(run_json, tmp_path, stackprof_cli):
    _, good = run_json
    for path in _bad_inputs(tmp_path, good):
        done = stackprof_cli("report", path, "--format", "html")
        assert done.returncode == 2, (path.name, done.returncode, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, (path.name, done.stderr)
        assert lines[0].startswith(("stackprof: error:", "Error:", "Usage:")) or "Error" in lines[0], lines
        assert done.stdout == ""


def test_unwritable_output_is_one_line(run_json, tmp_path, stackprof_cli):
    _, good = run_json
    done = stackprof_cli("report", good, "-o", tmp_path / "no" / "such" / "dir" / "r.html")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_real_probe_run_renders_in_every_format(venv_torch, tmp_path, stackprof_cli):
    """A Run captured from a real torch+numpy environment by the real probes."""
    done = stackprof_cli("probe", "--python", venv_torch, "-o", tmp_path / "probe")
    assert done.returncode == 0, done.stderr
    run = load_run(tmp_path / "probe" / "run.json")
    assert run.environment["torch"]["installed"] is True
    html = render(run, "html")
    assert not html_problems(html)
    assert 'id="env-torch"' in html and "mkl" in html
    md = render(run, "md")
    assert not markdown_problems(md) and "| **torch** |" in md
    terminal = render(run, "terminal", color=False)
    assert "torch" in terminal and "BLAS mkl" in terminal

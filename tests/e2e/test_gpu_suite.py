"""scripts/gpu_suite.sh is one prepared script for a GPU machine without network. No GPU here: its
--dry-run runs the same script end to end (interpreter discovery, the host side in the measured
interpreter, the suite's plan, the writers) on a real CPU torch venv that has no plotly, and the
outputs must be the committable set: run.json, report.md, summary.txt and the log, redacted."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_suite.sh"


def _run(tmp_path, python, *args, **env):
    out = tmp_path / "out"
    full = dict(os.environ, OUT=str(out), STACKPROF_PYTHON=str(python), **env)
    result = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=full, timeout=300)
    return result, out


def test_dry_run_writes_the_committable_outputs_without_plotly(venv_torch, tmp_path):
    result, out = _run(tmp_path, venv_torch, "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    assert names == ["gpu_suite.log", "report.md", "run.json", "summary.txt"]     # the venv has no plotly
    assert sorted(p.name for p in (out / "dist").iterdir()) == ["report.md", "run.json"]   # the single-GPU dist path
    run = json.loads((out / "run.json").read_text())
    assert run["options"]["dry_run"] is True and run["environment"]["torch"]["installed"] is True
    summary = (out / "summary.txt").read_text()
    assert re.search(r"\d+ cases in \d+ groups, about \d+ s planned \(mode default, cuda:0\)", summary)
    assert "stackprof report run.json --format html" in summary
    home = re.compile(r"(?<![\w.-])" + re.escape(str(Path.home())) + r"(?=/|\b)")   # not /opt/x/root/usr
    for path in out.rglob("*"):
        if path.is_file():
            assert not home.search(path.read_text()), f"{path.name} leaks the home directory"


def test_no_torch_fails_with_one_line_and_still_leaves_the_log(venv_bare, tmp_path):
    result, out = _run(tmp_path, venv_bare, "--dry-run")
    assert result.returncode == 2
    assert "no Python with a working CUDA torch" in result.stderr
    assert (out / "gpu_suite.log").is_file()


@pytest.mark.parametrize("path", ["scripts/gpu_suite.sh", "scripts/gpu_suite.py"])
def test_the_suite_fetches_and_installs_nothing(path):
    text = (ROOT / path).read_text()
    assert not re.search(r"pip install|pip3 install|curl |wget |conda install|apt-get", text)

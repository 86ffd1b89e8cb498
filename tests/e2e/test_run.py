"""`stackprof run` end to end on real interpreters: the three outputs, the printed summary, every
experiment measured before/after, partial results kept when a stage fails or the user interrupts."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackprof.errors import StackprofError
from stackprof.model import Run, load_run
from stackprof.pipeline import run_stage, write_outputs

ROOT = Path(__file__).resolve().parents[2]
MEASURED = {"confirmed", "no_effect", "worse", "inconclusive"}
FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "torch.json"


def _cpu_has(flag: str) -> bool:
    try:
        return flag in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


@pytest.mark.slow
def test_quick_run_in_fresh_torch_venv(venv_torch, stackprof_cli, tmp_path):
    out = tmp_path / "report"
    started = time.monotonic()
    result = stackprof_cli("run", "--quick", "--python", venv_torch, "-o", out, timeout=900)
    wall = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    paths = {name: out / name for name in ("run.json", "report.md", "report.html")}
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    for p in paths.values():
        assert f"wrote {p}" in result.stdout

    run = load_run(paths["run.json"])
    assert [b for b in run.benchmarks if b.get("status") == "ok"], "no benchmark ran"
    assert run.findings, "a quick run on this machine finds at least the measurement rules"
    assert run.findings[0]["id"] in result.stdout                 # the top findings are printed
    assert set(run.timings) >= {"probe_s", "bench_s", "analyze_s", "verify_s", "total_s"}

    with_experiment = [f for f in run.findings if f.get("experiment")]
    for finding in with_experiment:                              # every experiment was measured
        v = finding.get("verification") or {}
        assert v.get("status") in MEASURED, (finding["id"], v)
        assert v["before"]["value"] > 0 and v["after"]["value"] > 0 and v["p_value"] is not None
        assert v["rounds"] >= 2 and all(len(b["round_ratios"]) == v["rounds"] for b in v["benchmarks"])
        md = paths["report.md"].read_text(encoding="utf-8")
        assert "→" in md.split(f"· {finding['id']}:", 1)[1].split("\n\n", 1)[0]   # before → after in its entry

    if os.environ.get("OPENBLAS_CORETYPE", "").lower() == "haswell" and _cpu_has("avx512f"):
        a6 = next(f for f in run.findings if f["id"] == "A6")       # this machine's real cause
        assert a6["experiment"]["env"]["OPENBLAS_CORETYPE"] is None
        assert a6["verification"]["status"] in MEASURED
    print(f"stackprof run --quick: {wall:.1f} s wall; findings: {[f['id'] for f in run.findings]}")


@pytest.mark.slow
def test_bare_interpreter_still_writes_every_output(venv_bare, stackprof_cli, tmp_path):
    result = stackprof_cli("run", "--quick", "--python", venv_bare, "-o", tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run = load_run(tmp_path / "run.json")
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.md").is_file()
    assert run.environment.get("numpy", {}).get("installed") is False


@pytest.mark.slow
def test_interrupt_keeps_the_partial_result(venv_numpy, tmp_path):
    """Ctrl-C during the benchmarks: exit 130, and run.json holds the facts plus an 'interrupted' entry."""
    proc = subprocess.Popen([sys.executable, "-m", "stackprof", "run", "--python", str(venv_numpy), "-o",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    seen = ""
    deadline = time.monotonic() + 120
    while "benchmarks" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    run = load_run(tmp_path / "run.json")
    assert run.environment["numpy"]["installed"] is True
    assert any("interrupted" in e["message"] for e in run.errors)
    assert (tmp_path / "report.html").is_file()


@pytest.mark.slow
def test_several_interpreters_delegate_to_run_many(venv_bare, venv_numpy, stackprof_cli, tmp_path):
    result = stackprof_cli("run", "--quick", "--python", venv_bare, "--python", venv_numpy,
                           "--label", "bare", "--label", "np", "-o", tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "bare" / "run.json").is_file() and (tmp_path / "np" / "report.html").is_file()
    assert (tmp_path / "comparison.json").is_file()


def test_a_failing_stage_becomes_an_error_entry_and_the_flow_goes_on():
    run = Run(label="x")

    def broken():
        raise RuntimeError("bench exploded")
    assert run_stage(run, "bench", broken) is False
    assert run_stage(run, "analyze", lambda: None) is True
    assert run.errors == [{"stage": "bench", "source": "bench", "kind": "exception",
                           "message": "RuntimeError: bench exploded"}]
    assert "bench_s" in run.timings and "analyze_s" in run.timings


def test_write_outputs_writes_the_three_files(tmp_path):
    run = load_run(FIXTURE)
    paths = write_outputs(run, tmp_path / "out")
    assert sorted(p.name for p in paths.values()) == ["report.html", "report.md", "run.json"]
    again = load_run(paths["json"])
    assert again.findings == run.findings and again.benchmarks == run.benchmarks
    assert json.loads(paths["json"].read_text())["schema"] == "stackprof.run/1"


def test_unwritable_output_directory_is_one_clear_line(tmp_path, stackprof_cli):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StackprofError):
        write_outputs(load_run(FIXTURE), blocker / "sub")
    result = stackprof_cli("run", "--quick", "--python", "/nonexistent/python", "-o", tmp_path, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_quick_run_gives_every_experiment_a_verdict_on_both_isa_ladders(venv_torch, stackprof_cli, tmp_path):
    """ATEN_CPU_CAPABILITY=default (C8), a thread cap (B3) and a oneDNN ISA cap on this CPU's ladder (A8:
    AVX2 on an AVX-512 CPU; AVX512_CORE_BF16 on an AMX one): `run --quick` ends every finding that has an
    A/B experiment with a verdict, never "skipped for budget"."""
    env = {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"}
    if _cpu_has("amx_bf16"):
        env["ONEDNN_MAX_CPU_ISA"] = "AVX512_CORE_BF16"
    elif _cpu_has("avx512f"):
        env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    result = stackprof_cli("run", "--quick", "--python", venv_torch, "-o", tmp_path, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    run = load_run(tmp_path / "run.json")
    found = {f["id"]: f for f in run.findings}
    expected = {"C8"} | ({"B3"} if (os.cpu_count() or 1) >= 2 else set()) | ({"A8"} if "ONEDNN_MAX_CPU_ISA" in env else set())
    assert expected <= set(found), sorted(found)
    for finding in run.findings:
        exp = finding.get("experiment") or {}
        if exp.get("benchmarks"):
            assert finding["verification"]["status"] in MEASURED, (finding["id"], finding["verification"])
    c8 = found["C8"]["experiment"]
    assert all(run.benchmark(i)["op"] in ("exp", "softmax", "layer_norm") for i in c8["benchmarks"])
    print({f["id"]: (f["verification"] or {}).get("status") for f in run.findings if f.get("verification")},
          f"{run.timings.get('total_s')} s")

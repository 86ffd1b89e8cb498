"""`stackprof bench` end to end on a real torch venv (the issue's CPU check), and bad options
ending with one clear line and exit code 2."""
from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_quick_bench_on_cpu(stackprof_cli, venv_torch, tmp_path):
    proc = stackprof_cli("bench", "--quick", "--python", venv_torch, "-o", tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    run = json.loads((tmp_path / "run.json").read_text())
    records = {r["id"]: r for r in run["benchmarks"]}
    ok = [r for r in records.values() if r["status"] == "ok"]
    ran = {(r["op"], r["framework"], r["dtype"]) for r in ok}
    assert {("gemm", "numpy", "fp32"), ("gemm", "torch", "fp32"), ("gemm", "torch", "bf16"),
            ("conv2d", "torch", "fp32"), ("softmax", "torch", "fp32"), ("layer_norm", "torch", "fp32"),
            ("sum", "torch", "fp32"), ("exp", "torch", "fp32"), ("stream_triad", "torch", "fp64"),
            ("dispatch", "torch", "fp32"), ("mlp", "torch", "fp32")} <= ran
    # --quick leaves torch.compile out (a cold compile alone outlasts its budget); default mode has it
    assert not any(r["op"] == "mlp" and r["variant"] == "compile" and r["device"] == "cpu" for r in run["benchmarks"])
    for r in ok:
        assert r["pct_of_best"] is not None and r["best_on_machine"]["id"] in records
        assert r["stats"]["n"] >= 3 and r["check"]["ok"]
        if r["op"] == "gemm":
            assert r["pct_of_peak"] > 0 and r["peak"]["inputs"]["cores"] >= 1       # % of the CPU estimate
    gpu = [r for r in records.values() if r["device"].startswith("cuda")]
    assert gpu and all(r["status"] == "skipped" and "no CUDA device" in r["reason"] for r in gpu)
    assert {r["op"] for r in gpu} >= {"gemm", "conv2d", "sdpa", "stream_copy", "h2d", "d2h", "dispatch"}
    assert 0 < run["headline"]["score"] <= 1 and run["headline"]["method"]
    assert run["options"]["mode"] == "quick" and run["timings"]["bench_s"] > 0
    assert "headline: this environment reaches" in proc.stdout
    assert "skipped:" in proc.stdout and "no CUDA device" in proc.stdout
    assert "gemm/torch/cpu/bf16/1024x1024x1024" in proc.stderr                       # progress lines


@pytest.mark.parametrize("args, message", [
    (["--only", "gemm,warp"], "unknown benchmark family 'warp'"),
    (["--quick", "--full"], "--quick and --full exclude each other"),
    (["--device", "tpu:0"], "unknown device 'tpu:0'"),
    (["--budget", "0"], "--budget must be positive"),
    (["--python", "/no/such/python"], "Python interpreter not found"),
])
def test_bad_options_are_one_line(stackprof_cli, args, message):
    proc = stackprof_cli("bench", *args)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and message in proc.stderr
    assert proc.stdout == ""

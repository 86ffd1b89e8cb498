"""Which GPU benchmarks, dtypes and attention backends run on which device, decided without a GPU:
the probe's own selection functions for a range of compute capabilities and builds, and the
host's GPU plan (every case planned, so a missing GPU shows each one as skipped)."""
from __future__ import annotations

import pytest

from stackprof import bench
from stackprof.bench_suite import gpu_suite, probe_module
from stackprof.model import Run

select = probe_module("bench.gpu_select")


def runnable(family, cases, cap, **kw):
    return [(c.get("dtype"), c.get("variant") or c.get("backend")) for c, why in
            select.select(family, cases, cap, **kw) if why is None]


GEMM_CASES = [{"dtype": "fp32"}, {"dtype": "fp32", "variant": "tf32"}, {"dtype": "bf16"},
              {"dtype": "fp16"}, {"dtype": "fp8"}]


@pytest.mark.parametrize("cap, expected", [
    ((7, 0), {("fp32", None), ("fp16", None)}),                                      # V100
    ((7, 5), {("fp32", None), ("fp16", None)}),                                      # T4
    ((8, 0), {("fp32", None), ("fp32", "tf32"), ("bf16", None), ("fp16", None)}),    # A100
    ((8, 6), {("fp32", None), ("fp32", "tf32"), ("bf16", None), ("fp16", None)}),    # A10
    ((8, 9), {("fp32", None), ("fp32", "tf32"), ("bf16", None), ("fp16", None), ("fp8", None)}),  # L4
    ((9, 0), {("fp32", None), ("fp32", "tf32"), ("bf16", None), ("fp16", None), ("fp8", None)}),  # H100
])
def test_gemm_dtypes_per_capability(cap, expected):
    assert set(runnable("gemm", GEMM_CASES, cap)) == expected


def test_gemm_skip_reasons_name_the_capability():
    reasons = dict((c["dtype"] + (c.get("variant") or ""), why) for c, why in select.select("gemm", GEMM_CASES, (8, 0)))
    assert reasons["fp8"] == "fp8 matmul needs compute capability >= 8.9 (this GPU: 8.0)"
    assert "torch >= 2.1" in select.gemm_unsupported("fp8", None, (9, 0), has_scaled_mm=False)
    assert select.gemm_unsupported("fp32", "tf32", (7, 5)) == "TF32 needs compute capability >= 8.0 (this GPU: 7.5)"


def test_fp8_on_rocm_needs_mi300():
    assert select.gemm_unsupported("fp8", None, (9, 4), hip="6.2", arch="gfx942:sramecc+:xnack-") is None
    assert "MI300" in select.gemm_unsupported("fp8", None, (9, 0), hip="6.2", arch="gfx90a")
    assert select.gemm_unsupported("bf16", None, (9, 0), hip="6.2", arch="gfx90a") is None


SDPA = [{"dtype": dt, "d": 128, "backend": be} for dt in ("bf16", "fp32")
        for be in ("flash", "efficient", "cudnn", "math")]


@pytest.mark.parametrize("cap, expected", [
    ((7, 5), {("fp32", "efficient"), ("fp32", "math"), ("bf16", "math")}),
    ((8, 0), {("bf16", "flash"), ("bf16", "efficient"), ("bf16", "cudnn"), ("bf16", "math"),
              ("fp32", "efficient"), ("fp32", "math")}),
    ((9, 0), {("bf16", "flash"), ("bf16", "efficient"), ("bf16", "cudnn"), ("bf16", "math"),
              ("fp32", "efficient"), ("fp32", "math")}),
])
def test_attention_backends_per_capability(cap, expected):
    assert set(runnable("attention", SDPA, cap)) == expected


def test_attention_backend_missing_from_torch_or_rocm():
    old_torch = ("flash", "efficient", "math")          # torch without SDPBackend.CUDNN_ATTENTION
    reasons = {c["backend"]: why for c, why in select.select("attention", SDPA[:4], (9, 0), sdpa_enums=old_torch)}
    assert reasons["cudnn"] == "this torch has no SDPBackend.CUDNN_ATTENTION" and reasons["flash"] is None
    assert select.sdpa_unsupported("cudnn", "bf16", (9, 4), 128, hip="6.2") == "cuDNN attention is CUDA-only"
    assert "head dim" in select.sdpa_unsupported("flash", "bf16", (9, 0), 512)


def test_conv_bf16_needs_ampere():
    cases = [{"dtype": "bf16"}, {"dtype": "fp16"}, {"dtype": "fp32"}]
    assert runnable("conv", cases, (7, 0)) == [("fp16", None), ("fp32", None)]
    assert len(runnable("conv", cases, (8, 0))) == 3


def test_gpu_plan_covers_every_family_dtype_and_backend():
    groups = {g.family: g for g in gpu_suite("quick", "cuda:1")}
    assert set(groups) == {"gemm", "conv", "attention", "stream", "transfer", "elementwise", "dispatch", "compile"}
    gemm = {(c["dtype"], c.get("variant")) for c in groups["gemm"].cases}
    assert gemm == {("fp32", None), ("fp32", "tf32"), ("bf16", None), ("fp16", None), ("fp8", None)}
    assert {c.get("backend") for c in groups["attention"].cases} == {None, "flash", "efficient", "cudnn", "math"}
    assert {c.get("variant") for c in groups["conv"].cases} == {
        None, "cudnn_benchmark", "channels_last", "channels_last+cudnn_benchmark"}
    assert {(c["direction"], c["pinned"]) for c in groups["transfer"].cases} == {
        ("h2d", True), ("h2d", False), ("d2h", True), ("d2h", False)}
    assert {c["mode"] for c in groups["dispatch"].cases} == {"eager", "cuda_graph"}
    assert all(g.device == "cuda:1" for g in groups.values())
    assert groups["gemm"].extra["device_warmup_s"] > 0           # thermal warm-up before the first GEMM


def test_full_mode_sweeps_gemm_shapes_mamf_style():
    gemm = next(g for g in gpu_suite("full", "cuda:0") if g.family == "gemm")
    bf16_shapes = {(c["m"], c["n"], c["k"]) for c in gemm.cases if c["dtype"] == "bf16" and not c.get("search")}
    assert {(m, 4096, 4096) for m in range(1024, 16385, 1024)} <= bf16_shapes
    assert (2048, 2048, 13312) in bf16_shapes            # the H100 MAMF best shape in the reference


def test_device_option_selects_the_plan():
    cpu_only = bench.plan(Run(), "quick", device="cpu")
    gpu_only = bench.plan(Run(), "quick", device="cuda:2")
    assert {t.args["device"] for t in cpu_only} == {"cpu"}
    assert {t.args["device"] for t in gpu_only} == {"cuda:2"}
    both = bench.plan(Run(), "quick")
    assert {t.args["device"] for t in both} == {"cpu", "cuda:0"}

"""FLOP and byte accounting of every benchmark against hand-computed values, and the value the host
derives from them (throughput at the median)."""
from __future__ import annotations

import pytest

from stackprof import bench
from stackprof.bench_suite import probe_module


def spec(probe: str, case: dict, framework="torch", device="cpu") -> dict:
    return probe_module(probe).describe(framework, device, case)


def test_gemm_flops_and_bytes():
    s = spec("bench.gemm", {"dtype": "fp32", "m": 2, "n": 3, "k": 4})
    assert s["flops"] == 2 * 2 * 3 * 4 == 48
    assert s["bytes"] == (2 * 4 + 4 * 3 + 2 * 3) * 4 == 104
    assert s["shape_text"] == "2x3x4" and s["unit"] == "GFLOP/s" and s["direction"] == "higher"
    fp8 = spec("bench.gemm", {"dtype": "fp8", "m": 16, "n": 16, "k": 32}, device="cuda:0")
    assert fp8["flops"] == 2 * 16 * 16 * 32
    assert fp8["bytes"] == (16 * 32 + 32 * 16) * 1 + 16 * 16 * 2       # fp8 inputs, bf16 output


def test_conv_flops_and_bytes():
    # 1x2x5x5 input, 3 filters 3x3, pad 1, stride 1 -> 1x3x5x5; each output = 2*3*3 MACs.
    s = spec("bench.conv", {"dtype": "fp32", "n": 1, "c": 2, "h": 5, "w": 5, "k": 3, "r": 3, "s": 3,
                            "stride": 1, "pad": 1})
    assert s["flops"] == 2 * (1 * 3 * 5 * 5) * (2 * 3 * 3) == 2700
    assert s["bytes"] == (1 * 2 * 5 * 5 + 3 * 2 * 3 * 3 + 1 * 3 * 5 * 5) * 4
    # stride 2, no padding: 7 -> (7 - 3) // 2 + 1 = 3
    s2 = spec("bench.conv", {"dtype": "bf16", "n": 2, "c": 4, "h": 7, "w": 7, "k": 8, "r": 3, "s": 3,
                             "stride": 2, "pad": 0})
    assert s2["flops"] == 2 * (2 * 8 * 3 * 3) * (4 * 3 * 3)
    assert s2["bytes"] == (2 * 4 * 7 * 7 + 8 * 4 * 3 * 3 + 2 * 8 * 3 * 3) * 2


def test_attention_flops_and_bytes():
    s = spec("bench.attention", {"dtype": "bf16", "b": 2, "h": 3, "s": 128, "d": 64, "backend": "flash"})
    assert s["flops"] == 2 * 3 * (2 * 128 * 128 * 64) * 2          # Q.K^T and P.V
    assert s["bytes"] == 4 * 2 * 3 * 128 * 64 * 2                   # Q, K, V, O in bf16
    assert s["variant"] == "flash" and s["op"] == "sdpa"


@pytest.mark.parametrize("kernel, arrays, flops", [("copy", 2, None), ("scale", 2, 1000),
                                                   ("add", 3, 1000), ("triad", 3, 2000)])
def test_stream_bytes_follow_stream_c(kernel, arrays, flops):
    s = spec("bench.stream", {"kernel": kernel, "dtype": "fp64", "n": 1000})
    assert s["bytes"] == arrays * 1000 * 8
    assert s["flops"] == flops
    assert s["op"] == "stream_" + kernel and s["unit"] == "GB/s"


@pytest.mark.parametrize("kernel, moved", [("softmax", 2 * 64 * 32 * 4), ("layer_norm", 2 * 64 * 32 * 4),
                                           ("exp", 2 * 64 * 32 * 4), ("sum", 64 * 32 * 4 + 64 * 4)])
def test_elementwise_bytes(kernel, moved):
    s = spec("bench.elementwise", {"kernel": kernel, "dtype": "fp32", "rows": 64, "cols": 32})
    assert s["bytes"] == moved and s["flops"] is None


def test_transfer_mlp_and_dispatch_accounting():
    t = spec("bench.transfer", {"direction": "h2d", "bytes": 1 << 20, "pinned": True}, device="cuda:0")
    assert t["bytes"] == 1 << 20 and t["variant"] == "pinned" and t["op"] == "h2d"
    m = spec("bench.mlp_compile", {"dtype": "fp32", "batch": 8, "dims": [16, 32, 4], "mode": "compile"})
    assert m["flops"] == 2 * 8 * 16 * 32 + 2 * 8 * 32 * 4
    assert m["unit"] == "us" and m["direction"] == "lower" and m["variant"] == "compile"
    d = spec("bench.dispatch", {"mode": "cuda_graph", "ops": 100}, device="cuda:0")
    assert d["variant"] == "cuda_graph" and d["unit"] == "us"


def _record(unit, flops=None, moved=None, samples=(0.5, 1.0, 2.0), direction="higher"):
    return {"id": "x", "op": "gemm", "device": "cpu", "dtype": "fp32", "status": "ok", "unit": unit,
            "direction": direction, "work": {"flops": flops, "bytes": moved}, "samples_s": list(samples),
            "params": {}}


def test_value_is_throughput_at_the_median():
    assert bench.annotate(_record("GFLOP/s", flops=4e9), {})["value"] == pytest.approx(4.0)
    assert bench.annotate(_record("GB/s", moved=3e9), {})["value"] == pytest.approx(3.0)
    latency = bench.annotate(_record("us", direction="lower", samples=(1e-6, 2e-6, 9e-6)), {})
    assert latency["value"] == pytest.approx(2.0)
    failed = bench.annotate(dict(_record("GFLOP/s", flops=1.0), status="failed"), {})
    assert failed["value"] is None and failed["stats"] is None


def test_ids_are_stable():
    s = spec("bench.gemm", {"dtype": "fp32", "m": 64, "n": 32, "k": 16, "variant": "tf32"}, device="cuda:0")
    record = probe_module("harness").base_record(s, "bench.gemm", {})
    assert record["id"] == "gemm/torch/cuda:0/fp32/64x32x16/tf32"
    assert bench.op_key(record) == "gemm/cuda:0/tf32"

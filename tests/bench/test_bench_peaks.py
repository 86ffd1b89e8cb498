"""Peaks: the CPU estimate against the worked examples of the reference (BLIS docs/Performance.md),
GPU names matched to the right table row, and which limit applies to which result."""
from __future__ import annotations

import pytest

from stackprof import hardware
from stackprof.hardware import cpu, gpus


def system(vendor="GenuineIntel", family=6, flags=(), cores=1, tpc=1, max_mhz=None, cur_mhz=None,
           affinity=None, quota=None, model_number=None):
    return {"cpu": {"vendor": vendor, "family": family, "model_number": model_number,
                    "flags": {f: True for f in flags}, "physical_cores": cores, "logical_cpus": cores * tpc,
                    "threads_per_core": tpc, "max_mhz": max_mhz, "cur_mhz": cur_mhz},
            "affinity": {"count": affinity if affinity is not None else cores * tpc},
            "cgroup": {"cpu_quota_cores": quota}}


def test_haswell_matches_blis_single_core():
    # BLIS: Xeon E5-2690 v3 (Haswell, AVX2, 2 FMA) 56 GFLOPS DP single-core at 3.5 GHz.
    est = cpu.estimate(system(flags=("avx", "avx2", "fma"), max_mhz=3500))
    assert est["gflops"]["fp64"] == pytest.approx(56.0)
    assert est["gflops"]["fp32"] == pytest.approx(112.0)
    assert est["inputs"]["clock_source"] == "cpu.max_mhz"


def test_skylake_avx512_matches_blis():
    # BLIS: Xeon Platinum 8167M (SKX, AVX-512, 2 FMA) 64 GFLOPS/core DP at 2.0 GHz, 128 SP.
    est = cpu.estimate(system(flags=("avx", "avx2", "fma", "avx512f"), max_mhz=2000))
    assert est["gflops"]["fp64"] == pytest.approx(64.0) and est["gflops"]["fp32"] == pytest.approx(128.0)
    assert any("unverified" in a for a in est["assumptions"])


def test_zen1_matches_blis_epyc_7551():
    # BLIS: EPYC 7551 (Zen1, 1x256-bit FMA/cycle) 24 GFLOPS DP per core at 3.0 GHz.
    flags = ("avx", "avx2", "fma")
    est = cpu.estimate(system("AuthenticAMD", 0x17, flags, max_mhz=3000, model_number=0x01))
    assert est["gflops"]["fp64"] == pytest.approx(24.0)
    zen2 = cpu.estimate(system("AuthenticAMD", 0x17, flags, max_mhz=3000, model_number=0x31))
    assert zen2["gflops"]["fp64"] == pytest.approx(48.0)


def test_sandy_bridge_without_fma_is_8_dp_flops_per_cycle():
    est = cpu.estimate(system(flags=("avx",), cores=4, max_mhz=3000))
    assert est["inputs"]["flops_per_cycle_per_core"]["fp64"] == 8          # StackOverflow table
    assert est["gflops"]["fp64"] == pytest.approx(4 * 3.0 * 8)


def test_zen4_is_double_pumped_and_zen5_full_width():
    flags = ("avx", "avx2", "fma", "avx512f", "avx512_bf16")
    zen4 = cpu.estimate(system("AuthenticAMD", 0x19, flags, cores=2, cur_mhz=2500))
    zen5 = cpu.estimate(system("AuthenticAMD", 0x1A, flags, cores=2, cur_mhz=2500))
    assert zen4["inputs"]["flops_per_cycle_per_core"]["fp64"] == 16
    assert zen5["inputs"]["flops_per_cycle_per_core"]["fp64"] == 32
    assert zen5["gflops"]["fp32"] == pytest.approx(2 * 2.5 * 64)
    assert zen5["gflops"]["bf16"] == pytest.approx(2 * zen5["gflops"]["fp32"])     # avx512_bf16
    assert zen5["gflops"]["fp16"] == zen5["gflops"]["fp32"]                        # no avx512_fp16
    assert zen5["inputs"]["clock_source"] == "cpu.cur_mhz"
    assert any("nominal" in a for a in zen5["assumptions"])


def test_cores_follow_affinity_and_cgroup_quota():
    flags = ("avx", "avx2", "fma")
    assert cpu.estimate(system(flags=flags, cores=8, tpc=2, affinity=4, max_mhz=1000))["inputs"]["cores"] == 2
    limited = cpu.estimate(system(flags=flags, cores=8, quota=1.5, max_mhz=1000))
    assert limited["inputs"]["cores"] == 1.5 and limited["inputs"]["cores_source"] == "cgroup.cpu_quota_cores"
    assert limited["gflops"]["fp64"] == pytest.approx(1.5 * 1.0 * 16)


def test_no_estimate_without_facts():
    assert cpu.estimate(None) is None
    assert cpu.estimate({"status": "error"}) is None
    assert cpu.estimate(system(flags=("avx2", "fma"))) is None          # no clock known


@pytest.mark.parametrize("name, model", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA H200", "H200 SXM"), ("NVIDIA GH200 480GB", "GH200"), ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
    ("NVIDIA A100-SXM4-40GB", "A100 40GB"), ("NVIDIA A100 80GB PCIe", "A100 80GB"), ("NVIDIA L4", "L4"),
    ("NVIDIA L40S", "L40S"), ("NVIDIA A10", "A10"), ("NVIDIA A10G", "A10G"),
    ("NVIDIA GeForce RTX 4090", "RTX 4090"), ("NVIDIA B200", "B200"), ("AMD Instinct MI300X", "MI300X"),
])
def test_gpu_names_match_their_row(name, model):
    assert gpus.lookup(name).model == model


def test_unknown_gpu_has_no_peak():
    assert gpus.lookup("NVIDIA GeForce GTX 1080") is None
    record = {"device": "cuda:0", "unit": "GFLOP/s", "op": "gemm", "dtype": "bf16",
              "params": {"device_name": "NVIDIA GeForce GTX 1080"}}
    assert hardware.peak_for(record, {}) is None


def test_gpu_peak_per_precision_and_memory():
    base = {"device": "cuda:0", "params": {"device_name": "NVIDIA H100 80GB HBM3"}}
    bf16 = hardware.peak_for(dict(base, op="gemm", unit="GFLOP/s", dtype="bf16"), {})
    fp32 = hardware.peak_for(dict(base, op="gemm", unit="GFLOP/s", dtype="fp32"), {})
    tf32 = hardware.peak_for(dict(base, op="gemm", unit="GFLOP/s", dtype="fp32", variant="tf32"), {})
    triad = hardware.peak_for(dict(base, op="stream_triad", unit="GB/s", dtype="fp32"), {})
    assert (bf16["value"], fp32["value"], tf32["value"]) == (989000.0, 67000.0, 494500.0)
    assert triad["value"] == 3350.0
    assert bf16["achievable"]["value"] == 794500.0 and "MAMF" in bf16["achievable"]["source"]
    assert "achievable" not in fp32
    assert hardware.peak_for(dict(base, op="dispatch", unit="us", dtype="fp32"), {}) is None


def test_gpu_name_from_nvml_and_pcie_peak():
    env = {"gpus": {"devices": [{"index": 0, "name": "NVIDIA L4", "pcie": {"gen_max": 4, "width_max": 16}}]}}
    gemm = hardware.peak_for({"device": "cuda:0", "op": "gemm", "unit": "GFLOP/s", "dtype": "fp16"}, env)
    h2d = hardware.peak_for({"device": "cuda:0", "op": "h2d", "unit": "GB/s", "dtype": "u8"}, env)
    assert gemm["value"] == 121000.0
    assert h2d["value"] == pytest.approx(31.5, abs=0.1)         # PCIe 4 x16 ~ 31 GB/s per direction
    assert gpus.pcie_gbps(5, 16) == pytest.approx(63.0, abs=0.1)
    assert gpus.pcie_gbps(None, 16) is None


def test_cpu_memory_bandwidth_peak_is_unknown():
    env = {"system": system(flags=("avx2", "fma"), max_mhz=3000)}
    assert hardware.peak_for({"device": "cpu", "op": "stream_triad", "unit": "GB/s", "dtype": "fp64"}, env) is None
    gemm = hardware.peak_for({"device": "cpu", "op": "gemm", "unit": "GFLOP/s", "dtype": "fp64"}, env)
    assert gemm["value"] == pytest.approx(48.0) and gemm["verified"] is False and gemm["inputs"]["cores"] == 1


def test_every_table_row_has_a_source():
    for spec in gpus.TABLE:
        assert spec.source and spec.pattern

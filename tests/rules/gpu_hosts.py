"""Healthy GPU hosts for the rule tests, built from documented defaults of real releases (this machine
has no GPU, so nothing here was measured by this project). Every value says where it comes from; a
value no source gives is None ("not known"), never a guess. The CPU side of each host is the real
capture tests/fixtures/runs/torch-healthy.json; only the GPU-related sections are replaced.

Sources (cited by key in the comments below):
  KINDS      /work/.library/device/KINDS.md, rows "seen working here" 2026-10-27/28: one NVIDIA H200 machine
             (nvidia-smi: 143771 MiB, driver 580.159.03; torch saw 'NVIDIA H200', 132 SMs; nvcc 13.0 matching
             the driver; SM clock 345 MHz idle and 1980 MHz just after bf16 products; memory clock 3201 MHz;
             8192³ bf16 torch.mm at 788 TFLOP/s on random data).
  ARCH       pytorch/pytorch#182250 (2026-05): torch.cuda.get_arch_list() of the official 2.11.0 wheels:
             cu126 ['sm_50','sm_60','sm_70','sm_75','sm_80','sm_86','sm_90'];
             cu128 ['sm_75','sm_80','sm_86','sm_90','sm_100','sm_120'].
  COMPAT     NVIDIA CUDA Compatibility guide, "Minor Version Compatibility", table 1: a CUDA 12.x build runs
             on any driver >= 525 (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html).
  RELNOTES   CUDA 12.4 Update 1 release notes: Linux driver 550.54.15 ships with CUDA 12.4 (NVML reports
             CUDA driver version 12040 -> "12.4").
  BACKENDS   PyTorch documentation, CUDA semantics "TensorFloat-32 (TF32) on Ampere (and later) devices":
             torch.backends.cuda.matmul.allow_tf32 defaults to False (since 1.12), float32_matmul_precision
             "highest"; torch.backends.cudnn.allow_tf32 defaults to True; cudnn.benchmark and
             cudnn.deterministic default to False; torch.use_deterministic_algorithms defaults to off.
  DATASHEET  NVIDIA H100 / H200 SXM datasheets: 132 SMs (H100 SXM5), PCIe Gen5 x16 host interface, 700 W
             maximum power; H100 SXM max boost 1980 MHz.
  NVML       nvml.h clock event reasons: GpuIdle (nothing running), SwPowerCap (clocks held so the board stays
             within its current power limit: how a GPU runs at its rated power under a heavy load).
  ASPM       slow-env-causes.md F1 caveat: idle GPUs and ASPM lower the PCIe generation (Syllo/nvtop#6,
             open-mpi/hwloc#653, xaskasdf/ntransformer#5); a GEMM leaves the link idle too.
  MAMF       microbenchmark-method.md §5: H100 SXM bf16 MAMF 794.5 TFLOPS at 2048x2048x13312 (torch 2.7.0+cu126).
  NVBW       microbenchmark-method.md §6: 8×H200 nvbandwidth host-to-device 55.43 GB/s, device-to-host 55.06 GB/s.
  MEM        nvidia-smi on an H100 80GB HBM3 reports 81559 MiB (85520809984 bytes), the size the fake NVML of
             tests/probes/fake_pynvml.py also reports.
"""
from __future__ import annotations

import copy

from .edit import fixture, set_path

BASE = "torch-healthy"          # the real CPU capture every GPU host starts from


def _backends() -> dict:
    """torch's backend switches as a fresh interpreter reports them (BACKENDS); the CPU-side switches
    are those the capture of the CPU wheel recorded."""
    return {"matmul_allow_tf32": False, "cudnn_allow_tf32": True, "float32_matmul_precision": "highest",
            "cudnn_benchmark": False, "cudnn_deterministic": False, "cudnn_enabled": True,
            "deterministic_algorithms": False}


def _nvml_device(name: str, memory: int | None, *, persistence, ecc, sm_idle, mem_mhz, sm_max) -> dict:
    """NVML's snapshot as collect_gpus reads it before the benchmarks: an IDLE GPU (NVML: GpuIdle)."""
    return {"index": 0, "name": name, "uuid": "GPU-<redacted>", "bus_id": None,       # bus id: no source
            "capability": "9.0", "memory_total_bytes": memory, "memory_used_bytes": None,
            "clocks": {"sm_mhz": sm_idle, "sm_max_mhz": sm_max, "mem_mhz": mem_mhz, "mem_max_mhz": mem_mhz},
            "power": {"draw_w": None, "limit_w": 700.0, "default_limit_w": 700.0},          # DATASHEET: 700 W
            "throttle_reasons": ["gpu_idle"],                                                 # NVML: idle
            "pcie": {"gen": 1, "gen_max": 5, "width": 16, "width_max": 16},                  # ASPM at idle; DATASHEET
            "persistence_mode": persistence, "ecc_enabled": ecc, "mig_mode": False,          # MIG off by default
            "temperature_c": None, "performance_state": None, "utilization_pct": 0, "compute_processes": 0,
            "numa_node": None, "cpu_affinity": None, "nvlink": None}


def _torch_cuda(built: str, arch_list: list[str], name: str, sms: int, memory: int | None) -> dict:
    return {"built_version": built, "available": True, "init_error": None, "device_count": 1,
            "arch_list": arch_list, "built_arch_flags": None, "built_archs": None, "cudnn_version": None,
            "cudnn_built_version": None, "nccl_version": None, "runtime_libraries": [],
            "devices": [{"index": 0, "name": name, "capability": "9.0", "total_memory_bytes": memory,
                         "multi_processor_count": sms, "arch_match": "sass", "gcn_arch": None}],
            "module_loading": None}


def sample(t_s: float, *, sm: int | None, mem: int | None, reasons: list[str], gen: int, width: int = 16,
           power: float | None = None) -> dict:
    """One NVML sample of the measurement engine (record["state"]["gpu"]), taken while the case ran."""
    return {"t_s": t_s, "sm_clock_mhz": sm, "mem_clock_mhz": mem, "power_w": power, "temperature_c": None,
            "throttle_reasons": list(reasons), "pcie_gen": gen, "pcie_width": width, "pcie_max_gen": 5,
            "pcie_max_width": 16, "other_processes": 0}


def gpu_record(op: str, dtype: str, shape: dict, shape_text: str, value: float, unit: str, *,
               variant: str | None = None, state: list[dict] | None = None, flops: float | None = None,
               nbytes: float | None = None) -> dict:
    """A CUDA benchmark record in the shape bench.finish leaves it (docs/schema-benchmarks.md)."""
    rid = f"{op}/torch/cuda:0/{dtype}/{shape_text}" + (f"/{variant}" if variant else "")
    work = flops if flops else nbytes
    scale = 1e9
    median_s = work / (value * scale) if work and value else None
    return {"id": rid, "op": op, "framework": "torch", "device": "cuda:0", "dtype": dtype, "shape": shape,
            "variant": variant, "unit": unit, "direction": "higher", "status": "ok", "value": value,
            "op_key": f"{op}/cuda/{dtype}", "work": {"flops": flops, "bytes": nbytes},
            "params": {"device_name": None}, "samples_s": [median_s] if median_s else [],
            "stats": {"n": 1, "median_s": median_s}, "state": {"gpu": state or []}}


def _attach(doc: dict, *, version: str, cuda: dict, gpus: dict, records: list[dict]) -> dict:
    set_path(doc, "environment.torch.version", version)
    set_path(doc, "environment.torch.local_version", version.partition("+")[2])
    set_path(doc, "environment.torch.cuda", cuda)
    doc["environment"]["torch"].setdefault("backends", {}).update(_backends())
    set_path(doc, "environment.torch.triton", {"installed": True, "version": None})   # CUDA wheels require triton
    set_path(doc, "environment.gpus", gpus)
    doc["benchmarks"] = [r for r in doc["benchmarks"] if not str(r.get("device", "")).startswith("cuda")] + records
    return doc


def h100_cu126() -> dict:
    """H100 SXM, torch 2.11.0+cu126 (ARCH) on driver 550.54.15 / CUDA 12.4 (RELNOTES): a build newer than
    the driver within CUDA 12, which minor-version compatibility runs (COMPAT, 550 >= 525)."""
    name, memory = "NVIDIA H100 80GB HBM3", 85520809984                                   # MEM
    gemm = gpu_record("gemm", "bf16", {"m": 2048, "n": 2048, "k": 13312}, "2048x2048x13312", 794_500.0, "GFLOP/s",
                      flops=2.0 * 2048 * 2048 * 13312,                                      # MAMF
                      state=[sample(0.1, sm=None, mem=None, reasons=["sw_power_cap"], gen=1, power=700.0),  # NVML
                             sample(0.2, sm=None, mem=None, reasons=[], gen=1)])          # ASPM: link idle in a GEMM
    return _attach(
        fixture(BASE), version="2.11.0+cu126",
        cuda=_torch_cuda("12.6", ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"], name, 132, memory),
        gpus={"available": True, "reason": None, "driver_version": "550.54.15", "cuda_driver_version": "12.4",
              "nvml_version": None, "count": 1, "topology": None,
              # persistence mode: off unless nvidia-persistenced runs (the driver's default); ECC on (H100 default)
              "devices": [_nvml_device(name, memory, persistence=False, ecc=True, sm_idle=None, mem_mhz=None,
                                       sm_max=1980)]},                                       # DATASHEET
        records=[gemm])


def h200_cu128() -> dict:
    """H200 SXM as KINDS saw it (driver 580.159.03, CUDA 13.0), with torch 2.11.0+cu128 (ARCH): a CUDA 12
    build on a CUDA 13 driver (backward compatibility). Copies sampled at gen 5 x16, a GEMM at 1980 MHz."""
    name, memory = "NVIDIA H200", 143771 * 1024 * 1024                                     # KINDS
    gemm = gpu_record("gemm", "bf16", {"m": 8192, "n": 8192, "k": 8192}, "8192x8192x8192", 788_000.0, "GFLOP/s",
                      flops=2.0 * 8192 ** 3,                                                # KINDS
                      state=[sample(0.1, sm=1980, mem=3201, reasons=[], gen=1),             # KINDS; ASPM
                             sample(0.2, sm=1980, mem=3201, reasons=[], gen=1)])
    copy_state = [sample(0.1, sm=None, mem=3201, reasons=[], gen=5), sample(0.2, sm=None, mem=3201, reasons=[], gen=5)]
    h2d = gpu_record("h2d", "u8", {"bytes": 67108864}, "67108864B", 55.43, "GB/s", variant="pinned",
                     nbytes=67108864.0, state=copy.deepcopy(copy_state))                  # NVBW; DATASHEET
    d2h = gpu_record("d2h", "u8", {"bytes": 67108864}, "67108864B", 55.06, "GB/s", variant="pinned",
                     nbytes=67108864.0, state=copy.deepcopy(copy_state))                   # NVBW
    return _attach(
        fixture(BASE), version="2.11.0+cu128",
        cuda=_torch_cuda("12.8", ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"], name, 132, memory),
        gpus={"available": True, "reason": None, "driver_version": "580.159.03", "cuda_driver_version": "13.0",
              "nvml_version": None, "count": 1, "topology": None,
              "devices": [_nvml_device(name, memory, persistence=None, ecc=None, sm_idle=345, mem_mhz=3201,
                                       sm_max=1980)]},                                       # KINDS
        records=[gemm, h2d, d2h])


HOSTS = {"gpu-h100-cu126": h100_cu126, "gpu-h200-cu128": h200_cu128}

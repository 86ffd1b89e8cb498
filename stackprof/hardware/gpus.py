"""GPU peak table: dense (no sparsity) TFLOPS per precision and memory bandwidth, each with its
source, matched by the device name that torch or NVML reports.

Values from microbenchmark-method.md §4 (stas00/ml-engineering tables citing the vendors' spec
pages; Lightning's _CUDA_FLOPS; spec aggregators). fp16 equals bf16 (FP32 accumulate) on these
parts. TF32 is the tensor-core rate used by fp32 matmuls only when TF32 is allowed. `None` = not
known: such a result gets no % of peak rather than a guessed one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

STAS = "stas00/ml-engineering compute/accelerator/README.md tables (vendor spec pages), via microbenchmark-method.md §4"
MAMF_SOURCE = ("MAMF finder results, stas00/ml-engineering compute/accelerator/README.md, via "
               "microbenchmark-method.md §5 (mean of 100 iterations at the best shape)")


@dataclass(frozen=True)
class GpuSpec:
    model: str
    pattern: str                      # regex searched in the reported device name
    tflops: dict                      # precision -> dense TFLOPS (None = unknown)
    mem_tbps: float | None
    source: str
    unverified: tuple = ()            # precisions (or "mem") whose value is unverified
    note: str = ""
    mamf: dict | None = None          # achievable TFLOPS measured by the MAMF finder: {"bf16": …, "fp8": …}


def _t(fp32, tf32, bf16, fp8):
    return {"fp32": fp32, "tf32": tf32, "bf16": bf16, "fp16": bf16, "fp8": fp8}


UNKNOWN = _t(None, None, None, None)

# Order matters: the first pattern that matches wins (specific names before generic ones).
TABLE: list[GpuSpec] = [
    GpuSpec("GH200 (HBM3e)", r"GH200.*(144|HBM3e)", _t(67, 494.5, 989, 1979), 4.8, STAS,
            note="GH200 per chip = H100 compute; HBM3e variant", mamf={"bf16": 828.6, "fp8": 1535.0}),
    GpuSpec("GH200", r"GH200", _t(67, 494.5, 989, 1979), 4.0, STAS,
            note="GH200 per chip = H100 compute; 4.0 TB/s HBM3 (4.8 for the HBM3e variant)",
            mamf={"bf16": 828.6, "fp8": 1535.0}),
    GpuSpec("H200 NVL", r"H200 NVL", UNKNOWN, None, "not in the project reference",
            note="PCIe H200 NVL: peaks differ from the SXM part and are not in the reference"),
    GpuSpec("H200 SXM", r"H200", _t(67, 494.5, 989, 1979), 4.8, STAS, note="same compute as H100 SXM",
            mamf={"bf16": 794.5, "fp8": 1453.4}),   # bf16: the H100 SXM row ("H200 is the same")
    GpuSpec("H100 NVL", r"H100 NVL", UNKNOWN, None, "not in the project reference",
            note="H100 NVL peaks are not in the reference"),
    GpuSpec("H100 PCIe", r"H100.*PCIe", _t(51, 378, 756, 1513), 2.0, STAS),
    GpuSpec("H100 SXM", r"H100", _t(67, 494.5, 989, 1979), 3.35, STAS,
            note="'NVIDIA H100 80GB HBM3' is the SXM part; math at the 1830 MHz boost clock",
            mamf={"bf16": 794.5, "fp8": 1402.6}),
    GpuSpec("A100 80GB", r"A100.*80\s*GB", _t(19.5, 156, 312, None), 2.0, STAS,
            note="SXM bandwidth (2.0 TB/s); the 80GB PCIe card has 1.9 TB/s (unverified)",
            mamf={"bf16": 271.2}),                  # A100 SXM; the PCIe card reached 252.9
    GpuSpec("A100 40GB", r"A100", _t(19.5, 156, 312, None), 1.555,
            STAS + "; 40GB bandwidth from NVIDIA's A100 datasheet (not in the reference)",
            unverified=("mem",)),
    GpuSpec("L40S", r"L40S", _t(91.6, 183, 362, 733), 0.86, STAS),
    GpuSpec("L4", r"\bL4\b", _t(30.3, 60, 121, 242), 0.300,
            "Lightning _CUDA_FLOPS 'l4' (Ada whitepaper v2.1); fp8 = half the datasheet's sparse 485",
            unverified=("fp8",)),
    GpuSpec("A10G", r"A10G", UNKNOWN, 0.600, "AWS A10G: tensor throughput differs from the A10 (unknown)",
            unverified=("mem",), note="A10G compute peaks are not in the reference"),
    GpuSpec("A10", r"\bA10\b", _t(31.2, 62.5, 125, None), 0.600,
            "NVIDIA A10 datasheet via Lightning _CUDA_FLOPS; 600 GB/s from sysrqmts/Baseten"),
    GpuSpec("RTX 4090", r"4090", _t(82.6, 82.6, 165.2, 330.3), 1.008,
            "spec aggregators (waredb, hmc-tech, gigagpu, holynerdvana); bf16/fp16/fp8 with FP32 accumulate",
            unverified=("fp32", "tf32", "bf16", "fp16", "fp8", "mem"),
            note="all values unverified against the Ada whitepaper"),
    GpuSpec("B200", r"B200", _t(80, 1125, 2250, 4500), 8.0, STAS, mamf={"bf16": 1745.0, "fp8": 3432.5}),
    GpuSpec("MI300X", r"MI300X", _t(163.4, 653.7, 1307.4, 2614.9), 5.3, STAS,
            note="fp32 is the matrix-core rate (vector fp32 81.7, unverified); fp8 e4m3fnuz",
            mamf={"bf16": 668.4}),                  # with TunableOp, ROCm 6.3
]


def lookup(name: str | None) -> GpuSpec | None:
    if not name:
        return None
    for spec in TABLE:
        if re.search(spec.pattern, name, re.IGNORECASE):
            return spec
    return None


def pcie_gbps(gen: int | None, width: int | None) -> float | None:
    """Per-direction PCIe bandwidth in GB/s (8b/10b up to gen 2, 128b/130b from gen 3)."""
    per_lane = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938}
    try:
        gen, width = int(gen), int(width)
    except (TypeError, ValueError):
        return None
    if gen not in per_lane or width <= 0:
        return None
    return round(per_lane[gen] * width, 2)

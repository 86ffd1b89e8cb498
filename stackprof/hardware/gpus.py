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
    # Achievable TFLOPS measured by the MAMF finder, with the accelerator it was measured on:
    # {"bf16": (794.5, "NVIDIA H100 SXM")}. A row may borrow another GPU's result; the Run says whose.
    mamf: dict | None = None
    mamf_borrowed: tuple = ()         # precisions whose MAMF result was measured on another GPU


def _t(fp32, tf32, bf16, fp8):
    return {"fp32": fp32, "tf32": tf32, "bf16": bf16, "fp16": bf16, "fp8": fp8}


UNKNOWN = _t(None, None, None, None)

# Order matters: the first pattern that matches wins (specific names before generic ones).
TABLE: list[GpuSpec] = [
    GpuSpec("GH200 (HBM3e)", r"GH200.*(144|HBM3e)", _t(67, 494.5, 989, 1979), 4.8, STAS,
            note="GH200 per chip = H100 compute; HBM3e variant",
            mamf={"bf16": (828.6, "NVIDIA GH200 SXM (900 W, 141 GiB)"), "fp8": (1535.0, "NVIDIA GH200 SXM")}),
    GpuSpec("GH200", r"GH200", _t(67, 494.5, 989, 1979), 4.0, STAS,
            note="GH200 per chip = H100 compute; 4.0 TB/s HBM3 (4.8 for the HBM3e variant)",
            mamf={"bf16": (828.6, "NVIDIA GH200 SXM (900 W, 141 GiB)"), "fp8": (1535.0, "NVIDIA GH200 SXM")},
            mamf_borrowed=("bf16",)),         # measured on the 141 GiB HBM3e part
    GpuSpec("H200 NVL", r"H200 NVL", UNKNOWN, None, "not in the project reference",
            note="PCIe H200 NVL: peaks differ from the SXM part and are not in the reference"),
    GpuSpec("H200 SXM", r"H200", _t(67, 494.5, 989, 1979), 4.8, STAS, note="same compute as H100 SXM",
            # bf16: no H200 result in the reference; its H100 SXM row says "H200 is the same"
            mamf={"bf16": (794.5, "NVIDIA H100 SXM"), "fp8": (1453.4, "NVIDIA H200 SXM")}, mamf_borrowed=("bf16",)),
    GpuSpec("H100 NVL", r"H100 NVL", UNKNOWN, None, "not in the project reference",
            note="H100 NVL peaks are not in the reference"),
    GpuSpec("H100 PCIe", r"H100.*PCIe", _t(51, 378, 756, 1513), 2.0, STAS),
    GpuSpec("H100 SXM", r"H100", _t(67, 494.5, 989, 1979), 3.35, STAS,
            note="'NVIDIA H100 80GB HBM3' is the SXM part; math at the 1830 MHz boost clock",
            mamf={"bf16": (794.5, "NVIDIA H100 SXM"), "fp8": (1402.6, "NVIDIA H100 SXM")}),
    GpuSpec("A100 80GB", r"A100.*80\s*GB", _t(19.5, 156, 312, None), 2.0, STAS,
            note="SXM bandwidth (2.0 TB/s); the 80GB PCIe card has 1.9 TB/s (unverified)",
            mamf={"bf16": (271.2, "NVIDIA A100 SXM")}),   # the PCIe card reached 252.9
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
    GpuSpec("B200", r"B200", _t(80, 1125, 2250, 4500), 8.0, STAS,
            mamf={"bf16": (1745.0, "NVIDIA B200 SXM"), "fp8": (3432.5, "NVIDIA B200 SXM")}),
    GpuSpec("MI300X", r"MI300X", _t(163.4, 653.7, 1307.4, 2614.9), 5.3, STAS,
            note="fp32 is the matrix-core rate (vector fp32 81.7, unverified); fp8 e4m3fnuz",
            mamf={"bf16": (668.4, "AMD MI300X (TunableOp, ROCm 6.3)")}),
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


# ---- which NVML device a CUDA ordinal is -------------------------------------------------------
# CUDA numbers the devices it can see (CUDA_VISIBLE_DEVICES applied) in CUDA_DEVICE_ORDER: PCI_BUS_ID,
# or by default FASTEST_FIRST, which puts the fastest device first and leaves the rest unspecified
# (CUDA C Programming Guide, "CUDA Environment Variables"). NVML numbers every device of the machine.
# So "cuda:0" is NVML device 0 only on a machine with nothing hidden and one kind of GPU.

def parse_visible_devices(value: str | None) -> list | None:
    """CUDA_VISIBLE_DEVICES as CUDA reads it: None when unset (every device); else indices, or GPU-/MIG-
    identifiers. An invalid entry ends the list, a repeated one empties it (torch.cuda._parse_visible_devices)."""
    if value is None:
        return None
    items = [item.strip() for item in str(value).split(",")]
    out: list = []
    if items and items[0].startswith(("GPU-", "MIG-")):
        prefix = items[0][:4]
        for item in items:
            if not item.startswith(prefix):
                break
            if item in out:
                return []
            out.append(item)
        return out
    for item in items:
        digits = re.match(r"[+]?\d+", item)
        if not digits:
            break
        index = int(digits.group(0))
        if index in out:
            return []
        out.append(index)
    return out


def normal_bus_id(bus_id) -> str | None:
    """'00000000:18:00.0' (NVML) and '0000:18:00.0' (CUDA, sysfs) -> '0000:18:00.0'."""
    if not isinstance(bus_id, str) or ":" not in bus_id:
        return None
    domain, _, rest = bus_id.strip().partition(":")
    try:
        return f"{int(domain, 16):04x}:{rest.lower()}"
    except ValueError:
        return None


def _cuda_order(devices: list[dict], order: str | None) -> list[dict] | None:
    """NVML devices in the order CUDA enumerates them, or None when that order cannot be known."""
    by_bus = sorted(devices, key=lambda d: normal_bus_id(d.get("bus_id")) or f"~{d.get('index', 0):08d}")
    if (order or "").strip().upper() == "PCI_BUS_ID" or len({d.get("name") for d in devices}) <= 1:
        return by_bus        # identical GPUs: "fastest first" ties fall back to PCI order
    return None


def _raw_uuid(value) -> str:
    """The UUID without NVML's GPU-/MIG- prefix, lower case (CUDA reports it bare)."""
    text = str(value or "").strip().lower()
    return text[4:] if text.startswith(("gpu-", "mig-")) else text


def _by_identifier(ident: str, devices: list[dict]) -> tuple[dict | None, str]:
    ident = ident.strip()
    if "<" in ident:
        return None, ""                 # redacted (GPU-<redacted>): it names no device any more
    if ident.startswith("MIG-GPU-"):                      # CUDA 11.0's MIG-GPU-<uuid>/<gi>/<ci> form
        parent = ident[4:].split("/")[0].lower()
        hits = [d for d in devices if str(d.get("uuid") or "").lower() == parent]
        return (hits[0], "MIG instance of the GPU named in CUDA_VISIBLE_DEVICES") if len(hits) == 1 else (None, "")
    if ident.startswith("MIG-"):
        hits = [d for d in devices if any(str(m).lower() == ident.lower() for m in d.get("mig_devices") or [])]
        return (hits[0], "parent GPU of the MIG instance in CUDA_VISIBLE_DEVICES") if len(hits) == 1 else (None, "")
    hits = [d for d in devices if str(d.get("uuid") or "").lower().startswith(ident.lower())]
    return (hits[0], "UUID in CUDA_VISIBLE_DEVICES") if len(hits) == 1 else (None, "")   # unique prefix only


def nvml_device_for(ordinal: int, devices: list[dict], visible: str | None = None, order: str | None = None,
                    identity: dict | None = None) -> tuple[dict | None, str]:
    """(the NVML device that CUDA ordinal `ordinal` is, how it was matched), or (None, why not).

    `devices`: NVML facts ({"index", "name", "uuid", "bus_id", "mig_devices"}); `visible`/`order`: the
    CUDA_VISIBLE_DEVICES / CUDA_DEVICE_ORDER the CUDA process saw; `identity`: what CUDA itself said of
    the device ({"uuid", "pci_bus_id"}), which decides whenever it is there."""
    devices = [d for d in devices or [] if isinstance(d, dict)]
    if not devices or not isinstance(ordinal, int) or ordinal < 0:
        return None, "no NVML device"
    identity = identity if isinstance(identity, dict) else {}
    bus = normal_bus_id(identity.get("pci_bus_id"))
    if bus:
        hits = [d for d in devices if normal_bus_id(d.get("bus_id")) == bus]
        if len(hits) == 1:
            return hits[0], "PCI bus id"
    raw = _raw_uuid(identity.get("uuid"))
    if raw and "<" not in raw:                           # a redacted UUID identifies nothing
        hits = [d for d in devices if _raw_uuid(d.get("uuid")) == raw]
        if len(hits) == 1:
            return hits[0], "UUID"
        hits = [d for d in devices if raw in {_raw_uuid(m) for m in d.get("mig_devices") or []}]
        if len(hits) == 1:
            return hits[0], "UUID of a MIG instance (its parent GPU)"
    listed = parse_visible_devices(visible)
    if listed is not None:
        if ordinal >= len(listed):
            return None, f"CUDA_VISIBLE_DEVICES={visible} shows {len(listed)} device(s)"
        entry = listed[ordinal]
        if isinstance(entry, str):
            found, how = _by_identifier(entry, devices)
            return (found, how) if found is not None else (None, f"{entry} matches no single NVML device")
        ordered = _cuda_order(devices, order)
        if ordered is None:
            return None, "different GPU models and CUDA_DEVICE_ORDER is not PCI_BUS_ID: CUDA's order is unknown"
        if entry >= len(ordered):
            return None, f"CUDA_VISIBLE_DEVICES names device {entry} of {len(ordered)}"
        return ordered[entry], f"CUDA_VISIBLE_DEVICES index {entry} in PCI order"
    ordered = _cuda_order(devices, order)
    if ordered is None:
        return None, "different GPU models and CUDA_DEVICE_ORDER is not PCI_BUS_ID: CUDA's order is unknown"
    if ordinal >= len(ordered):
        return None, f"only {len(ordered)} NVML device(s)"
    return ordered[ordinal], "CUDA ordinal in PCI order"

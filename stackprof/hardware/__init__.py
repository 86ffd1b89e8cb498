"""Hardware limits a benchmark result is judged against: the GPU peak table and the CPU peak
estimate, each with its source. `peak_for(record, environment)` picks the one that applies."""
from __future__ import annotations

from stackprof.hardware import cpu, gpus

COMPUTE_UNITS = {"GFLOP/s"}
MEMORY_OPS = {"stream_copy", "stream_scale", "stream_add", "stream_triad", "softmax", "layer_norm",
              "sum", "exp"}


def precision(record: dict) -> str:
    """The arithmetic a compute result ran in: TF32 when it was allowed for fp32, else the dtype."""
    params = record.get("params") or {}
    dtype = record.get("dtype")
    if dtype == "fp32" and (record.get("variant") == "tf32" or params.get("tf32_forced_by_env")
                            or (record.get("op") == "conv2d" and params.get("cudnn_allow_tf32"))):
        return "tf32"
    return dtype


def peak_for(record: dict, environment: dict, cpu_estimate: dict | None = None) -> dict | None:
    """{"value", "unit", "source", …} for this result, or None when no limit is known."""
    device = record.get("device") or ""
    unit = record.get("unit")
    if device == "cpu":
        return _cpu_peak(record, environment, cpu_estimate) if unit in COMPUTE_UNITS else None
    if device.startswith("cuda"):
        return _gpu_peak(record, environment)
    return None


def _cpu_peak(record: dict, environment: dict, estimate: dict | None) -> dict | None:
    estimate = estimate if estimate is not None else cpu.estimate(environment.get("system"))
    if not estimate:
        return None
    value = estimate["gflops"].get(record.get("dtype"))
    if value is None:
        return None
    return {"value": value, "unit": "GFLOP/s", "source": "estimate: " + estimate["formula"],
            "reference": estimate["source"], "inputs": estimate["inputs"],
            "assumptions": estimate["assumptions"], "verified": False}


def _gpu_device(record: dict, environment: dict) -> tuple[str | None, dict]:
    """The device's name (CUDA's own, else NVML's) and the NVML facts of the GPU that CUDA ordinal
    really is: by PCI bus id or UUID when the record has them, else through CUDA_VISIBLE_DEVICES and
    CUDA_DEVICE_ORDER as the target saw them; {} when that cannot be known (never another GPU's)."""
    device = record.get("device") or ""
    tail = device.split(":", 1)[1] if ":" in device else "0"
    params = record.get("params") or {}
    env = ((environment.get("env_vars") or {}).get("vars") or {}) if isinstance(environment.get("env_vars"), dict) else {}
    nvml, how = gpus.nvml_device_for(int(tail) if tail.isdigit() else -1,
                                     (environment.get("gpus") or {}).get("devices") or [],
                                     visible=env.get("CUDA_VISIBLE_DEVICES"), order=env.get("CUDA_DEVICE_ORDER"),
                                     identity={"uuid": params.get("device_uuid"), "pci_bus_id": params.get("pci_bus_id")})
    nvml = dict(nvml or {}, matched_by=how) if nvml else {}
    name = params.get("device_name") or nvml.get("name")
    return name, nvml


def _gpu_peak(record: dict, environment: dict) -> dict | None:
    name, nvml = _gpu_device(record, environment)
    op, unit = record.get("op"), record.get("unit")
    if op in ("h2d", "d2h"):
        pcie = nvml.get("pcie") or {}
        value = gpus.pcie_gbps(pcie.get("gen_max"), pcie.get("width_max"))
        if value is None:
            return None
        return {"value": value, "unit": "GB/s", "source": f"PCIe gen {pcie.get('gen_max')} x{pcie.get('width_max')} "
                "per direction (link maximum from NVML)", "verified": True,
                "nvml_device": {"index": nvml.get("index"), "name": nvml.get("name"), "matched_by": nvml.get("matched_by")}}
    spec = gpus.lookup(name)
    if spec is None:
        return None
    if unit in COMPUTE_UNITS:
        prec = precision(record)
        tflops = spec.tflops.get(prec)
        if tflops is None:
            return None
        peak = {"value": tflops * 1000.0, "unit": "GFLOP/s", "source": spec.source, "model": spec.model,
                "precision": prec, "note": spec.note, "verified": prec not in spec.unverified}
        if op == "gemm" and spec.mamf and spec.mamf.get(prec):
            tflops, measured_on = spec.mamf[prec]
            borrowed = prec in spec.mamf_borrowed
            peak["achievable"] = {"value": tflops * 1000.0, "source": gpus.MAMF_SOURCE, "measured_on": measured_on,
                                  "borrowed": borrowed}
            if borrowed:
                peak["achievable"]["note"] = f"measured on {measured_on}, not on a {spec.model}"
        return peak
    if unit == "GB/s" and op in MEMORY_OPS and spec.mem_tbps:
        return {"value": spec.mem_tbps * 1000.0, "unit": "GB/s", "source": spec.source, "model": spec.model,
                "note": spec.note, "verified": "mem" not in spec.unverified}
    return None

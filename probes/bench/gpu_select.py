"""Which GPU benchmark cases can run on a given device: pure functions of the compute capability,
the torch version and build (CUDA or ROCm), so the choice is testable without a GPU.

Each function returns None (run it) or the reason the case is skipped. Thresholds:
- bf16 and TF32 tensor cores: Ampere, capability 8.0 (torch.cuda.is_bf16_supported).
- fp8 through torch._scaled_mm: capability 8.9 (Ada) or 9.0 (Hopper); on ROCm MI300 (gfx94x) and
  later, with the e4m3fnuz format (microbenchmark-method.md, MAMF finder notes).
- SDPA flash: capability >= 8.0, fp16/bf16, head dim <= 256; memory-efficient: capability >= 5.0;
  cuDNN attention: CUDA only, capability >= 8.0 (threshold unverified), fp16/bf16; math: always.
The probe still records a runtime refusal ("No available kernel") as skipped with torch's message.
Python 3.8 syntax, standard library only.
"""

SDPA_BACKENDS = ("flash", "efficient", "cudnn", "math")
SDPA_ENUM = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION",
             "cudnn": "CUDNN_ATTENTION", "math": "MATH"}


def _cap(cap):
    return "%d.%d" % tuple(cap)


def gemm_unsupported(dtype, variant, cap, hip=None, arch=None, has_scaled_mm=True):
    if dtype == "fp8":
        if not has_scaled_mm:
            return "this torch has no torch._scaled_mm / float8 dtypes (torch >= 2.1 needed)"
        if hip:
            if arch and (arch.startswith("gfx94") or arch.startswith("gfx95")):
                return None
            return "fp8 matmul on ROCm needs an MI300-class GPU (gfx94x or later); this is %s" % (arch or "unknown")
        if tuple(cap) < (8, 9):
            return "fp8 matmul needs compute capability >= 8.9 (this GPU: %s)" % _cap(cap)
        return None
    if not hip and (dtype == "bf16" or variant == "tf32") and tuple(cap) < (8, 0):
        what = "TF32" if variant == "tf32" else "bf16"
        return "%s needs compute capability >= 8.0 (this GPU: %s)" % (what, _cap(cap))
    return None


def conv_unsupported(dtype, cap, hip=None):
    if not hip and dtype == "bf16" and tuple(cap) < (8, 0):
        return "bf16 needs compute capability >= 8.0 (this GPU: %s)" % _cap(cap)
    return None


def sdpa_unsupported(backend, dtype, cap, head_dim, hip=None, has_backend=True):
    if not has_backend:
        return "this torch has no SDPBackend.%s" % SDPA_ENUM.get(backend, backend)
    if backend == "math":
        return None
    if backend == "cudnn" and hip:
        return "cuDNN attention is CUDA-only"
    if not hip and dtype == "bf16" and tuple(cap) < (8, 0):
        return "bf16 needs compute capability >= 8.0 (this GPU: %s)" % _cap(cap)
    if backend in ("flash", "cudnn"):
        if dtype not in ("fp16", "bf16"):
            return "%s attention supports fp16/bf16 only" % backend
        if not hip and tuple(cap) < (8, 0):
            return "%s attention needs compute capability >= 8.0 (this GPU: %s)" % (backend, _cap(cap))
        if backend == "flash" and head_dim > 256:
            return "flash attention supports head dim <= 256 (this case: %d)" % head_dim
    if backend == "efficient" and not hip and tuple(cap) < (5, 0):
        return "memory-efficient attention needs compute capability >= 5.0 (this GPU: %s)" % _cap(cap)
    return None


def select(family, cases, cap, hip=None, arch=None, has_scaled_mm=True, sdpa_enums=SDPA_BACKENDS):
    """[(case, reason or None)] for a family's GPU cases on this device."""
    out = []
    for case in cases:
        if family == "gemm":
            reason = gemm_unsupported(case["dtype"], case.get("variant"), cap, hip, arch, has_scaled_mm)
        elif family == "conv":
            reason = conv_unsupported(case["dtype"], cap, hip)
        elif family == "attention":
            reason = sdpa_unsupported(case["backend"], case["dtype"], cap, case["d"], hip,
                                      case["backend"] in sdpa_enums)
        else:
            reason = None
        out.append((case, reason))
    return out


def device_identity(torch, dev):
    """What CUDA itself says the device is, for the host to find its NVML device (PCI bus id, else
    UUID) whatever CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER did to the numbering. The UUID is written
    with NVML's "GPU-" prefix so that the Run's redaction treats it like every other GPU UUID.
    Fields this torch does not expose are left out."""
    out = {}
    try:
        props = torch.cuda.get_device_properties(dev)
    except Exception:
        return out
    uuid = getattr(props, "uuid", None)
    text = str(uuid) if uuid is not None else ""
    if text:
        out["device_uuid"] = text if text.startswith(("GPU-", "MIG-")) else "GPU-" + text
    parts = [getattr(props, name, None) for name in ("pci_domain_id", "pci_bus_id", "pci_device_id")]
    if all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
        out["pci_bus_id"] = "%04x:%02x:%02x.0" % tuple(parts)
    return out

"""What one rank measures in each mode (per-rank side; the same plan on every rank, or the collectives
would not line up — ranks check that they agree before measuring). Standard library; Python 3.8.

Per-device benchmarks (each rank on its own device): GEMM (kernel throughput, at fp32 and at the
model's dtype for the what-if), STREAM triad (memory bandwidth) and, on GPUs, pinned host<->device
copies (the PCIe link). Collectives: the six families of probes/bench/collectives.py over message
sizes from KB to GB, bounded per device (the probe also skips a size that does not fit in memory).
"""
import json

MODES = ("quick", "default", "full")
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
CASE_BUDGET_S = {"quick": 0.25, "default": 0.6, "full": 1.0}          # per-device case (as `stackprof bench`)
COLLECTIVE_BUDGET_S = {"quick": 0.15, "default": 0.4, "full": 0.8}     # per collective case
GPU_WARMUP_S = {"quick": 3.0, "default": 10.0, "full": 15.0}          # before the first GPU case
COLLECTIVE_OPS = ("all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "send_recv")
DEFAULT_LLC = 64 * MIB

# (probe, environment section) — the same keys as `stackprof probe` (stackprof/collect.py), less the
# frameworks a training rank does not use; native_libs last, to see what torch loaded.
FACT_PROBES = (("facts.system", "system"), ("facts.python", "python"), ("facts.env_vars", "env_vars"),
               ("facts.packages", "packages"), ("facts.torch", "torch"), ("facts.native_libs", "native_libs"))


def collective_sizes(mode, device_type):
    """Message sizes S (bytes of the whole array). CPU (gloo over loopback TCP) stops at 32-256 MiB;
    GPUs go to 1-4 GiB, where NVLink and network bandwidth flatten out."""
    if device_type == "cuda":
        if mode == "quick":
            return [1 * MIB, 32 * MIB, 512 * MIB]
        if mode == "full":
            return [KIB << (2 * i) for i in range(12)]                   # 1 KiB ... 4 GiB, x4
        return [64 * KIB, 1 * MIB, 16 * MIB, 128 * MIB, 1 * GIB]
    if mode == "quick":
        return [64 * KIB, 1 * MIB, 32 * MIB]
    if mode == "full":
        return [KIB << (2 * i) for i in range(10)]                       # 1 KiB ... 256 MiB, x4
    return [4 * KIB, 64 * KIB, 1 * MIB, 16 * MIB, 64 * MIB]


def collective_cases(mode, device_type, ops=None, sizes=None, dtype="fp32"):
    ops = list(ops or COLLECTIVE_OPS)
    sizes = list(sizes or collective_sizes(mode, device_type))
    return [{"op": op, "bytes": int(size), "dtype": dtype} for op in ops for size in sizes]


def stream_elements(llc_bytes, available_bytes, ranks_on_host):
    """fp64 elements per STREAM array: >= 4x the last-level cache (STREAM rule), three arrays within
    a quarter of the available memory shared by the ranks of this host."""
    array_bytes = max(4 * (llc_bytes or DEFAULT_LLC), 64 * MIB)
    if available_bytes:
        array_bytes = max(16 * MIB, min(array_bytes, available_bytes // (12 * max(1, ranks_on_host))))
    return int(array_bytes // 8)


def device_tasks(mode, device, model_dtype=None, llc_bytes=None, available_bytes=None, ranks_on_host=1):
    """[(probe, args)] for the per-device benchmarks of this rank's device."""
    budget = CASE_BUDGET_S[mode]
    dtypes = ["fp32"] + [d for d in [model_dtype or "bf16"] if d != "fp32"]
    if device == "cpu":
        sizes = [1024] if mode == "quick" else [1024, 2048]
        gemm = [{"dtype": dt, "m": s, "n": s, "k": s} for dt in dtypes for s in sizes]
        n = stream_elements(llc_bytes, available_bytes, ranks_on_host)
        kernels = ("triad",) if mode == "quick" else ("copy", "triad")
        stream = [{"kernel": k, "dtype": "fp64", "n": n} for k in kernels]
        return [("bench.gemm", {"framework": "torch", "device": device, "budget_s": budget, "cases": gemm}),
                ("bench.stream", {"framework": "torch", "device": device, "budget_s": budget, "cases": stream})]
    sizes = [4096] if mode == "quick" else [4096, 8192]
    gemm = [{"dtype": dt, "m": s, "n": s, "k": s} for dt in dtypes for s in sizes]
    stream = [{"kernel": k, "dtype": "fp32", "n": 1 << 28} for k in (("triad",) if mode == "quick" else ("copy", "triad"))]
    transfer = [{"direction": d, "bytes": 64 * MIB, "pinned": True} for d in ("h2d", "d2h")]
    return [("bench.gemm", {"framework": "torch", "device": device, "budget_s": budget, "cases": gemm,
                            "device_warmup_s": GPU_WARMUP_S[mode]}),
            ("bench.stream", {"framework": "torch", "device": device, "budget_s": budget, "cases": stream}),
            ("bench.transfer", {"framework": "torch", "device": device, "budget_s": budget, "cases": transfer})]


def plan_key(plan):
    """What must be equal on every rank: the collective cases and budgets, and the phases."""
    return json.dumps({k: plan[k] for k in ("mode", "collectives", "collective_budget_s", "phases", "timeout_s")},
                      sort_keys=True)

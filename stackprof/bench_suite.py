"""What each mode measures: benchmark families, frameworks, devices and shapes.

--quick  a few representative shapes per family (CPU part sized to finish in ~20 s on 2 cores); no
         torch.compile case: a first compile alone takes 10–20 s of C++ builds on 2 cores;
default  more shapes and dtypes, torch.compile (its compile time and cache state reported as a
         first-run cost), and per library and dtype a short search for the machine's best GEMM shape
         (MAMF-style, around the best square; the shape found is a result, not part of the case id);
--full   a wider GEMM sweep plus the default suite.
Host memory benchmarks are sized from stable facts only — the last-level cache and the memory the
machine or container has in total, never the momentary free memory — so the same environment gets
the same case ids in every run: STREAM's rule (each array ≥ 4× the LLC) capped at ARRAY_CAP (a VM
that reports a huge LLC would otherwise ask for GBs) and at a 1/32 of the memory.
GPU cases are planned for every capability; the probe skips what the device cannot run
(probes/bench/gpu_select.py) with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from stackprof.errors import StackprofError
from stackprof.paths import PROBE_PACKAGE, import_probe, probes_dir

FAMILIES = {"gemm": "bench.gemm", "conv": "bench.conv", "attention": "bench.attention",
            "stream": "bench.stream", "elementwise": "bench.elementwise", "transfer": "bench.transfer",
            "dispatch": "bench.dispatch", "compile": "bench.mlp_compile"}
ALIASES = {"conv2d": "conv", "sdpa": "attention", "memory": "stream", "bandwidth": "stream",
           "h2d": "transfer", "d2h": "transfer", "reduction": "elementwise", "softmax": "elementwise",
           "launch": "dispatch", "mlp": "compile", "matmul": "gemm"}
MIB = 1024 * 1024
DEFAULT_LLC = 64 * MIB          # when the system facts give none
ARRAY_CAP = 256 * MIB           # per array, every mode: keeps --quick inside its time on any machine
ARRAY_FLOOR = 16 * MIB
ARRAY_STEP = 16 * MIB           # sizes are multiples of this: a re-measured LLC cannot move the id by a byte
SEARCH_BUDGET_S = {"default": 2.0, "full": 6.0}   # per library and dtype, searching the best GEMM shape


@dataclass
class Group:
    family: str
    framework: str
    device: str
    cases: list
    extra: dict = field(default_factory=dict)


def normalize_only(only) -> set[str]:
    if not only:
        return set(FAMILIES)
    names = only.split(",") if isinstance(only, str) else list(only)
    out = set()
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        family = ALIASES.get(name, name)
        if family not in FAMILIES:
            raise StackprofError(f"unknown benchmark family '{name}' (choose from {', '.join(FAMILIES)})")
        out.add(family)
    return out


def _gemm(dtype, sizes, variant=None):
    cases = []
    for size in sizes:
        m, n, k = size if isinstance(size, tuple) else (size, size, size)
        case = {"dtype": dtype, "m": m, "n": n, "k": k}
        if variant:
            case["variant"] = variant
        cases.append(case)
    return cases


def _conv(dtype, shapes, variants=(None,)):
    return [{"dtype": dtype, "n": n, "c": c, "h": h, "w": h, "k": k, "r": r, "s": r, "stride": st,
             "pad": r // 2, **({"variant": v} if v else {})}
            for (n, c, h, k, r, st) in shapes for v in variants]


def _host_sizes(environment: dict) -> tuple[int, int]:
    """(fp64 STREAM elements, elementwise rows of 4096 fp32): arrays of 4× the LLC within
    [ARRAY_FLOOR, ARRAY_CAP] and at most 1/32 of the memory (three arrays and their copies)."""
    system = environment.get("system") or {}
    llc = (system.get("cpu") or {}).get("llc_bytes") or DEFAULT_LLC
    memory = [(system.get("memory") or {}).get("total_bytes"), (system.get("cgroup") or {}).get("memory_limit_bytes")]
    memory = [m for m in memory if isinstance(m, int) and m > 0]
    array_bytes = min(4 * llc, ARRAY_CAP, *(m // 32 for m in memory))
    array_bytes = max(ARRAY_FLOOR, array_bytes // ARRAY_STEP * ARRAY_STEP)
    return int(array_bytes // 8), int(array_bytes // (4 * 4096))


def search_cases(dtypes: list[str], mode: str) -> list[dict]:
    """One search per dtype for the shape where this library's GEMM is fastest (probes/bench/gemm.py)."""
    return [{"dtype": dt, "search": {"budget_s": SEARCH_BUDGET_S[mode]}} for dt in dtypes] \
        if mode in SEARCH_BUDGET_S else []


def cpu_suite(mode: str, environment: dict) -> list[Group]:
    stream_n, rows = _host_sizes(environment)
    resnet = (8, 64, 56, 64, 3, 1)
    elementwise = [{"kernel": k, "dtype": "fp32", "rows": rows, "cols": 4096}
                   for k in ("softmax", "layer_norm", "sum", "exp")]
    stream = [{"kernel": k, "dtype": "fp64", "n": stream_n} for k in ("copy", "scale", "add", "triad")]
    mlp = [{"dtype": "fp32", "batch": 32, "dims": [256, 1024, 256], "mode": m} for m in ("eager", "compile")]
    if mode == "quick":
        mlp = mlp[:1]                  # eager only: see the module's docstring
        return [
            Group("gemm", "numpy", "cpu", _gemm("fp32", [1024]) + _gemm("fp64", [1024])),
            Group("gemm", "torch", "cpu", _gemm("fp32", [1024]) + _gemm("bf16", [1024])),
            Group("gemm", "tensorflow", "cpu", _gemm("fp32", [1024])),
            Group("gemm", "jax", "cpu", _gemm("fp32", [1024])),
            Group("conv", "torch", "cpu", _conv("fp32", [resnet])),
            Group("conv", "tensorflow", "cpu", _conv("fp32", [resnet])),
            Group("elementwise", "torch", "cpu", elementwise),
            Group("stream", "torch", "cpu", stream),
            Group("dispatch", "torch", "cpu", [{"mode": "eager"}]),
            Group("compile", "torch", "cpu", mlp),
        ]
    squares = list(range(256, 4097, 256)) if mode == "full" else [1024, 2048, 4096]
    convs = [resnet, (8, 256, 56, 64, 1, 1), (8, 256, 14, 256, 3, 1)]
    attention = [{"dtype": dt, "b": 4, "h": 8, "s": 1024, "d": 64, "backend": be}
                 for dt in ("fp32", "bf16") for be in (None, "math")]
    return [
        Group("gemm", "numpy", "cpu", _gemm("fp32", squares) + _gemm("fp64", squares[::2] if mode == "full" else [1024])
              + search_cases(["fp32", "fp64"], mode)),
        Group("gemm", "torch", "cpu", _gemm("fp32", squares) + _gemm("bf16", squares) + _gemm("fp16", [512])
              + search_cases(["fp32", "bf16"], mode)),
        Group("gemm", "tensorflow", "cpu", _gemm("fp32", [1024, 2048]) + _gemm("bf16", [2048])
              + search_cases(["fp32"], mode)),
        Group("gemm", "jax", "cpu", _gemm("fp32", [1024, 2048]) + _gemm("bf16", [2048]) + search_cases(["fp32"], mode)),
        Group("conv", "torch", "cpu", _conv("fp32", convs) + _conv("fp32", [resnet], ["channels_last"])
              + _conv("bf16", [resnet], [None, "channels_last"])),
        Group("conv", "tensorflow", "cpu", _conv("fp32", convs)),
        Group("attention", "torch", "cpu", attention),
        Group("elementwise", "torch", "cpu", elementwise + [dict(c, dtype="bf16") for c in elementwise]),
        Group("elementwise", "numpy", "cpu", [c for c in elementwise if c["kernel"] in ("sum", "exp")]),
        Group("stream", "torch", "cpu", stream),
        Group("stream", "numpy", "cpu", stream),
        Group("dispatch", "torch", "cpu", [{"mode": "eager"}]),
        Group("compile", "torch", "cpu", mlp),
    ]


def gpu_suite(mode: str, device: str) -> list[Group]:
    big = [4096] if mode == "quick" else [4096, 8192]
    if mode == "full":       # MAMF-style: M swept with N = K = 4096, plus squares
        big = [(m, 4096, 4096) for m in range(1024, 16385, 1024)] + [2048, 8192, 12288, (2048, 2048, 13312)]
    warm = {"device_warmup_s": 5.0 if mode == "quick" else 15.0}
    gemm = (_gemm("fp32", big[:2] if mode == "full" else big) + _gemm("fp32", big, "tf32")
            + _gemm("bf16", big) + _gemm("fp16", big if mode != "quick" else [8192]) + _gemm("fp8", big)
            + search_cases(["bf16"], mode))
    conv_variants = (None, "cudnn_benchmark", "channels_last", "channels_last+cudnn_benchmark")
    conv = _conv("bf16", [(32, 128, 56, 128, 3, 1)], conv_variants)
    if mode != "quick":
        conv += _conv("fp32", [(32, 128, 56, 128, 3, 1)], conv_variants)
    seqs = [2048] if mode == "quick" else [1024, 4096]
    dtypes = ["bf16"] if mode == "quick" else ["bf16", "fp16"]
    attention = [{"dtype": dt, "b": 8, "h": 16, "s": s, "d": 128, "backend": be}
                 for dt in dtypes for s in seqs for be in (None, "flash", "efficient", "cudnn", "math")]
    n = 1 << 28                                           # 1 GiB fp32 arrays: >= 4x any GPU's L2
    stream = [{"kernel": k, "dtype": "fp32", "n": n}
              for k in (("copy", "triad") if mode == "quick" else ("copy", "scale", "add", "triad"))]
    sizes = [64 * MIB] if mode == "quick" else [1 * MIB, 16 * MIB, 256 * MIB]
    transfer = [{"direction": d, "bytes": s, "pinned": p} for d in ("h2d", "d2h") for s in sizes
                for p in (True, False)]
    elementwise = [{"kernel": k, "dtype": dt, "rows": 16384, "cols": 8192}
                   for dt in (["bf16"] if mode == "quick" else ["fp32", "bf16"])
                   for k in ("softmax", "layer_norm", "sum", "exp")]
    mlp = [{"dtype": "bf16", "batch": 256, "dims": [1024, 4096, 1024], "mode": m} for m in ("eager", "compile")]
    return [
        Group("gemm", "torch", device, gemm, warm),
        Group("conv", "torch", device, conv),
        Group("attention", "torch", device, attention),
        Group("stream", "torch", device, stream),
        Group("transfer", "torch", device, transfer),
        Group("elementwise", "torch", device, elementwise),
        Group("dispatch", "torch", device, [{"mode": "eager"}, {"mode": "cuda_graph", "ops": 100}]),
        Group("compile", "torch", device, mlp),
    ]


def suite(mode: str, environment: dict, devices: list[str]) -> list[Group]:
    groups = []
    for device in devices:
        groups += cpu_suite(mode, environment) if device == "cpu" else gpu_suite(mode, device)
    return groups


# --- the probes' own describe(), so host-made records have exactly the probes' ids -------------

PACKAGE = PROBE_PACKAGE


def probe_module(probe: str):
    """probes/<probe>.py in the host (stdlib-only at import time), to reuse its describe()."""
    return import_probe(probe, probes_dir())


def describe_case(task, case: dict) -> dict:
    """The record a probe would start from for this case (status ok, no samples)."""
    harness = probe_module("harness")
    module = probe_module(task.probe)
    args = task.args
    spec = module.describe(args["framework"], args["device"], case)
    return harness.base_record(spec, task.probe, dict(args, cases=[case]))


def case_ids(tasks) -> list[str]:
    return [describe_case(t, c)["id"] for t in tasks for c in t.args.get("cases") or []]

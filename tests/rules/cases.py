"""Healthy documents every rule must stay silent on (no defect of severity low or higher), and for every
rule the ONE fact that, changed in a healthy document, makes it fire.

Healthy documents (tests/fixtures/runs/README.md says how the captures were made):
  torch-healthy    real capture: `stackprof run --quick` of the torch 2.13.0 CPU + numpy + threadpoolctl venv
  numpy-healthy    real capture: `stackprof run --quick` of the numpy-only venv
  gpu-h100-cu126   tests/rules/gpu_hosts.py: documented defaults of real releases, each value sourced
  gpu-h200-cu128   tests/rules/gpu_hosts.py: the H200 this workplace lends, as its notes record it
No value of these documents was chosen to keep a rule quiet: a rule that fires on them is fixed.

Broken documents: CASES[rule] = (healthy base, the one fact changed, the kind the finding must have).
Where a "fact" spans several keys they describe one thing (a CPU with SMT: its core and thread counts).
Measured-variant rules (C3, C13) get a default and a variant record whose values are relative: only their
ratio matters to the rule, and that ratio is the one the cited source reports.
"""
from __future__ import annotations

from .edit import env_var, fixture, library, set_path
from .gpu_hosts import HOSTS, gpu_record

CPU_CAPTURES = ("torch-healthy", "numpy-healthy")
HEALTHY = CPU_CAPTURES + tuple(HOSTS)
CPU, H100, H200 = "torch-healthy", "gpu-h100-cu126", "gpu-h200-cu128"


def healthy(name: str) -> dict:
    """A fresh copy of a healthy document."""
    return HOSTS[name]() if name in HOSTS else fixture(name)


def first(doc: dict, op: str, framework: str, dtype: str | None = None) -> dict:
    return next(r for r in doc["benchmarks"] if r["op"] == op and r["framework"] == framework
                and r["status"] == "ok" and (dtype is None or r.get("dtype") == dtype))


def samples_of(doc: dict, op: str) -> list[dict]:
    return [x for r in doc["benchmarks"] if r.get("op") == op for x in (r.get("state") or {}).get("gpu", [])]


def _torch_gemm_half_of_numpy(doc):
    """torch's (MKL) fp32 GEMM measured, not noisy, at half of numpy's (OpenBLAS) on the same case."""
    torch_rec, numpy_rec = first(doc, "gemm", "torch", "fp32"), first(doc, "gemm", "numpy", "fp32")
    numpy_rec["stats"]["noisy"] = False
    torch_rec.update(value=numpy_rec["value"] / 2, stats=dict(torch_rec["stats"], noisy=False))
    return doc


def _variant_pair(doc, op, unit, variant, ratio, source):
    """A default and a variant record of the same case (relative values; `ratio` from `source`)."""
    shape, text = {"n": 64}, "64"
    doc["benchmarks"] += [gpu_record(op, "fp32", shape, text, 1.0, unit),
                          gpu_record(op, "fp32", shape, text, ratio, unit, variant=variant)]
    doc["benchmarks"][-1]["source"] = source
    return doc


def _link_x8_under_load(doc):
    for x in samples_of(doc, "h2d") + samples_of(doc, "d2h"):
        x["pcie_width"] = 8
    return doc


def _thermal_slowdown_under_load(doc):
    for x in samples_of(doc, "gemm"):
        x["throttle_reasons"] = ["hw_thermal_slowdown"]
    return doc


def _c9(doc):
    """torch from conda-forge built against OpenBLAS."""
    set_path(doc, "environment.torch.config.build_settings.BLAS_INFO", "open")
    for dist in doc["environment"]["packages"]["distributions"]:
        if dist["name"] == "torch":
            dist.update(installer="conda", conda={"channel": "conda-forge", "build": "cpu_generic_py311"})
    return doc


# ---- the measurement rules (m_measured.py, the lead's): cases kept as they were
def _m1(doc):
    """numpy's GEMM made 3× slower than torch's on the same shape."""
    torch_rec = first(doc, "gemm", "torch")
    twin = next(r for r in doc["benchmarks"] if r["framework"] == "numpy" and r.get("op_key") == torch_rec["op_key"]
                and r.get("shape") == torch_rec.get("shape"))
    twin["value"] = torch_rec["value"] / 3
    return doc


def _m2(doc):
    for rec in doc["benchmarks"]:
        if rec.get("unit") == "GFLOP/s" and rec.get("pct_of_peak") is not None:
            rec["pct_of_peak"] = 0.05
    return doc


def _i1(doc):
    """A second numpy in the user site-packages that wins over the venv's: what `pip install --user
    numpy==1.26.4` leaves on a Python whose user site is on (copies as packages.shadowing records them)."""
    packages = doc["environment"]["packages"]
    mine = next(d for d in packages["distributions"] if d["name"] == "numpy")
    user = dict(mine, version="1.26.4", location_kind="user-site")
    packages["distributions"].append(dict(mine, shadowed=True))
    packages["shadowed"] = ["numpy"]
    packages["shadowing"] = [{"name": "numpy", "metadata_wins": 0, "import_wins": 0, "copies": [
        {"version": user["version"], "location": "~/.local/lib/python3.11/site-packages", "location_kind": "user-site",
         "installer": "pip", "provenance": "wheel", "metadata_kind": "dist-info"},
        {"version": mine["version"], "location": "~/venv/lib/python3.11/site-packages",
         "location_kind": "site-packages", "installer": "pip", "provenance": "wheel", "metadata_kind": "dist-info"}]}]
    return doc


D, O, N = "defect", "opportunity", "note"
CASES = {
    "A1": (CPU, lambda d: set_path(d, "environment.numpy.blas.name", "blas"), D),
    "A2": (CPU, lambda d: set_path(d, "environment.torch.parallel.num_threads", 64), D),
    "A3": (CPU, lambda d: set_path(d, "environment.system.cpu.hybrid", {"p_cores": 1, "e_cores": 1}), D),
    "A4": (CPU, lambda d: env_var(d, "OMP_WAIT_POLICY", "ACTIVE"), D),
    "A5": (CPU, lambda d: set_path(d, f"environment.native_libs.libraries[{library(d, 'openblas')}].architecture",
                                   "Prescott"), D),
    "A6": (CPU, lambda d: set_path(d, f"environment.native_libs.libraries[{library(d, 'openblas')}].architecture",
                                   "Haswell"), D),
    "A7": (CPU, _torch_gemm_half_of_numpy, D),
    "A8": (CPU, lambda d: env_var(d, "MKL_ENABLE_INSTRUCTIONS", "AVX2"), D),
    "A9": (CPU, lambda d: set_path(set_path(d, "environment.native_libs.openmp_runtimes", ["libgomp", "libiomp5"]),
                                   "environment.native_libs.multiple_openmp", True), D),
    "A10": (CPU, lambda d: env_var(d, "MKL_THREADING_LAYER", "sequential"), D),
    "B1": (CPU, lambda d: set_path(d, "environment.system.cgroup.cpu_quota_cores", 1.0), D),
    "B2": (CPU, lambda d: set_path(d, "environment.system.affinity.count", 1), D),
    "B3": (CPU, lambda d: env_var(d, "OMP_NUM_THREADS", "1"), D),
    "B4": (CPU, lambda d: set_path(set_path(d, "environment.system.cpu.physical_cores", 1),
                                   "environment.system.cpu.threads_per_core", 2), D),
    "B5": (CPU, lambda d: set_path(d, "environment.system.cpu.numa_nodes", 2), O),
    "B6": (CPU, lambda d: set_path(d, "environment.system.cpu.governor", "powersave"), D),
    "B7": (CPU, lambda d: set_path(d, "environment.system.thp.enabled", "never"), D),
    "B8": (CPU, lambda d: set_path(set_path(set_path(d, "environment.system.os.name", "Darwin"),
                                            "environment.system.os.arch", "x86_64"),
                                   "environment.system.cpu.model", "Apple M1"), D),
    "C1": (H100, lambda d: set_path(d, "environment.torch.cuda.built_version", None), D),
    "C2": (H100, lambda d: set_path(d, "environment.torch.cuda.devices[0].capability", "12.0"), D),
    "C3": (H100, lambda d: _variant_pair(d, "conv2d", "GFLOP/s", "cudnn_benchmark", 2.00 / 1.42,
                                         "NVIDIA/waveglow#172: 2.00 -> 1.42 s/iter with cudnn.benchmark"), O),
    "C4": (H100, lambda d: env_var(d, "NVIDIA_TF32_OVERRIDE", "0"), D),
    "C5": (H100, lambda d: set_path(d, "environment.torch.backends.deterministic_algorithms", True), O),
    "C6": (H100, lambda d: env_var(d, "CUDA_LAUNCH_BLOCKING", "1"), D),
    "C7": (CPU, lambda d: set_path(d, "environment.torch.config.build_settings.USE_MKLDNN", "OFF"), D),
    "C8": (CPU, lambda d: set_path(d, "environment.torch.cpu_capability", "DEFAULT"), D),
    "C9": (CPU, _c9, D),
    "C10": (CPU, lambda d: set_path(d, "environment.torch.compile.usable", False), O),
    "C11": (CPU, lambda d: set_path(d, "environment.torch.import_s", 12.5), D),
    "C13": (H200, lambda d: _variant_pair(d, "h2d", "GB/s", "pinned", 1.34,
                                          "spdl benchmark_pinned_arena: pinned 1.34-1.44x pageable (catalogue C13)"), O),
    "D2": (CPU, lambda d: set_path(d, "environment.tensorflow",
                                   {"installed": True, "version": "2.21.0", "onednn_enabled": False}), O),
    "D3": (H100, lambda d: set_path(d, "environment.tensorflow",
                                    {"installed": True, "version": "2.21.0",
                                     "devices": [{"name": "/physical_device:CPU:0", "device_type": "CPU"}]}), D),
    "E1": (H100, lambda d: set_path(d, "environment.jax", {"installed": True, "version": "0.7.0", "backend": "cpu"}), D),
    "E2": (CPU, lambda d: env_var(set_path(d, "environment.jax", {"installed": True, "version": "0.7.0",
                                                                   "backend": "cpu"}),
                                  "XLA_PYTHON_CLIENT_ALLOCATOR", "platform"), D),
    "F1": (H200, _link_x8_under_load, D),
    "F2": (H200, _thermal_slowdown_under_load, D),
    "F3": (H100, lambda d: set_path(d, "environment.gpus.devices[0].power.limit_w", 500.0), D),
    "F4": (H200, lambda d: set_path(d, "environment.gpus.devices[0].persistence_mode", False), O),
    "F5": (H100, lambda d: set_path(d, "environment.gpus.devices[0].mig_mode", True), N),
    "F6": (H100, lambda d: set_path(d, "environment.torch.cuda.available", False), D),
    "F7": (H200, lambda d: set_path(d, "environment.gpus.devices[0].ecc_enabled", True), N),
    "F8": (CPU, lambda d: env_var(d, "NCCL_IB_DISABLE", "1"), D),
    "F9": (H100, lambda d: env_var(d, "CUDA_MODULE_LOADING", "EAGER"), D),
    "F10": (CPU, lambda d: set_path(set_path(d, "environment.system.os.arch", "aarch64"),
                                    "environment.system.cpu.flags.bf16", True), O),
    "I1": (CPU, _i1, D),
    "M1": (CPU, _m1, None),            # defect, or a note when the gap is a library's design (test_affects.py)
    "M2": (CPU, _m2, N),
    "M3": (CPU, lambda d: set_path(d, "benchmarks[0].stats.noisy", True), N),
    "M4": (CPU, lambda d: set_path(d, "benchmarks[0].check", {"ok": False, "max_rel_err": 0.5, "tol": 1e-4}), D),
}

# Rules whose firing cases live with their own area's tests (same format): one line each.
from tests.profile.rule_cases import CASES as PROFILE_CASES  # noqa: E402  (C12, P1–P6)

from tests.dist.rule_cases import CASES as DIST_CASES  # noqa: E402  (G1–G3)

CASES.update(PROFILE_CASES)
CASES.update(DIST_CASES)

# Every rule, the measurement rules included, is judged on every healthy document.
MEASUREMENT_RULES = ()


def broken(rule_id: str) -> dict:
    base, edit, _ = CASES[rule_id]
    return edit(healthy(base))

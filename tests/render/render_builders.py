"""Hand-made Run documents that follow the agreed contracts (A: environment, B: benchmarks, findings).

Used by the render tests only; they are builders (fresh objects per call), not shared fixtures. Values
are shaped like a 2-core AVX-512 CPU VM with torch 2.13.0 (MKL) and numpy (OpenBLAS) — plausible, not
measurements. Tests that need real data use real probes instead.
"""
from __future__ import annotations

import copy
import math
import random

from stackprof.model import Run


def environment() -> dict:
    return {
        "system": {
            "os": {"name": "Linux", "kernel": "6.8.0-45-generic", "distro": "Debian GNU/Linux 12 (bookworm)",
                   "arch": "x86_64"},
            "container": {"detected": True, "kind": "docker"},
            "cgroup": {"version": 2, "cpu_quota_cores": 2.0, "memory_limit_bytes": 24 * 2**30,
                       "throttling": {"nr_periods": 1200, "nr_throttled": 3}},
            "affinity": {"cpus": [0, 1], "count": 2},
            "os_cpu_count": 2,
            "cpu": {"vendor": "AuthenticAMD", "model": "AMD EPYC 9R45 (Zen 5)", "family": 26,
                    "flags": {"sse4_2": True, "avx": True, "avx2": True, "fma": True, "avx512f": True,
                              "avx512_bf16": True, "avx512_vnni": True, "amx_tile": False, "amx_bf16": False,
                              "neon": False},
                    "isa_level": "avx512", "logical_cpus": 2, "physical_cores": 1, "threads_per_core": 2,
                    "sockets": 1, "numa_nodes": 1, "max_mhz": 3700.0, "cur_mhz": 2600.0,
                    "governor": None, "scaling_driver": None, "llc_bytes": 32 * 2**20, "hybrid": None},
            "thp": {"enabled": "madvise", "defrag": "madvise"},
            "memory": {"total_bytes": 24 * 2**30, "available_bytes": 20 * 2**30},
        },
        "python": {"version": "3.11.7", "implementation": "CPython", "executable": "<home>/envs/torch/bin/python",
                   "prefix": "<home>/envs/torch", "env_kind": "venv", "debug_build": False,
                   "free_threaded": False, "compiler": "GCC 12.2.0"},
        "env_vars": {"vars": {"OPENBLAS_CORETYPE": "Haswell", "OMP_NUM_THREADS": "2"},
                     "dropped_secret": ["HF_TOKEN"]},
        "packages": {"count": 4, "distributions": [
            {"name": "torch", "version": "2.13.0+cpu", "installer": "pip", "local_version": "cpu",
             "location_kind": "site-packages", "editable": False, "direct_url": None, "requested": True,
             "conda": None},
            {"name": "numpy", "version": "2.4.6", "installer": "pip", "local_version": None,
             "location_kind": "site-packages", "editable": False, "direct_url": None, "requested": True,
             "conda": None},
            {"name": "threadpoolctl", "version": "3.6.0", "installer": "uv", "local_version": None,
             "location_kind": "site-packages", "editable": False, "direct_url": None, "requested": False,
             "conda": None},
            {"name": "mylib", "version": "0.1.dev0", "installer": None, "local_version": None,
             "location_kind": "other", "editable": True, "direct_url": "file://<home>/src/mylib",
             "requested": True, "conda": {"channel": "conda-forge", "build": "py311_0"}},
        ]},
        "numpy": {"installed": True, "version": "2.4.6",
                  "blas": {"name": "scipy-openblas", "version": "0.3.30", "openblas_config":
                           "OpenBLAS 0.3.30 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"},
                  "lapack": {"name": "scipy-openblas", "version": "0.3.30"},
                  "simd": {"baseline": ["SSE", "SSE2", "SSE3"], "found": ["SSSE3", "SSE41", "AVX2", "AVX512F"],
                           "not_found": ["AVX512_SPR"]},
                  "scipy": {"installed": False, "version": None, "blas": None, "lapack": None}},
        "torch": {
            "installed": True, "version": "2.13.0+cpu", "local_version": "cpu", "git_version": "0123abcd",
            "debug": False, "import_s": 1.12,
            "config": {"raw": "PyTorch built with:\n  - GCC 11.2\n  - Intel(R) oneAPI Math Kernel Library\n"
                              "  - Build settings: BLAS_INFO=mkl, USE_CUDA=OFF, USE_MKL=ON",
                       "build_settings": {"BLAS_INFO": "mkl", "LAPACK_INFO": "mkl", "USE_CUDA": "OFF",
                                          "USE_MKL": "ON", "USE_MKLDNN": "ON", "USE_OPENMP": "ON",
                                          "CXX_FLAGS": "-D_GLIBCXX_USE_CXX11_ABI=1 -fopenmp -O2"},
                       "mkl_version": "2024.2", "mkldnn_version": "3.7.1", "openmp": "GNU 4.5",
                       "compiler": "GCC 11.2"},
            "cpu_capability": "AVX512",
            "parallel": {"num_threads": 2, "num_interop_threads": 2, "backend": "OpenMP",
                         "omp_max_threads": 2, "mkl_max_threads": 2},
            "cuda": {"built_version": None, "available": False, "device_count": 0, "arch_list": [],
                     "cudnn_version": None, "nccl_version": None, "devices": []},
            "hip_version": None,
            "backends": {"matmul_allow_tf32": False, "cudnn_allow_tf32": True,
                         "float32_matmul_precision": "highest", "cudnn_benchmark": False,
                         "cudnn_deterministic": False, "cudnn_enabled": True, "deterministic_algorithms": False,
                         "mkldnn_enabled": True, "mkl_available": True, "openmp_available": True},
            "triton": {"installed": False, "version": None},
            "compile": {"usable": False, "reason": "no C compiler found"},
        },
        "tensorflow": {"installed": False},
        "jax": {"installed": False},
        "native_libs": {"source": "threadpoolctl", "libraries": [
            {"user_api": "blas", "internal_api": "openblas", "prefix": "libscipy_openblas64_",
             "version": "0.3.30", "architecture": "Haswell", "threading_layer": "pthreads", "num_threads": 2,
             "filepath": "<home>/envs/torch/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_.so"},
            {"user_api": "openmp", "internal_api": "openmp", "prefix": "libgomp", "version": None,
             "architecture": None, "threading_layer": None, "num_threads": 2,
             "filepath": "<home>/envs/torch/lib/python3.11/site-packages/torch/lib/libgomp.so.1"},
        ], "openmp_runtimes": ["libgomp"], "multiple_openmp": False},
        "gpus": {"available": False, "reason": "no NVIDIA driver (libnvidia-ml.so.1 not found)",
                 "driver_version": None, "cuda_driver_version": None, "count": 0, "devices": []},
    }


def _samples(median_s: float, n: int, spread: float, rng: random.Random) -> list[float]:
    return [median_s * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def _record(op, framework, device, dtype, shape, shape_key, unit, direction, flops, nbytes, median_s,
            rng, n=15, spread=0.03, variant=None, status="ok", reason=None, peak=None, best=None):
    from stackprof import stats
    bench_id = f"{op}/{framework}/{device}/{dtype}/{shape_key}" + (f"/{variant}" if variant else "")
    rec = {
        "id": bench_id, "op": op, "framework": framework, "device": device, "dtype": dtype, "shape": shape,
        "params": {}, "variant": variant, "unit": unit, "direction": direction,
        "work": {"flops": flops, "bytes": nbytes}, "samples_s": [], "inner": 4, "timing": "perf_counter",
        "method": {"name": "harness", "version": "1"}, "check": None, "status": status, "reason": reason,
        "task": {"probe": f"bench.{op}", "args": {"framework": framework, "dtype": dtype, **shape}},
        "stats": {"n": 0}, "value": None, "op_key": f"{op}/{device}/{dtype}", "peak": None,
        "pct_of_peak": None, "best_on_machine": None, "pct_of_best": None,
    }
    if status != "ok":
        return rec
    rec["samples_s"] = _samples(median_s, n, spread, rng)
    rec["stats"] = stats.summarize(rec["samples_s"])
    med = rec["stats"]["median_s"]
    work = flops if unit == "GFLOP/s" else nbytes
    rec["value"] = (work / med / 1e9) if direction == "higher" else med * 1e6
    rec["check"] = {"ok": True, "max_rel_err": 2e-6, "tol": 1e-4}
    if peak:
        rec["peak"] = {"value": peak, "unit": unit, "source": "cpu estimate: 1 core x 3.7 GHz x 32 FP32 FLOP/cycle"}
        rec["pct_of_peak"] = rec["value"] / peak
    if best:
        rec["best_on_machine"] = best
    return rec


def benchmarks(extra_gemm_shapes: int = 0, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    recs = []
    for n in (256, 1024, 2048):
        for fw, dtype, speed in (("torch", "fp32", 0.85), ("numpy", "fp32", 0.55), ("torch", "bf16", 0.40),
                                 ("numpy", "fp64", 0.30)):
            flops = 2.0 * n ** 3
            t = flops / (speed * 236.8e9 * (0.6 if n == 256 else 1.0))
            recs.append(_record("gemm", fw, "cpu", dtype, {"m": n, "n": n, "k": n}, f"{n}x{n}x{n}", "GFLOP/s",
                                "higher", flops, 3 * 4 * n * n, t, rng, peak=236.8 if dtype == "fp32" else 473.6
                                if dtype == "bf16" else 118.4))
    for i in range(extra_gemm_shapes):
        n = 128 + 64 * i
        flops = 2.0 * n ** 3
        recs.append(_record("gemm", "torch", "cpu", "fp32", {"m": n, "n": n, "k": n}, f"{n}x{n}x{n}", "GFLOP/s",
                            "higher", flops, 12 * n * n, flops / 150e9, rng, n=50, peak=236.8))
    for size in (2**12, 2**16, 2**20, 2**24, 2**27):
        for fw in ("torch", "numpy"):
            bw = 60e9 if size < 2**21 else 14e9
            recs.append(_record("copy", fw, "cpu", "fp32", {"bytes": size}, str(size), "GB/s", "higher",
                                None, 2.0 * size, 2.0 * size / (bw * (0.9 if fw == "numpy" else 1.0)), rng,
                                peak=None))
    recs.append(_record("launch", "torch", "cpu", "fp32", {}, "empty", "us", "lower", None, None, 4e-6, rng,
                        spread=0.25))
    recs.append(_record("gemm", "torch", "cuda:0", "fp16", {"m": 4096, "n": 4096, "k": 4096}, "4096x4096x4096",
                        "GFLOP/s", "higher", 2.0 * 4096 ** 3, None, 0, rng, status="skipped",
                        reason="no CUDA device"))
    recs.append(_record("conv2d", "torch", "cpu", "fp32", {"n": 8, "c": 64, "hw": 56}, "8x64x56",
                        "GFLOP/s", "higher", 1e9, None, 0, rng, status="failed",
                        reason="RuntimeError: mkldnn convolution failed"))
    _best_on_machine(recs)
    return recs


def _best_on_machine(recs: list[dict]) -> None:
    """What bench.finish() does: per op_key, the best value, and each record's share of it."""
    best: dict[str, dict] = {}
    for r in recs:
        if r["status"] == "ok" and r["direction"] == "higher":
            key = (r["op_key"], str(sorted(r["shape"].items())))
            if key not in best or r["value"] > best[key]["value"]:
                best[key] = r
    for r in recs:
        key = (r["op_key"], str(sorted(r["shape"].items())))
        if r["status"] == "ok" and key in best:
            r["best_on_machine"] = {"id": best[key]["id"], "value": best[key]["value"]}
            r["pct_of_best"] = r["value"] / best[key]["value"]


def headline(recs: list[dict]) -> dict:
    comps = [{"op_key": r["op_key"], "id": r["id"], "pct_of_best": r["pct_of_best"]}
             for r in recs if r.get("pct_of_best") and r["op"] == "gemm" and "2048" in r["id"]]
    score = math.exp(sum(math.log(c["pct_of_best"]) for c in comps) / len(comps)) if comps else None
    return {"score": score, "text": f"this environment reaches {score:.0%} of the best this machine achieved"
            if score else "no benchmark", "method": "geometric mean over key kernels of achieved / best on this "
            "machine for the same operation and dtype", "components": comps}


def findings() -> list[dict]:
    return [
        {"id": "A5", "severity": "high", "title": "numpy's OpenBLAS is pinned to the Haswell kernels on an "
         "AVX-512 CPU", "evidence": [{"fact": "env_vars.vars.OPENBLAS_CORETYPE", "value": "Haswell"},
                                     {"fact": "system.cpu.isa_level", "value": "avx512"},
                                     {"benchmark": "gemm/numpy/cpu/fp32/2048x2048x2048", "value": 130.2,
                                      "unit": "GFLOP/s", "pct_of_best": 0.639, "pct_of_peak": 0.555,
                                      "peak": {"value": 236.8, "unit": "GFLOP/s", "source": "estimate"}}],
         "impact": {"kind": "measured", "ratio": 1.38, "text": "GEMM fp32 1.38x faster without the override"},
         "fix": "unset OPENBLAS_CORETYPE", "references": ["numpy/numpy#15764",
                                                          "https://github.com/OpenMathLib/OpenBLAS/wiki/Faq"],
         "ab": False,
         "experiment": {"env": {"OPENBLAS_CORETYPE": None}, "benchmarks": ["gemm/numpy/cpu/fp32/2048x2048x2048"],
                        "description": "re-run the numpy GEMM with OPENBLAS_CORETYPE unset"},
         "verification": {"status": "confirmed", "before": {"median_s": 0.1319, "value": 130.2, "unit": "GFLOP/s"},
                          "after": {"median_s": 0.0956, "value": 179.7, "unit": "GFLOP/s"}, "ratio": 1.38,
                          "ci": [1.31, 1.45], "p_value": 0.0002, "geomean_ratio": 1.38,
                          "note": "gemm/numpy/cpu/fp32/2048x2048x2048: 1.38× (confirmed)",
                          "benchmarks": [{"id": "gemm/numpy/cpu/fp32/2048x2048x2048", "status": "confirmed",
                                          "ratio": 1.38, "ci": [1.31, 1.45], "p_value": 0.0002,
                                          "round_ratios": [1.37, 1.39], "n": [15, 15]}],
                          "env": {"OPENBLAS_CORETYPE": None}, "rounds": 2, "elapsed_s": 3.1},
         "status": "confirmed"},
        {"id": "C4", "severity": "medium", "title": "two OpenMP runtimes could be loaded",
         "evidence": [{"fact": "native_libs.openmp_runtimes", "value": ["libgomp", "libiomp5"]}],
         "impact": {"kind": "estimated", "ratio": 1.2, "text": "oversubscription up to 20% (reported)",
                    "source": "pytorch/pytorch#119374"},
         "fix": "export KMP_DUPLICATE_LIB_OK is NOT a fix; install both from one channel", "references": [],
         "ab": True, "experiment": None, "verification": None, "status": "suspected"},
        {"id": "A9", "severity": "low", "title": "torch thread count below the CPU quota",
         "evidence": [{"fact": "torch.parallel.num_threads", "value": 1}], "impact": {"kind": "measured",
                                                                                      "ratio": 1.01},
         "fix": "torch.set_num_threads(2)", "references": [], "ab": False,
         "experiment": {"env": {"OMP_NUM_THREADS": "2"}, "benchmarks": ["gemm/torch/cpu/fp32/1024x1024x1024"],
                        "description": "re-run with OMP_NUM_THREADS=2"},
         "verification": {"status": "no_effect", "before": {"value": 200.0, "unit": "GFLOP/s"},
                          "after": {"value": 202.0, "unit": "GFLOP/s"}, "ratio": 1.01,
                          "ci": [0.97, 1.05], "p_value": 0.41, "note": "no measurable difference"},
         "status": "not_confirmed"},
        {"id": "M3", "severity": "info", "title": "launch benchmark noisy, result unreliable",
         "evidence": [{"benchmark": "launch/torch/cpu/fp32/empty", "iqr_rel": 0.31}], "impact": {},
         "fix": "close other programs and re-run", "references": [], "ab": False, "experiment": None,
         "verification": None, "status": "info"},
    ]


def full_run(**bench_kwargs) -> Run:
    recs = benchmarks(**bench_kwargs)
    run = Run(label="torch-env", environment=environment(), benchmarks=recs, findings=findings(),
              headline=headline(recs), target={"python": "<home>/envs/torch/bin/python", "version": "3.11.7"},
              options={"mode": "quick", "redact": True}, timings={"probe_s": 2.1, "bench_s": 11.4, "total_s": 16.0})
    run.add_error("probe", "facts.tensorflow", "ImportError: libcudart.so.12: cannot open shared object file")
    return run


def probe_only_run() -> Run:
    return Run(label="probe-only", environment=environment(), options={"mode": "probe", "redact": True})


def broken_env_run() -> Run:
    """Sections that failed or came back partial, as collect._store writes them."""
    env = environment()
    env["torch"] = {"status": "error", "error": "timeout after 120 s in facts.torch"}
    env["numpy"] = {"installed": True, "import_error": "ImportError: numpy core failed", "errors": ["x"]}
    del env["gpus"]
    run = Run(label="broken", environment=env, options={"mode": "probe"})
    run.add_error("probe", "facts.torch", "timeout after 120 s", kind="timeout")
    return run


def with_strings(run: Run, text: str) -> Run:
    """Copy of run with `text` planted in every place the environment and results feed strings from."""
    run = Run.from_dict(copy.deepcopy(run.to_dict()))
    env = run.environment
    env["packages"]["distributions"].append(
        {"name": text, "version": text, "installer": text, "local_version": text, "location_kind": text,
         "editable": False, "direct_url": text, "requested": None, "conda": {"channel": text, "build": text}})
    env["env_vars"]["vars"][text] = text
    env["env_vars"]["vars"]["OMP_PLANTED"] = text
    env["system"]["cpu"]["model"] = text
    env["system"]["os"]["distro"] = text
    env["torch"]["config"]["build_settings"]["CXX_FLAGS"] = text
    env["torch"]["config"]["raw"] = text
    env["native_libs"]["libraries"][0]["filepath"] = text
    env["python"]["version"] = text
    env["extra_" + text] = {text: text}
    run.label = text
    b = run.benchmarks[0]
    b["reason"] = text
    b["id"] = text + b["id"]
    run.benchmarks[-1]["reason"] = text
    f = run.findings[0]
    f["title"] = text
    f["fix"] = text
    f["evidence"].append({"fact": text, "value": text})
    f["references"].append(text)
    f["verification"]["note"] = text
    run.headline["text"] = text
    run.add_error("probe", text, text)
    return run


def gpu_run() -> Run:
    """A run shaped like one on a GPU machine (contract A `gpus`, CUDA benchmark records). Hand-made:
    this machine has no GPU, so no figure here is a measurement."""
    run = full_run()
    run.environment["gpus"] = {
        "available": True, "reason": None, "driver_version": "570.86.15", "cuda_driver_version": "12.8",
        "count": 2, "devices": [
            {"index": i, "name": "NVIDIA H100 80GB HBM3", "uuid": "<gpu-uuid>", "bus_id": f"00000000:{i + 1:02x}:00.0",
             "memory_total_bytes": 85899345920, "clocks": {"sm_mhz": 1980, "sm_max_mhz": 1980, "mem_mhz": 2619,
                                                            "mem_max_mhz": 2619},
             "power": {"draw_w": 120.5, "limit_w": 700.0, "default_limit_w": 700.0}, "throttle_reasons": [],
             "pcie": {"gen": 5, "gen_max": 5, "width": 16, "width_max": 16}, "persistence_mode": True,
             "ecc_enabled": True, "mig_mode": False, "temperature_c": 34, "numa_node": 0,
             "cpu_affinity": [0, 1], "nvlink": None} for i in range(2)]}
    run.environment["torch"]["cuda"] = {"built_version": "12.8", "available": True, "device_count": 2,
                                        "arch_list": ["sm_80", "sm_90"], "cudnn_version": 90100,
                                        "nccl_version": "2.26.2", "devices": []}
    rng = random.Random(3)
    for n in (4096, 8192):
        for dtype, tflops in (("bf16", 700.0), ("fp16", 690.0), ("fp32", 50.0)):
            flops = 2.0 * n ** 3
            rec = _record("gemm", "torch", "cuda:0", dtype, {"m": n, "n": n, "k": n}, f"{n}x{n}x{n}", "GFLOP/s",
                          "higher", flops, 6.0 * n * n, flops / (tflops * 1e12), rng, peak=989e3 if dtype != "fp32"
                          else 67e3)
            rec["timing"] = "cuda_event"
            run.benchmarks.append(rec)
    for size in (2**20, 2**26, 2**30):
        run.benchmarks.append(_record("h2d", "torch", "cuda:0", "u8", {"bytes": size}, f"{size}B", "GB/s", "higher",
                                      None, float(size), size / 50e9, rng, variant="pinned"))
    _best_on_machine(run.benchmarks)
    return run

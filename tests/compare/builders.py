"""Hand-built Runs for the comparison unit tests, shaped by contracts A (environment) and B (benchmark
records). Timing samples are either drawn from a seeded distribution (to pin the decision logic
down exactly) or measured from real numpy matmuls (``measured_samples``)."""
from __future__ import annotations

import copy
import random
import time

from stackprof.model import Run


def environment() -> dict:
    return {
        "system": {
            "os": {"name": "Linux", "kernel": "6.8.0", "distro": "Debian GNU/Linux 12", "arch": "x86_64"},
            "affinity": {"cpus": [0, 1], "count": 2}, "os_cpu_count": 2,
            "cgroup": {"version": 2, "cpu_quota_cores": None, "memory_limit_bytes": None,
                       "throttling": {"nr_periods": 10, "nr_throttled": 0}},
            "cpu": {"vendor": "AuthenticAMD", "model": "AMD EPYC", "family": 26, "isa_level": "avx512",
                    "flags": {"avx2": True, "avx512f": True, "fma": True}, "logical_cpus": 2, "physical_cores": 2,
                    "threads_per_core": 1, "sockets": 1, "numa_nodes": 1, "max_mhz": None, "cur_mhz": 2595.1,
                    "governor": None, "llc_bytes": 33554432, "hybrid": None},
            "thp": {"enabled": "always", "defrag": "madvise"},
            "memory": {"total_bytes": 25769803776, "available_bytes": 20000000000},
        },
        "python": {"version": "3.11.7", "implementation": "CPython", "executable": "/venvs/a/bin/python",
                   "env_kind": "venv", "debug_build": False, "free_threaded": False},
        "env_vars": {"vars": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}, "dropped_secret": []},
        "packages": {"count": 3, "distributions": [
            {"name": "numpy", "version": "2.4.6", "installer": "pip", "location_kind": "site-packages",
             "editable": False, "direct_url": None, "requested": True, "conda": None},
            {"name": "threadpoolctl", "version": "3.6.0", "installer": "pip", "location_kind": "site-packages",
             "editable": False, "direct_url": None, "requested": True, "conda": None},
            {"name": "requests", "version": "2.32.3", "installer": "pip", "location_kind": "site-packages",
             "editable": False, "direct_url": None, "requested": True, "conda": None},
        ]},
        "numpy": {"installed": True, "version": "2.4.6", "blas": {"name": "scipy-openblas", "version": "0.3.31"},
                  "simd": {"baseline": ["SSE", "SSE2"], "found": ["AVX2", "AVX512F"], "not_found": []}},
        "torch": {"installed": False},
        "native_libs": {"source": "threadpoolctl", "multiple_openmp": False, "openmp_runtimes": [],
                        "libraries": [{"user_api": "blas", "internal_api": "openblas", "prefix": "libscipy_openblas",
                                       "version": "0.3.31.188.0", "architecture": "Haswell",
                                       "threading_layer": "pthreads", "num_threads": 2,
                                       "filepath": "/venvs/a/numpy.libs/libscipy_openblas64_.so"}]},
        "gpus": {"available": False, "reason": "no NVIDIA driver", "count": 0, "devices": []},
    }


def samples(median_s: float, n: int = 30, spread: float = 0.02, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [median_s * (1 + rng.gauss(0, spread)) for _ in range(n)]


def measured_samples(size: int, n: int = 25) -> list[float]:
    """Per-call seconds of a real numpy multiply-add over ``size`` float32 elements (single-threaded:
    a 2-thread BLAS call on a busy 2-core machine waits for scheduler time slices, not for work)."""
    import numpy as np
    rng = np.random.default_rng(size)
    a, b = rng.random(size, dtype=np.float32), rng.random(size, dtype=np.float32)
    c = np.empty_like(a)
    np.multiply(a, b, out=c)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        np.multiply(a, b, out=c)
        np.add(c, a, out=c)
        out.append(time.perf_counter() - start)
    return out


def record(bench_id: str = "gemm/numpy/cpu/fp32/512x512x512", samples_s: list[float] | None = None, **over) -> dict:
    op = over.pop("op", bench_id.split("/")[0])
    rec = {
        "id": bench_id, "op": op, "framework": bench_id.split("/")[1] if "/" in bench_id else "numpy",
        "device": "cpu", "dtype": "fp32", "shape": {"m": 512, "n": 512, "k": 512}, "params": {}, "variant": None,
        "unit": "GFLOP/s", "direction": "higher", "work": {"flops": 2 * 512 ** 3, "bytes": None},
        "samples_s": samples_s if samples_s is not None else samples(0.01), "inner": 1, "timing": "perf_counter",
        "method": {"name": "gemm", "version": "1"}, "check": {"ok": True, "max_rel_err": 1e-6, "tol": 1e-4},
        "status": "ok", "reason": None, "task": {"probe": "bench.gemm", "args": {}},
        "op_key": f"{op}/cpu/fp32", "peak": {"value": 500.0, "unit": "GFLOP/s", "source": "estimate"},
    }
    rec.update(over)
    if rec["samples_s"] and rec["direction"] == "higher" and (rec["work"] or {}).get("flops"):
        med = sorted(rec["samples_s"])[len(rec["samples_s"]) // 2]
        rec.setdefault("value", rec["work"]["flops"] / med / 1e9)
        rec["pct_of_peak"] = rec["value"] / rec["peak"]["value"]          # a fraction, as bench.finish writes it
    return rec


def run(label: str = "a", env: dict | None = None, benchmarks: list[dict] | None = None, **over) -> Run:
    return Run(label=label, environment=copy.deepcopy(env if env is not None else environment()),
               benchmarks=benchmarks if benchmarks is not None else [record()],
               target={"python": "/venvs/a/bin/python", "version": "3.11.7"}, options={"mode": "quick"}, **over)


def skylake_environment() -> dict:
    """The same venv run with OPENBLAS_CORETYPE unset: OpenBLAS picks its AVX-512 kernels."""
    env = environment()
    del env["env_vars"]["vars"]["OPENBLAS_CORETYPE"]
    env["native_libs"]["libraries"][0]["architecture"] = "SkylakeX"
    return env

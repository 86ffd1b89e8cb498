"""A. BLAS / LAPACK / OpenMP layer (catalogue A1–A10)."""
from __future__ import annotations

import re

from stackprof.rules.facts import OPENBLAS_CORE_ISA, Facts, as_number, isa_rank, truthy_env
from stackprof.rules.findings import bench, estimated, experiment, fact, make, measured
from stackprof.rules.registry import rule

BLAS_OPS = {"gemm", "gemv", "matmul", "solve", "svd", "cholesky", "lu"}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REFERENCE_BLAS = re.compile(r"^(c?blas|refblas|netlib|reference|blas-?reference|generic)$", re.I)


def blas_frameworks(facts: Facts, lib: dict) -> set[str]:
    """Which benchmarked frameworks run on this BLAS library (by where it was loaded from)."""
    folders = str(lib.get("filepath") or "").lower().split("/")[-4:-1]     # e.g. numpy.libs, torch/lib
    found = {name for name in ("numpy", "scipy", "torch") for d in folders if d in (name, f"{name}.libs")}
    if not found:
        found = {"numpy", "scipy"}
    if facts.torch_setting("BLAS_INFO") == lib.get("internal_api"):
        found.add("torch")
    return found


def thread_experiment(facts: Facts, threads: int, records_fw: set[str], why: str) -> dict | None:
    env = dict.fromkeys(THREAD_VARS, str(threads))
    return experiment(env, facts.benchmarks(op=BLAS_OPS, framework=records_fw, device="cpu"), why)


@rule("A1", "numpy/scipy built against an unoptimized BLAS")
def a1_reference_blas(facts: Facts):
    if not facts.installed("numpy"):
        return None
    name = facts.get("numpy.blas.name")
    evidence = []
    if isinstance(name, str) and REFERENCE_BLAS.match(name.strip()):
        evidence.append(fact("numpy.blas.name", name))
    elif (facts.get("native_libs.source") == "threadpoolctl" and facts.get("numpy.version")
          and not facts.native_libs(user_api="blas") and facts.list("native_libs.libraries")):
        evidence.append(fact("native_libs.libraries", "no BLAS library loaded by numpy"))
    if not evidence:
        return None
    for rec in facts.benchmarks(op="gemm", framework="numpy", device="cpu"):
        if rec.get("pct_of_peak") is not None:
            evidence.append(bench(rec, pct_of_peak=rec["pct_of_peak"]))
    return make(
        "A1", "high", f"numpy uses an unoptimized BLAS ({name or 'none found'})", evidence=evidence,
        impact=estimated("np.dot 1000×1000: 6.6 s without an optimized BLAS vs 111 ms with one (~60×)",
                         "easybuilders/easybuild-easyblocks#190", 60.0),
        fix="Install numpy from a wheel (pip install --force-reinstall numpy), which bundles OpenBLAS, or "
            "point libblas.so.3 at OpenBLAS/MKL (update-alternatives --config libblas.so.3).",
        references=["easybuilders/easybuild-easyblocks#190", "numpy/numpy#19530", "berkeley-stat/bce#21",
                    "OpenMathLib/OpenBLAS#1033", "samuelstjean/nlsam#10"])


@rule("A2", "BLAS/OpenMP thread pools larger than the machine")
def a2_oversubscription(facts: Facts):
    cpus = facts.os_cpus()
    if not cpus:
        return None
    over = [(name, path, n) for name, path, n in facts.thread_pools() if n > cpus]
    over_env = {k: v for k, v in facts.env_set(*THREAD_VARS).items() if (as_number(v) or 0) > cpus}
    if not over and not over_env:
        return None
    effective, cpu_evidence = facts.effective_cpus()
    evidence = [fact(path, n) for _, path, n in over] + [fact(f"env_vars.vars.{k}", v) for k, v in over_env.items()]
    evidence += [fact("system.os_cpu_count", cpus)] + cpu_evidence
    most = max([n for _, _, n in over] + [int(as_number(v)) for v in over_env.values()])
    return make(
        "A2", "high", f"{most} threads for {cpus} CPUs: thread pools oversubscribe the machine", evidence=evidence,
        impact=estimated("10× solve(512²) on 32 CPUs: 74 ms with 1 thread vs 1.42 s with all (~19×)",
                         "numpy/numpy#15764", 19.0),
        fix=f"Set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS to at most {effective or cpus} "
            "(divide by the number of worker processes), or use threadpoolctl.threadpool_limits().",
        references=["numpy/numpy#15764", "OpenMathLib/OpenBLAS#1881", "mir-evaluation/mir_eval#326",
                    "ContinuumIO/anaconda-issues#593", "insarlab/MintPy#620"],
        experiment=thread_experiment(facts, effective or cpus, {"numpy", "scipy", "torch"},
                                     f"thread pools capped at {effective or cpus}"))


@rule("A3", "thread count includes efficiency cores")
def a3_hybrid_cores(facts: Facts):
    p_cores, e_cores = facts.num("system.cpu.hybrid.p_cores"), facts.num("system.cpu.hybrid.e_cores")
    if not p_cores or not e_cores:
        return None
    over = [(name, path, n) for name, path, n in facts.thread_pools() if n > p_cores]
    if not over:
        return None
    return make(
        "A3", "medium", f"thread pools use {max(n for *_, n in over)} threads on a CPU with {int(p_cores)} "
        f"performance cores and {int(e_cores)} efficiency cores",
        evidence=[fact("system.cpu.hybrid", facts.get("system.cpu.hybrid"))] + [fact(p, n) for _, p, n in over],
        impact=estimated("Core Ultra 7 linalg.inv: 0.18 s at 6 threads vs 33 s at 22 threads",
                         "numpy/numpy#27174", None),
        fix=f"Limit BLAS/OpenMP threads to the performance cores: OMP_NUM_THREADS={int(p_cores)} "
            "(or bind with taskset to the P-cores).",
        references=["numpy/numpy#27174", "joryirving/home-ops#9050", "numpy/numpy#17807"],
        experiment=thread_experiment(facts, int(p_cores), {"numpy", "scipy", "torch"},
                                     f"threads limited to the {int(p_cores)} P-cores"))


SPIN_VARS = {"OMP_WAIT_POLICY": lambda v: v.strip().lower() == "active",
             "GOMP_SPINCOUNT": lambda v: v.strip().lower() == "infinite" or (as_number(v) or 0) > 3e8,
             "KMP_BLOCKTIME": lambda v: v.strip().lower() == "infinite" or (as_number(v) or 0) > 1000}


@rule("A4", "idle BLAS/OpenMP threads busy-spin")
def a4_busy_spin(facts: Facts):
    spinning = {k: v for k, v in facts.env_set(*SPIN_VARS).items() if SPIN_VARS[k](v)}
    if not spinning:
        return None
    evidence = [fact(f"env_vars.vars.{k}", v) for k, v in spinning.items()]
    pthreads = [(p, lib) for p, lib in facts.native_libs(internal_api="openblas")
                if lib.get("threading_layer") == "pthreads" and (as_number(lib.get("num_threads")) or 0) > 1]
    omp = facts.native_libs(user_api="openmp")
    if pthreads and omp:
        evidence.append(fact(f"{pthreads[0][0]}.threading_layer", "pthreads (alongside an OpenMP runtime)"))
    return make(
        "A4", "medium", "OpenMP threads are told to spin while idle (" + ", ".join(f"{k}={v}" for k, v in spinning.items()) + ")",
        evidence=evidence,
        impact=estimated("sleep(5) with 2 spinning threads: 4.95 s user + 11.9 s sys CPU vs 0.54 s",
                         "numpy/numpy#6237", None),
        fix="Unset " + ", ".join(spinning) + " (the defaults yield idle threads after a short spin); "
            "for mixed numpy/torch workloads also consider OMP_WAIT_POLICY=PASSIVE.",
        references=["numpy/numpy#6237", "numpy/numpy#12220", "scikit-learn/scikit-learn#17334"],
        experiment=experiment(dict.fromkeys(spinning), facts.benchmarks(framework="torch", device="cpu"),
                              "spin settings removed"))


def _openblas_arch(facts: Facts):
    for path, lib in facts.native_libs(internal_api="openblas"):
        core = str(lib.get("architecture") or "")
        if core.lower() in OPENBLAS_CORE_ISA:
            return path, lib, core
    return None


def _coretype_env(facts: Facts) -> dict:
    return facts.env_set("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@rule("A5", "OpenBLAS uses a generic or mis-detected kernel")
def a5_openblas_generic(facts: Facts):
    found, cpu = _openblas_arch(facts), facts.cpu_isa()
    if not found or isa_rank(cpu) is None:
        return None
    path, lib, core = found
    kernel = OPENBLAS_CORE_ISA[core.lower()]
    if isa_rank(kernel) >= isa_rank(cpu) or (kernel == "avx2" and cpu == "avx512"):
        return None                                 # matching, or the AVX2-on-AVX-512 A/B case (A6)
    forced = _coretype_env(facts)
    best = {"avx512": "SkylakeX", "avx2": "Haswell", "avx": "Sandybridge"}.get(cpu, "Nehalem")
    env = dict.fromkeys(forced) if "OPENBLAS_CORETYPE" in forced else {"OPENBLAS_CORETYPE": best}
    evidence = [fact(f"{path}.architecture", core), fact("system.cpu.isa_level", cpu)]
    evidence += [fact(f"env_vars.vars.{k}", v) for k, v in forced.items()]
    return make(
        "A5", "high", f"OpenBLAS runs its {core} ({kernel}) kernels on a CPU with {cpu}", evidence=evidence,
        impact=estimated("OPENBLAS_CORETYPE fix doubled matmul speed on a mis-detected CPU",
                         "OpenMathLib/OpenBLAS#701", 2.0),
        fix=("Unset " + " and ".join(forced) if "OPENBLAS_CORETYPE" in forced else
             f"Set OPENBLAS_CORETYPE={best} (OpenBLAS does not recognise this CPU; a newer numpy/OpenBLAS may)") + ".",
        references=["OpenMathLib/OpenBLAS#701", "OpenMathLib/OpenBLAS#2067", "PaddlePaddle/Paddle#16470",
                    "pytorch/pytorch#157538", "numpy/numpy#18471"],
        experiment=experiment(env, facts.benchmarks(op=BLAS_OPS, framework=blas_frameworks(facts, lib), device="cpu"),
                              "OpenBLAS left to pick its kernel" if "OPENBLAS_CORETYPE" in forced
                              else f"OpenBLAS forced to its {best} kernels"))


@rule("A6", "AVX-512 CPU running AVX2 (Haswell) OpenBLAS kernels")
def a6_haswell_on_avx512(facts: Facts):
    found = _openblas_arch(facts)
    if not found or facts.cpu_isa() != "avx512":
        return None
    path, lib, core = found
    if OPENBLAS_CORE_ISA[core.lower()] != "avx2":
        return None
    forced = _coretype_env(facts)
    if "OPENBLAS_CORETYPE" in forced:
        env, what = dict.fromkeys(forced), "unset " + " and ".join(forced)
        fix = f"Unset {' and '.join(forced)}: they force the {core} kernels on an AVX-512 CPU (keep them only " \
              "if the A/B below shows the AVX-512 kernels are slower here)."
    else:
        env, what = {"OPENBLAS_CORETYPE": "SkylakeX"}, "OPENBLAS_CORETYPE=SkylakeX"
        fix = "If the A/B below shows SkylakeX kernels faster, export OPENBLAS_CORETYPE=SkylakeX " \
              "(or upgrade numpy/OpenBLAS so it detects this CPU)."
    evidence = [fact(f"{path}.architecture", core), fact("system.cpu.flags.avx512f", True),
                fact(f"{path}.version", lib.get("version"))] + [fact(f"env_vars.vars.{k}", v) for k, v in forced.items()]
    return make(
        "A6", "medium", f"OpenBLAS uses {core} (AVX2) kernels on an AVX-512 CPU"
        + (" because OPENBLAS_CORETYPE forces them" if "OPENBLAS_CORETYPE" in forced else ""),
        evidence=evidence,
        impact=estimated("SkylakeX (AVX-512) SGEMM kernel +30–40% over Haswell; AVX-512 may lower clocks",
                         "OpenMathLib/OpenBLAS#1589", 1.35),
        fix=fix, ab=True,
        references=["OpenMathLib/OpenBLAS#1589", "OpenMathLib/OpenBLAS#2173", "numpy/numpy#14305",
                    "numpy/numpy#27147", "MacPython/numpy-wheels#46", "NixOS/nixpkgs#59708"],
        experiment=experiment(env, facts.benchmarks(op=BLAS_OPS, framework=blas_frameworks(facts, lib), device="cpu"),
                              f"GEMM re-run with {what}"))


@rule("A7", "Intel MKL on an AMD CPU")
def a7_mkl_on_amd(facts: Facts):
    if facts.vendor() != "AuthenticAMD":
        return None
    users = []
    if facts.native_libs(internal_api="mkl"):
        users += [fw for fw in ("numpy", "scipy") if facts.installed(fw) or fw == "numpy"]
    if facts.torch_setting("BLAS_INFO") == "mkl":
        users.append("torch")
    if not users:
        return None
    evidence = [fact("system.cpu.vendor", "AuthenticAMD")]
    evidence += [fact(f"{p}.version", lib.get("version")) for p, lib in facts.native_libs(internal_api="mkl")]
    if "torch" in users:
        evidence.append(fact("torch.config.build_settings.BLAS_INFO", "mkl"))
    # Measure both: MKL's GEMM against the best library on this machine, and SGEMM/DGEMM balance.
    slow = []
    for rec in facts.benchmarks(op="gemm", framework=set(users), device="cpu"):
        pct = rec.get("pct_of_best")
        if isinstance(pct, (int, float)):
            evidence.append(bench(rec, pct_of_best=pct))
            if pct < 0.8:
                slow.append(rec)
    measured_any = any("pct_of_best" in e for e in evidence if isinstance(e, dict))
    if measured_any and not slow:
        return None                               # measured: MKL is as fast as the best library here
    impact = (measured(1 / min(r["pct_of_best"] for r in slow),
                       f"MKL GEMM reaches {min(r['pct_of_best'] for r in slow):.0%} of the best library here",
                       [r["id"] for r in slow]) if slow else
              estimated("MKL 2020.2 on Ryzen 3700X: SGEMM 237 GF/s (generic path) vs DGEMM 383 GF/s",
                        "https://danieldk.eu/Posts/2020-08-31-MKL-Zen.html", 1.6))
    return make(
        "A7", "medium" if slow else "low", f"Intel MKL ({', '.join(sorted(set(users)))}) on an AMD CPU",
        evidence=evidence, impact=impact, ab=True,
        fix="Compare with an OpenBLAS/BLIS build (pip numpy uses OpenBLAS; conda: blas=*=openblas); "
            "MKL ≥ 2020.1 ignores MKL_DEBUG_CPU_TYPE.",
        references=["flame/blis#312", "https://danieldk.eu/Posts/2020-08-31-MKL-Zen.html",
                    "ContinuumIO/anaconda-issues#11993", "https://docs.nersc.gov/development/languages/python/python-amd/",
                    "ecmwf/ecbuild#160", "pytorch/pytorch#38412"])


ISA_CAP_VARS = ("MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA")


def cap_isa(value: str) -> str | None:
    """ISA level an MKL/oneDNN cap value allows (AVX2, AVX512_CORE, SSE4_2, COMPATIBLE…)."""
    v = value.strip().lower().split(",")[0]
    if v in ("all", "auto", "default", ""):
        return None
    for key, level in (("avx512", "avx512"), ("amx", "avx512"), ("avx10", "avx512"), ("avx2", "avx2"),
                       ("avx", "avx"), ("sse4", "sse4_2"), ("sse", "generic"), ("compatible", "generic")):
        if key in v:
            return level
    return None


@rule("A8", "ISA capped by an environment variable")
def a8_isa_capped(facts: Facts):
    cpu = facts.cpu_isa()
    if isa_rank(cpu) is None:
        return None
    capped = {k: v for k, v in facts.env_set(*ISA_CAP_VARS).items()
              if isa_rank(cap_isa(v)) is not None and isa_rank(cap_isa(v)) < isa_rank(cpu)}
    if not capped:
        return None
    users = {"torch"} | ({"numpy", "scipy"} if facts.native_libs(internal_api="mkl") else set())
    return make(
        "A8", "high", "MKL/oneDNN capped below this CPU's " + cpu + ": " + ", ".join(f"{k}={v}" for k, v in capped.items()),
        evidence=[fact(f"env_vars.vars.{k}", v) for k, v in capped.items()] + [fact("system.cpu.isa_level", cpu)],
        impact=estimated("MKL FFT 27.5 s with MKL_ENABLE_INSTRUCTIONS=AVX2 vs 16.9 s with AVX-512 (~1.6×)",
                         "easybuilders/easybuild-easyblocks#1416", 1.6),
        fix="Unset " + ", ".join(capped) + ".",
        references=["easybuilders/easybuild-easyblocks#1416", "uxlfoundation/oneDNN#829", "PaddlePaddle/Paddle#16470"],
        experiment=experiment(dict.fromkeys(capped), facts.benchmarks(framework=users, device="cpu"),
                              "ISA caps removed"))


@rule("A9", "several OpenMP runtimes in one process")
def a9_multiple_openmp(facts: Facts):
    runtimes = [r for r in facts.list("native_libs.openmp_runtimes") if isinstance(r, str)]
    dup_ok = facts.env("KMP_DUPLICATE_LIB_OK")
    multiple = facts.true("native_libs.multiple_openmp") or len(set(runtimes)) > 1
    if not multiple and not truthy_env(dup_ok):
        return None
    evidence = []
    if multiple:
        evidence.append(fact("native_libs.openmp_runtimes", runtimes))
    if truthy_env(dup_ok):
        evidence.append(fact("env_vars.vars.KMP_DUPLICATE_LIB_OK", dup_ok))
    return make(
        "A9", "high" if truthy_env(dup_ok) else "medium",
        ("several OpenMP runtimes loaded: " + ", ".join(sorted(set(runtimes)))) if multiple
        else "KMP_DUPLICATE_LIB_OK hides a duplicate OpenMP runtime", evidence=evidence,
        impact=estimated("oneDNN maintainer: mixing two OpenMP runtimes can give \"huge performance penalties\" "
                         "(no number quoted)", "uxlfoundation/oneDNN#230"),
        fix="Use packages built against one OpenMP runtime (all pip or all conda-forge); with MKL set "
            "MKL_THREADING_LAYER=GNU; do not rely on KMP_DUPLICATE_LIB_OK=TRUE.",
        references=["uxlfoundation/oneDNN#230", "joblib/threadpoolctl multiple_openmp.md", "eddelbuettel/mkl4deb#2",
                    "peterwittek/somoclu#135"])


@rule("A10", "MKL threading layer sequential or wrong")
def a10_mkl_threading(facts: Facts):
    cpus, _ = facts.effective_cpus()
    layer_env = facts.env("MKL_THREADING_LAYER")
    seq = [(p, lib) for p, lib in facts.native_libs(internal_api="mkl")
           if str(lib.get("threading_layer") or "").lower() == "sequential"]
    env_seq = layer_env is not None and layer_env.strip().lower() == "sequential"
    if not (seq or env_seq) or not cpus or cpus < 2:
        return None
    evidence = [fact(f"{p}.threading_layer", "sequential") for p, _ in seq]
    if env_seq:
        evidence.append(fact("env_vars.vars.MKL_THREADING_LAYER", layer_env))
    return make(
        "A10", "high", f"MKL runs single-threaded (sequential layer) on {cpus} CPUs", evidence=evidence,
        impact=estimated("MKL 1024² matmul: 17.3 ms sequential vs 4.9 ms with OpenMP (~3.5×)",
                         "opencv/opencv#9068", 3.5),
        fix="Unset MKL_THREADING_LAYER (or set it to GNU/INTEL) and install the threaded MKL (mkl, not mkl-sequential).",
        references=["opencv/opencv#9068", "uxlfoundation/oneTBB#190"],
        experiment=experiment({"MKL_THREADING_LAYER": None} if env_seq else {},
                              facts.benchmarks(op=BLAS_OPS, device="cpu"), "MKL threading layer left to default"))

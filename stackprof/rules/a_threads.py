"""A. BLAS/OpenMP thread pools: oversubscription, hybrid cores, spinning, duplicate runtimes,
sequential MKL (catalogue A2–A4, A9, A10)."""
from __future__ import annotations

from stackprof.rules.a_blas import BLAS_OPS
from stackprof.rules import provenance as prov
from stackprof.rules.facts import Facts, as_number, truthy_env
from stackprof.rules.findings import estimated, experiment, fact, graded, make
from stackprof.rules.registry import rule

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_experiment(facts: Facts, threads: int, records_fw: set[str], why: str) -> dict | None:
    """Thread variables set to `threads`; every CPU benchmark of these frameworks is a candidate (analyze
    keeps those that run on a thread pool and are large enough to use it: affects.py)."""
    env = dict.fromkeys(THREAD_VARS, str(threads))
    return experiment(env, facts.benchmarks(framework=records_fw, device="cpu"), why)


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
    impact = estimated("10× solve(512²) on 32 CPUs: 74 ms with 1 thread vs 1.42 s with all (~19×)",
                       "numpy/numpy#15764", 19.0)
    return make(
        "A2", graded(impact), f"{most} threads for {cpus} CPUs: thread pools oversubscribe the machine",
        evidence=evidence, impact=impact,
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
    impact = estimated("Core Ultra 7 linalg.inv: 0.18 s at 6 threads vs 33 s at 22 threads", "numpy/numpy#27174",
                       round(33 / 0.18))
    return make(
        "A3", graded(impact), f"thread pools use {max(n for *_, n in over)} threads on a CPU with {int(p_cores)} "
        f"performance cores and {int(e_cores)} efficiency cores",
        evidence=[fact("system.cpu.hybrid", facts.get("system.cpu.hybrid"))] + [fact(p, n) for _, p, n in over],
        impact=impact,
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
    impact = estimated("sleep(5) with 2 spinning threads: 4.95 s user + 11.9 s sys CPU vs 0.54 s (CPU time taken "
                       "from other work, not a speed-up of one call)", "numpy/numpy#6237")
    return make(
        "A4", graded(impact), "OpenMP threads are told to spin while idle (" + ", ".join(f"{k}={v}" for k, v in spinning.items()) + ")",
        evidence=evidence, impact=impact,
        fix="Unset " + ", ".join(spinning) + " (the defaults yield idle threads after a short spin); "
            "for mixed numpy/torch workloads also consider OMP_WAIT_POLICY=PASSIVE.",
        references=["numpy/numpy#6237", "numpy/numpy#12220", "scikit-learn/scikit-learn#17334"],
        experiment=experiment(dict.fromkeys(spinning), facts.benchmarks(framework="torch", device="cpu"),
                              "spin settings removed"))


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
    if multiple:
        evidence += prov.a9_evidence(facts)          # which build brings each runtime, pip vs conda
    # Two runtimes really loaded can oversubscribe or deadlock; KMP_DUPLICATE_LIB_OK with one runtime
    # only hides a future duplicate. The source quotes no number: no ratio, so low at most (the scale).
    return make(
        "A9", "low" if multiple else "info",
        ("several OpenMP runtimes loaded: " + ", ".join(sorted(set(runtimes))) + prov.a9_origins(facts)) if multiple
        else "KMP_DUPLICATE_LIB_OK hides a duplicate OpenMP runtime", evidence=evidence,
        impact=estimated("oneDNN maintainer: mixing two OpenMP runtimes can give \"huge performance penalties\" "
                         "(no number quoted)", "uxlfoundation/oneDNN#230"),
        fix=prov.a9_fix(facts, "Use packages built against one OpenMP runtime (all pip or all conda-forge); "
                        "with MKL set MKL_THREADING_LAYER=GNU; do not rely on KMP_DUPLICATE_LIB_OK=TRUE."),
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
    impact = estimated("MKL 1024² matmul: 17.3 ms sequential vs 4.9 ms with OpenMP (~3.5×)", "opencv/opencv#9068", 3.5)
    return make(
        "A10", graded(impact), f"MKL runs single-threaded (sequential layer) on {cpus} CPUs", evidence=evidence,
        impact=impact,
        fix="Unset MKL_THREADING_LAYER (or set it to GNU/INTEL) and install the threaded MKL (mkl, not mkl-sequential).",
        references=["opencv/opencv#9068", "uxlfoundation/oneTBB#190"],
        experiment=experiment({"MKL_THREADING_LAYER": None} if env_seq else {},
                              facts.benchmarks(op=BLAS_OPS, device="cpu"), "MKL threading layer left to default"))

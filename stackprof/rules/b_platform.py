"""B. Threads, containers, CPU platform (catalogue B1–B8)."""
from __future__ import annotations

import math

from stackprof.rules.a_threads import THREAD_VARS, thread_experiment
from stackprof.rules.facts import Facts, as_number, version_tuple
from stackprof.rules.findings import estimated, experiment, fact, graded, make
from stackprof.rules.registry import rule

ALL_FW = {"numpy", "scipy", "torch", "tensorflow", "jax"}


@rule("B1", "container CPU quota ignored by thread pools")
def b1_cgroup_quota(facts: Facts):
    quota = facts.num("system.cgroup.cpu_quota_cores")
    if not quota or quota <= 0:
        return None
    limit = max(1, math.ceil(quota - 1e-9))
    over = [(name, path, n) for name, path, n in facts.thread_pools() if n > limit]
    if not over:
        return None
    evidence = [fact("system.cgroup.cpu_quota_cores", quota)] + [fact(p, n) for _, p, n in over]
    periods, throttled = facts.num("system.cgroup.throttling.nr_periods"), facts.num("system.cgroup.throttling.nr_throttled")
    if periods and throttled is not None:
        evidence.append(fact("system.cgroup.throttling", f"{throttled:.0f}/{periods:.0f} periods throttled"))
    target = max(1, math.floor(quota))
    impact = estimated("scipy SVD loop: 11.64 s with --cpus 2 vs 1.12 s with --cpuset-cpus (~10×)", "scipy/scipy#16222", 10.0)
    return make(
        "B1", graded(impact), f"{max(n for *_, n in over)} threads under a {quota:g}-CPU container quota",
        evidence=evidence, impact=impact,
        fix=f"Set OMP_NUM_THREADS={target} (and MKL_NUM_THREADS/OPENBLAS_NUM_THREADS), or torch.set_num_threads({target}); "
            "or use --cpuset-cpus instead of --cpus so libraries see the limit.",
        references=["scipy/scipy#16222", "rocker-org/rocker#377", "orcasound/orcahello#371", "KTH-RPL/OpenSceneFlow#33",
                    "onyx-dot-app/onyx#12351", "ollama/ollama#17916", "springfall2008/batpred#4771"],
        experiment=thread_experiment(facts, target, ALL_FW, f"thread pools sized to the quota ({target})"))


@rule("B2", "CPU affinity narrower than the library thread count")
def b2_affinity(facts: Facts):
    allowed, total = facts.num("system.affinity.count"), facts.os_cpus()
    if not allowed or not total or allowed >= total:
        return None
    over = [(name, path, n) for name, path, n in facts.thread_pools() if n > allowed]
    if not over:
        return None
    impact = estimated("PyTorch after sched_setaffinity to fewer cores without set_num_threads: 30× slower",
                       "pytorch/pytorch#125547", 30.0)
    return make(
        "B2", graded(impact), f"process pinned to {int(allowed)} of {total} CPUs but runs {max(n for *_, n in over)} threads",
        evidence=[fact("system.affinity.count", int(allowed)), fact("system.os_cpu_count", total)]
        + [fact(p, n) for _, p, n in over],
        impact=impact,
        fix=f"Set OMP_NUM_THREADS={int(allowed)} (or torch.set_num_threads({int(allowed)})) to match the affinity.",
        references=["numpy/numpy#15764", "pytorch/pytorch#125547", "pytorch/pytorch#154503"],
        experiment=thread_experiment(facts, int(allowed), ALL_FW, f"thread pools sized to the affinity ({int(allowed)})"))


@rule("B3", "thread count forced low by an environment variable")
def b3_threads_forced_low(facts: Facts):
    cpus, cpu_evidence = facts.effective_cpus()
    if not cpus or cpus < 2:
        return None
    # Processes that share the CPUs on purpose (torchrun sets OMP_NUM_THREADS=1 and LOCAL_WORLD_SIZE for
    # its ranks): each rank's fair share is what counts, not the whole machine.
    sharing = as_number(facts.env("LOCAL_WORLD_SIZE")) or 1
    share = max(1.0, cpus / sharing)
    low = {k: v for k, v in facts.env_set(*THREAD_VARS).items() if 0 < (as_number(v) or 0) < share}
    if not low:
        return None
    evidence = [fact(f"env_vars.vars.{k}", v) for k, v in low.items()] + cpu_evidence
    if sharing > 1:
        evidence.append(fact("env_vars.vars.LOCAL_WORLD_SIZE", facts.env("LOCAL_WORLD_SIZE")))
    torch_threads = facts.num("torch.parallel.num_threads")
    if torch_threads:
        evidence.append(fact("torch.parallel.num_threads", int(torch_threads)))
    impact = estimated("PyTorch 3.47 s with OMP_NUM_THREADS=1 vs 1.99 s with the default (1.7×)", "kermitt2/delft#230", 1.74)
    return make(
        "B3", graded(impact), ", ".join(f"{k}={v}" for k, v in low.items()) + f" on {cpus} usable CPUs",
        evidence=evidence, impact=impact,
        fix="Unset " + ", ".join(low) + " for single-process CPU work (launchers such as torchrun and Ray set "
            "them; keep a low value only when many processes share the CPUs).",
        references=["kermitt2/delft#230", "pytorch/pytorch#22501", "pytorch/pytorch#22260", "NVIDIA/enroot#174",
                    "NVIDIA/enroot#185", "ray-project/ray#6998", "numpy/numpy#15764"],
        experiment=experiment(dict.fromkeys(low), facts.benchmarks(device="cpu"), "thread-count variables unset"))


@rule("B4", "SMT siblings counted as compute cores")
def b4_smt_threads(facts: Facts):
    """A pool with more threads than physical cores but no more than the usable CPUs puts two of its
    threads on the two hardware threads of one core. Judged only when the process may use every logical
    CPU: which siblings an affinity or quota leaves is not recorded (larger pools are A2/B1/B2)."""
    per_core, physical = facts.num("system.cpu.threads_per_core"), facts.num("system.cpu.physical_cores")
    logical, (usable, _) = facts.num("system.cpu.logical_cpus") or facts.os_cpus(), facts.effective_cpus()
    if not per_core or per_core <= 1 or not physical or not usable or not logical or usable < logical:
        return None
    shared = [(name, path, n) for name, path, n in facts.thread_pools() if physical < n <= usable]
    if not shared:
        return None
    name, _, most = max(shared, key=lambda x: x[2])
    limit = int(physical)
    # BLAS gains nothing from SMT (OpenBLAS maintainers) but ONNX Runtime gained 12% from it: a question
    # for the experiment, not a verdict; verify grades it from the measured effect.
    return make(
        "B4", "info", f"{name} runs {most} threads on {limit} physical cores: {most - limit} of them share a core "
        f"with another thread of the same pool ({int(per_core)} hardware threads per core)",
        evidence=[fact("system.cpu.threads_per_core", int(per_core)), fact("system.cpu.physical_cores", limit),
                  fact("system.cpu.logical_cpus", int(logical))] + [fact(p, n) for _, p, n in shared],
        impact=estimated("BLAS does not benefit from hyper-threading (OpenBLAS maintainers); ORT VGG16 gained "
                         "~12% from HT, so measure", "OpenMathLib/OpenBLAS#1881", 1.12),
        fix=f"Try OMP_NUM_THREADS={limit} (one thread per physical core) for BLAS-heavy work.", ab=True,
        references=["OpenMathLib/OpenBLAS#1881", "microsoft/onnxruntime#4869", "pytorch/pytorch#107010",
                    "pytorch/tutorials#2931"],
        experiment=thread_experiment(facts, limit, ALL_FW, f"one thread per physical core ({limit})"))


@rule("B5", "NUMA: process spread over sockets or away from its GPU")
def b5_numa(facts: Facts):
    nodes = facts.num("system.cpu.numa_nodes")
    if not nodes or nodes <= 1:
        return None
    affinity = [c for c in facts.list("system.affinity.cpus") if isinstance(c, int)]
    total = facts.os_cpus()
    evidence, away, spread = [fact("system.cpu.numa_nodes", int(nodes))], [], False
    for path, gpu in facts.gpu_devices():
        gpu_cpus = gpu.get("cpu_affinity")
        if isinstance(gpu_cpus, list) and gpu_cpus and affinity and not set(affinity) & set(gpu_cpus):
            away.append(f"GPU {gpu.get('index')} is on NUMA node {gpu.get('numa_node')}, away from this process")
            evidence.append(fact(f"{path}.numa_node", gpu.get("numa_node")))
    if affinity and total and len(affinity) > total / nodes:
        spread = True
        evidence.append(fact("system.affinity.count", len(affinity)))
    if not away and not spread:
        return None
    # An affinity that excludes the GPU's node was set by whoever launched the job (a defect); a process
    # left on every node is the operating system's default, which binding can improve (an opportunity).
    kind = "defect" if away else "opportunity"
    impact = estimated("vLLM with NUMA binding and CPU offload on GB200: ~1.5×", "vllm-project/vllm#30492", 1.5)
    return make(
        "B5", graded(impact, kind), "; ".join(away or [f"threads may run on all {int(nodes)} NUMA nodes"]),
        evidence=evidence, impact=impact, kind=kind,
        fix="Bind each process to one node: numactl --cpunodebind=N --membind=N (the GPU's node for GPU work), "
            "or torchrun --numa-binding where available.",
        references=["vllm-project/vllm#30492", "ggml-org/llama.cpp#14969", "NVIDIA/TensorRT-LLM#18117",
                    "intel/neural-speed#207"])


@rule("B6", "CPU frequency governor powersave")
def b6_governor(facts: Facts):
    governor, driver = facts.get("system.cpu.governor"), str(facts.get("system.cpu.scaling_driver") or "")
    if not isinstance(governor, str) or governor.lower() != "powersave":
        return None
    if "pstate" in driver.lower():
        return None                     # intel_pstate / amd-pstate "powersave" is dynamic (konkor/cpufreq#14)
    # The source gives clocks (2.1 of 4.6 GHz), not a speed-up: no ratio, so low on the scale until a
    # measurement says more (the fix needs root, so there is no experiment).
    impact = estimated("a laptop in powersave ran at ~2.1 GHz under stress against a 4.6 GHz maximum (clocks, "
                       "not a measured speed-up)", "AdnanHodzic/auto-cpufreq#131")
    return make(
        "B6", graded(impact), f"CPU governor is powersave ({driver or 'driver unknown'}): clocks held at the minimum",
        evidence=[fact("system.cpu.governor", governor), fact("system.cpu.scaling_driver", driver or None),
                  fact("system.cpu.cur_mhz", facts.get("system.cpu.cur_mhz")),
                  fact("system.cpu.max_mhz", facts.get("system.cpu.max_mhz"))],
        impact=impact,
        fix="sudo cpupower frequency-set -g performance (or schedutil/ondemand).", ab=True,
        references=["google/benchmark#1048", "pyk/bench#14", "konkor/cpufreq#14", "AdnanHodzic/auto-cpufreq#398",
                    "AdnanHodzic/auto-cpufreq#131", "JuliaCI/BenchmarkTools.jl#78"])


@rule("B7", "transparent hugepages off, or numpy's hugepage advice misapplied")
def b7_thp(facts: Facts):
    enabled, defrag = facts.get("system.thp.enabled"), facts.get("system.thp.defrag")
    madvise_env = facts.env("NUMPY_MADVISE_HUGEPAGE")
    kernel = version_tuple(facts.get("system.os.kernel"))
    numpy = facts.installed("numpy")
    memory = facts.benchmarks(framework="numpy", device="cpu", op={"stream_copy", "stream_scale", "stream_add", "stream_triad"})
    evidence, env, title = [fact("system.thp.enabled", enabled)], {}, None
    if enabled == "never":
        title = "transparent hugepages are disabled: large arrays are page-fault bound"
    elif numpy and enabled in ("madvise", "always") and madvise_env == "0" and kernel >= (4, 6):
        title, env = "NUMPY_MADVISE_HUGEPAGE=0 turns numpy's hugepage advice off", {"NUMPY_MADVISE_HUGEPAGE": None}
        evidence.append(fact("env_vars.vars.NUMPY_MADVISE_HUGEPAGE", madvise_env))
    elif numpy and enabled in ("madvise", "always") and defrag == "always" and madvise_env != "0":
        title, env = "THP defrag=always: numpy's hugepage advice can stall on compaction", {"NUMPY_MADVISE_HUGEPAGE": "0"}
        evidence.append(fact("system.thp.defrag", defrag))
    if not title:
        return None
    impact = estimated("madvise(MADV_HUGEPAGE) cut large memcpy time to 0.56–0.75×", "numpy/numpy#11957", 1.5)
    return make(
        "B7", graded(impact), title, evidence=evidence, ab=True, impact=impact,
        fix="echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled; leave NUMPY_MADVISE_HUGEPAGE unset "
            "unless an A/B shows compaction stalls (then set it to 0).",
        references=["numpy/numpy#11957", "numpy/numpy#15545", "numpy/numpy#15769", "numpy/numpy#31590",
                    "huggingface/candle#2149", "pytorch/pytorch#115990"],
        experiment=experiment(env, memory, "numpy hugepage advice toggled"))


@rule("B8", "Apple Silicon: Rosetta Python or no Accelerate")
def b8_apple(facts: Facts):
    if str(facts.get("system.os.name") or "").lower() != "darwin":
        return None
    arch, model = facts.arch(), str(facts.get("system.cpu.model") or "")
    blas = str(facts.get("numpy.blas.name") or "")
    if arch == "x86_64" and "apple" in model.lower():
        title, evidence = "x86_64 Python running under Rosetta on Apple Silicon", [
            fact("system.os.arch", arch), fact("system.cpu.model", model)]
        fix = "Install a native arm64 Python (python.org universal2 / conda osx-arm64) and recreate the environment."
    elif arch == "arm64" and facts.installed("numpy") and blas and "accelerate" not in blas.lower():
        title, evidence = f"numpy on Apple Silicon uses {blas}, not Accelerate", [fact("numpy.blas.name", blas)]
        fix = "Use numpy ≥ 2.0 wheels for macOS 14+ (built with Accelerate) or conda-forge libblas=*=*accelerate."
    else:
        return None
    impact = estimated("16000² matmul on an M1 Air: 169 s without Accelerate vs 75 s with it",
                       "alexziskind1/machine_tests#1", round(169 / 75, 2))
    return make(
        "B8", graded(impact), title, evidence=evidence, impact=impact,
        fix=fix, references=["numpy/numpy#17989", "numpy/numpy#20131", "numpy/numpy#17807",
                             "alexziskind1/machine_tests#1", "conda-forge/pytorch-cpu-feedstock#403"])

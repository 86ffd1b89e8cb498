"""P. Findings that read a workload profile (run.profile, docs/schema-profile.md) together with the
environment facts, benchmarks and other findings. Catalogue causes only a profile can see keep their
catalogue id (C12); the others are P1…P6. Every rule is silent when the Run has no profile.

Shares are of the main thread's samples (the launched program's wall time) unless stated: what a
fix can save of the program's run time. Whole-program estimates use Amdahl's law and say so."""
from __future__ import annotations

from stackprof.rules.facts import Facts, as_number
from stackprof.rules.findings import graded, make
from stackprof.rules.registry import RULES, rule

PROFILE_RULES = ("C12", "P1", "P2", "P3", "P4", "P5", "P6")
# Rules about the BLAS library or its threads: their A/B measures GEMM speed, which the profile's
# BLAS share turns into a whole-program estimate (P1).
BLAS_RULES = ("A1", "A5", "A6", "A7", "A8", "A10", "A2", "B1", "B2", "B4")
MIN_SAMPLES = 20            # fewer samples than this: no profile rule fires (the section warns instead)
SOURCE = "this profile (py-spy samples attributed by stackprof/profile/categories.py)"


def profile(facts: Facts) -> dict:
    prof = getattr(facts.run, "profile", None)
    if not isinstance(prof, dict):
        return {}
    total = as_number((prof.get("samples") or {}).get("total")) if isinstance(prof.get("samples"), dict) else None
    return prof if total and total >= MIN_SAMPLES else {}


def main_shares(prof: dict) -> tuple[dict[str, float], int]:
    """Category -> share of the main thread's samples, excluding start-up (imports are not the workload)."""
    main = prof.get("main_thread") if isinstance(prof.get("main_thread"), dict) else {}
    cats = [c for c in main.get("categories") or [] if isinstance(c, dict) and as_number(c.get("samples"))]
    work = sum(as_number(c["samples"]) for c in cats if c.get("id") != "startup")
    if not work:
        return {}, 0
    return {str(c.get("id")): as_number(c["samples"]) / work for c in cats if c.get("id") != "startup"}, int(work)


def main_detail(prof: dict, category: str, prefix: str) -> float:
    """Share of the main thread's (non-start-up) samples in ``category`` whose detail starts with ``prefix``."""
    shares, work = main_shares(prof)
    main = prof.get("main_thread") or {}
    for c in main.get("categories") or []:
        if isinstance(c, dict) and c.get("id") == category and work:
            return sum(as_number(d.get("samples")) or 0 for d in c.get("details") or []
                       if isinstance(d, dict) and str(d.get("name", "")).startswith(prefix)) / work
    return 0.0


def busy_share(prof: dict, category: str) -> float:
    for c in prof.get("categories") or []:
        if isinstance(c, dict) and c.get("id") == category:
            return as_number(c.get("share_busy")) or 0.0
    return 0.0


def _grade(ratio: float | None, kind: str = "defect") -> str:
    """The one severity scale (rules.findings.graded): estimated, so at most medium; capped by the kind."""
    return graded({"kind": "estimated", "ratio": ratio}, kind)


def pf(path: str, value) -> dict:
    """Evidence pointing into run.profile."""
    return {"fact": f"profile.{path}", "value": value}


def amdahl(share: float, ratio: float) -> float:
    """Whole-program speed-up when a part taking ``share`` of the time gets ``ratio`` times faster."""
    return 1.0 / ((1.0 - share) + share / ratio)


def upper_bound(share: float) -> float:
    """Speed-up if the time in ``share`` disappeared entirely."""
    return 1.0 / max(1.0 - share, 0.05)


def usable_cpus(facts: Facts, prof: dict) -> tuple[int | None, dict]:
    n, evidence = facts.effective_cpus()
    if n:
        return n, evidence[0] if evidence else pf("native_threads.affinity_cpus", n)
    native = prof.get("native_threads") if isinstance(prof.get("native_threads"), dict) else {}
    for key in ("affinity_cpus", "os_cpu_count"):
        value = as_number(native.get(key))
        if value:
            return int(value), pf(f"native_threads.{key}", int(value))
    return None, {}


def _finding_dict(facts: Facts, rule_id: str) -> dict | None:
    for f in facts.run.findings if isinstance(facts.run.findings, list) else []:
        if isinstance(f, dict) and f.get("id") == rule_id:
            return f
    return None


def _blas_rule_ratio(facts: Facts, rule_id: str):
    """(finding, ratio, measured?) of a BLAS rule that holds on this Run, or None. A confirmed A/B gives
    the measured ratio; a refuted one removes the rule; otherwise the rule's catalogue estimate."""
    done = _finding_dict(facts, rule_id)
    if done is not None:
        verification = done.get("verification") if isinstance(done.get("verification"), dict) else {}
        if done.get("status") == "not_confirmed":
            return None
        ratio = as_number(verification.get("ratio")) if verification.get("status") == "confirmed" else None
        if ratio and ratio > 1:
            return done, ratio, True
    check = RULES.get(rule_id)
    found = check.check(facts) if check else None
    if found is None:
        return None
    ratio = as_number((found.impact or {}).get("ratio"))
    return (found.__dict__ if not isinstance(found, dict) else found), ratio, False


@rule("C12", "DataLoader starving the model")
def c12_dataloader_starving(facts: Facts):
    prof = profile(facts)
    shares, work = main_shares(prof)
    if not shares:
        return None
    waiting = main_detail(prof, "data_loading", "main process")          # waiting for worker processes
    inline = main_detail(prof, "data_loading", "DataLoader in the main process")  # num_workers=0
    data = waiting + inline
    math = sum(shares.get(c, 0.0) for c in ("blas", "onednn", "framework", "cuda", "cuda_sync", "framework_dispatch"))
    if data < 0.25 or data <= math:
        return None
    workers = [p for p in prof.get("processes") or [] if isinstance(p, dict) and p.get("role") == "DataLoader worker"]
    cpus, cpu_evidence = usable_cpus(facts, prof)
    ratio = upper_bound(data)
    what = (f"waits for its {len(workers)} DataLoader worker process{'es' if len(workers) != 1 else ''}"
            if waiting >= inline else "loads data itself (num_workers=0)")
    evidence = [pf("main_thread.categories[data_loading]", f"{data:.0%} of the main thread ({work} samples)"),
                pf("main_thread.math_share", f"{math:.0%} in BLAS/oneDNN/framework/CUDA code")]
    if workers:
        evidence.append(pf("processes[role=DataLoader worker]", len(workers)))
    if cpu_evidence:
        evidence.append(cpu_evidence)
    return make(
        "C12", _grade(ratio, "opportunity"),
        f"The model waits for data: the main thread {what} {data:.0%} of its time, computing only {math:.0%}",
        evidence=evidence, kind="opportunity",
        impact={"kind": "estimated", "ratio": round(ratio, 2),
                "text": f"up to {ratio:.2f}× faster if data were ready when the model asks (the waiting "
                        f"share {data:.0%} removed: 1/(1−{data:.2f})); reported elsewhere: more workers took "
                        "training from 3 to 13 it/s (open-edge-platform/geti#5958)",
                "source": SOURCE},
        fix=f"Give the DataLoader more workers (num_workers up to the {cpus or 'usable'} CPUs minus what the "
            "model needs), persistent_workers=True, prefetch_factor ≥ 2, pin_memory=True on GPU; make "
            "__getitem__ cheaper (decode once and cache, vectorise transforms, move augmentation to the GPU). "
            "The workers' own breakdown is in the profile's per-process table.",
        references=["open-edge-platform/geti#5958", "huggingface/transformers#20581", "pytorch/pytorch#12831",
                    "ultralytics/yolov3#141"])


@rule("P1", "most of the program's time in a BLAS that a rule flags")
def p1_time_in_flagged_blas(facts: Facts):
    prof = profile(facts)
    shares, work = main_shares(prof)
    share = shares.get("blas", 0.0)
    if share < 0.2:
        return None
    flagged = []
    for rule_id in BLAS_RULES:
        got = _blas_rule_ratio(facts, rule_id)
        if got and got[1] and got[1] > 1:
            flagged.append((rule_id, *got))
    if not flagged:
        return None
    # the most conservative of the measured ratios, else of the estimates
    measured = [f for f in flagged if f[3]]
    rule_id, finding, ratio, is_measured = min(measured or flagged, key=lambda f: f[2])
    gain = amdahl(share, ratio)
    blas = prof.get("blas") if isinstance(prof.get("blas"), dict) else {}
    name = blas.get("library") or "the BLAS"
    kernel = blas.get("kernel_in_frames") or blas.get("kernel_selected")
    how = ("measured here by its A/B experiment" if is_measured else
           f"the catalogue's estimate ({(finding.get('impact') or {}).get('source', 'see the finding')})")
    return make(
        "P1", _grade(gain),
        f"{share:.0%} of the program's time is in {name}{f' ({kernel} kernels)' if kernel else ''}, which {rule_id} "
        f"flags: fixing it would make the whole program about {gain:.2f}× faster (estimate)",
        evidence=[pf("main_thread.categories[blas]", f"{share:.0%} of {work} main-thread samples"),
                  pf("blas", {k: blas.get(k) for k in ("library", "file", "kernel_in_frames", "kernel_selected",
                                                        "version") if blas.get(k)}),
                  {"fact": f"findings[{rule_id}]", "value": finding.get("title")},
                  {"fact": f"findings[{rule_id}].ratio", "value": round(ratio, 3)}],
        impact={"kind": "estimated", "ratio": round(gain, 3),
                "text": f"whole program ≈ {gain:.2f}× faster: Amdahl 1/((1−f) + f/r) with f = {share:.2f} (this "
                        f"profile: main-thread samples in BLAS) and r = {ratio:.2f} ({rule_id}'s GEMM speed-up, "
                        f"{how}); an estimate, valid if the program's BLAS calls speed up like the benchmark's",
                "source": SOURCE + f" × {rule_id}"},
        fix=finding.get("fix") or f"See finding {rule_id}.",
        references=list(finding.get("references") or [])[:4] or ["https://en.wikipedia.org/wiki/Amdahl%27s_law"])


@rule("P2", "thread-pool spin/sync time high with more threads than usable CPUs")
def p2_pool_spin_oversubscribed(facts: Facts):
    prof = profile(facts)
    spin = busy_share(prof, "threads_sync")
    if spin < 0.15:
        return None
    native = prof.get("native_threads") if isinstance(prof.get("native_threads"), dict) else {}
    busy_native = int(as_number(native.get("busy_count")) or 0)
    busy_python = sum(1 for t in prof.get("threads") or [] if isinstance(t, dict) and t.get("python")
                      and (as_number((t.get("cpu") or {}).get("busy_share")) or 0) > 0.05)
    cpus, cpu_evidence = usable_cpus(facts, prof)
    pools = [n for _, _, n in facts.thread_pools()]
    threads = max([busy_native + busy_python] + pools)
    if not cpus or threads <= cpus:
        return None
    ratio = upper_bound(spin)
    return make(
        "P2", _grade(ratio),
        f"{spin:.0%} of the busy samples wait or spin in thread-pool synchronisation, with {threads} busy threads "
        f"for {cpus} usable CPUs",
        evidence=[pf("categories[threads_sync].share_busy", round(spin, 3)),
                  pf("native_threads.busy_count", busy_native), pf("threads[python, busy]", busy_python),
                  cpu_evidence] + [{"fact": "thread_pools", "value": pools}] * bool(pools),
        impact={"kind": "estimated", "ratio": round(ratio, 2),
                "text": f"at most {ratio:.2f}× if no time went to pool synchronisation (1/(1−{spin:.2f})); reported "
                        "elsewhere: 19× for 10× solve(512²) on 32 CPUs with one thread vs all (numpy/numpy#15764)",
                "source": SOURCE},
        fix=f"Cap the pools at the usable CPUs: OMP_NUM_THREADS={cpus} (and OPENBLAS_NUM_THREADS / MKL_NUM_THREADS; "
            "divided by the number of processes doing math), or threadpoolctl.threadpool_limits(); leave "
            "OMP_WAIT_POLICY unset (PASSIVE if several runtimes share the CPUs).",
        references=["numpy/numpy#15764", "OpenMathLib/OpenBLAS#1881", "numpy/numpy#6237"])


@rule("P3", "framework dispatch overhead dominates (many tiny ops)")
def p3_dispatch_overhead(facts: Facts):
    prof = profile(facts)
    shares, work = main_shares(prof)
    dispatch = shares.get("framework_dispatch", 0.0)
    math = sum(shares.get(c, 0.0) for c in ("framework", "blas", "onednn", "cuda"))
    if dispatch < 0.2 or dispatch < math:
        return None
    ratio = upper_bound(dispatch)
    return make(
        "P3", _grade(ratio, "opportunity"),
        f"{dispatch:.0%} of the program's time is framework dispatch and bindings, more than the {math:.0%} "
        "spent computing: the operations are too small", kind="opportunity",
        evidence=[pf("main_thread.categories[framework_dispatch]", f"{dispatch:.0%} of {work} samples"),
                  pf("main_thread.math_share", f"{math:.0%}")],
        impact={"kind": "estimated", "ratio": round(ratio, 2),
                "text": f"at most {ratio:.2f}× if the per-operation overhead vanished (1/(1−{dispatch:.2f}))",
                "source": SOURCE},
        fix="Batch work into fewer, larger tensor operations (vectorise Python loops over elements/rows), keep "
            "scalars out of tensors in hot loops, and consider torch.compile or CUDA graphs to remove "
            "per-op dispatch.",
        references=["https://pytorch.org/tutorials/recipes/recipes/tuning_guide.html",
                    "https://pytorch.org/docs/stable/torch.compiler.html"])


@rule("P4", "time in a reference (unoptimised) BLAS")
def p4_reference_blas(facts: Facts):
    prof = profile(facts)
    cats = [c for c in prof.get("categories") or [] if isinstance(c, dict) and c.get("id") == "blas"]
    if not cats:
        return None
    total = as_number((prof.get("samples") or {}).get("busy")) or 0
    ref = sum(as_number(d.get("samples")) or 0 for d in cats[0].get("details") or []
              if isinstance(d, dict) and str(d.get("name")) == "reference BLAS")
    share = ref / total if total else 0.0
    if share < 0.1:
        return None
    gain = amdahl(share, 60.0)
    libs = [d.get("name") for d in cats[0].get("libraries") or [] if isinstance(d, dict)]
    return make(
        "P4", _grade(gain),
        f"{share:.0%} of the busy time runs in a reference BLAS ({', '.join(map(str, libs[:2])) or 'libblas'})",
        evidence=[pf("categories[blas].details[reference BLAS]", f"{share:.0%} of {int(total)} busy samples")],
        impact={"kind": "estimated", "ratio": round(gain, 2),
                "text": f"whole program ≈ {gain:.2f}× faster if that time became ~60× shorter (np.dot 1000² 6.6 s "
                        "reference vs 111 ms optimised, easybuilders/easybuild-easyblocks#190; Amdahl with "
                        f"f = {share:.2f})",
                "source": "easybuilders/easybuild-easyblocks#190 × " + SOURCE},
        fix="Use an optimised BLAS: pip's numpy/scipy wheels bundle OpenBLAS; on Debian/Ubuntu "
            "`apt install libopenblas0` and `update-alternatives --config libblas.so.3`; conda: blas=*=openblas or mkl.",
        references=["easybuilders/easybuild-easyblocks#190", "numpy/numpy#19530", "OpenMathLib/OpenBLAS#1033"])


@rule("P5", "threads mostly wait for the GIL")
def p5_gil_contention(facts: Facts):
    prof = profile(facts)
    gil = busy_share(prof, "gil")
    threads = [t for t in prof.get("threads") or [] if isinstance(t, dict) and t.get("python")
               and (t.get("categories") or {}).get("gil")]
    if gil < 0.2 or len(threads) < 2:
        return None
    ratio = upper_bound(gil)
    return make(
        "P5", _grade(ratio, "opportunity"),
        f"{gil:.0%} of the busy samples wait for the GIL, across {len(threads)} Python threads", kind="opportunity",
        evidence=[pf("categories[gil].share_busy", round(gil, 3)), pf("threads[gil > 0]", len(threads))],
        impact={"kind": "estimated", "ratio": round(ratio, 2),
                "text": f"at most {ratio:.2f}× if no thread waited for the GIL (1/(1−{gil:.2f}))", "source": SOURCE},
        fix="Move CPU-bound Python work from threads to processes (multiprocessing, DataLoader workers), or into "
            "native code that releases the GIL (numpy/torch ops on larger arrays); a free-threaded CPython "
            "(3.13t+) removes the GIL if every extension supports it.",
        references=["https://docs.python.org/3/glossary.html#term-global-interpreter-lock",
                    "https://peps.python.org/pep-0703/"])


@rule("P6", "the program mostly waits for the GPU (CUDA synchronisation)")
def p6_cuda_sync(facts: Facts):
    prof = profile(facts)
    shares, work = main_shares(prof)
    sync = shares.get("cuda_sync", 0.0)
    if sync < 0.3:
        return None
    return make(
        "P6", "low",
        f"The main thread waits for the GPU {sync:.0%} of its time (CUDA synchronisation calls)", kind="opportunity",
        evidence=[pf("main_thread.categories[cuda_sync]", f"{sync:.0%} of {work} samples")],
        impact={"kind": "estimated", "ratio": None,
                "text": "not a slowdown by itself: either the GPU is the bottleneck (good: look at the kernels with "
                        "torch.profiler/Nsight), or the loop synchronises needlessly (.item(), .cpu(), printing "
                        "tensors, torch.cuda.synchronize()) and the CPU cannot queue work ahead",
                "source": SOURCE},
        fix="Remove per-step synchronisation from the hot loop (accumulate losses on the GPU and read them every N "
            "steps, avoid .item()/.cpu() in the loop, use non_blocking copies from pinned memory); then profile the "
            "GPU side with torch.profiler to see whether the kernels are the limit.",
        references=["https://pytorch.org/tutorials/recipes/recipes/tuning_guide.html",
                    "https://pytorch.org/docs/stable/notes/cuda.html#asynchronous-execution"])

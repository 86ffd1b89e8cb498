"""A. BLAS libraries and their kernels: which BLAS, which kernel ISA, ISA caps (catalogue A1, A5–A8).
Thread-pool causes (A2–A4, A9, A10) are in a_threads.py."""
from __future__ import annotations

import re

from stackprof import severity as scale
from stackprof.rules import isa
from stackprof.rules import provenance as prov
from stackprof.rules.facts import OPENBLAS_CORE_ISA, Facts, isa_rank, part
from stackprof.rules.findings import bench, estimated, experiment, fact, graded, make, measured, pair_experiment
from stackprof.rules.registry import rule

BLAS_OPS = {"gemm", "gemv", "matmul", "solve", "svd", "cholesky", "lu"}


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


@rule("A1", "numpy/scipy built against an unoptimized BLAS")
def a1_reference_blas(facts: Facts):
    if not facts.installed("numpy"):
        return None
    name = facts.get("numpy.blas.name")
    resolved = prov.blas_resolution(facts)
    if resolved and not resolved["reference"]:
        return None        # the generic libblas.so.3 resolves to an optimized BLAS (update-alternatives, conda)
    evidence = []
    if isinstance(name, str) and REFERENCE_BLAS.match(name.strip()):
        evidence.append(fact("numpy.blas.name", name))
    elif (facts.get("native_libs.source") == "threadpoolctl" and facts.get("numpy.version")
          and not facts.get("numpy.import_error") and not facts.native_libs(user_api="blas")
          and facts.list("native_libs.libraries")):
        evidence.append(fact("native_libs.libraries", "no BLAS library loaded by numpy"))
    if evidence or (resolved and resolved["reference"]):
        evidence += prov.phrase_fact(facts, "numpy") + prov.blas_evidence(facts, resolved)
    if not evidence:
        return None
    for rec in facts.benchmarks(op="gemm", framework="numpy", device="cpu"):
        if rec.get("pct_of_peak") is not None:
            evidence.append(bench(rec, pct_of_peak=rec["pct_of_peak"]))
    impact = estimated("np.dot 1000×1000: 6.6 s without an optimized BLAS vs 111 ms with one (~60×)",
                       "easybuilders/easybuild-easyblocks#190", 60.0)
    return make(
        "A1", graded(impact), prov.a1_title(facts, name, resolved), evidence=evidence,
        impact=impact,
        fix=prov.a1_fix(facts, resolved),
        references=["easybuilders/easybuild-easyblocks#190", "numpy/numpy#19530", "berkeley-stat/bce#21",
                    "OpenMathLib/OpenBLAS#1033", "samuelstjean/nlsam#10"])


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
    impact = estimated("OPENBLAS_CORETYPE fix doubled matmul speed on a mis-detected CPU", "OpenMathLib/OpenBLAS#701", 2.0)
    return make(
        "A5", graded(impact), f"OpenBLAS runs its {core} ({kernel}) kernels on a CPU with {cpu}", evidence=evidence,
        impact=impact,
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
    impact = estimated("SkylakeX (AVX-512) SGEMM kernel +30–40% over Haswell; AVX-512 may lower clocks",
                       "OpenMathLib/OpenBLAS#1589", 1.35)
    return make(
        "A6", graded(impact), f"OpenBLAS uses {core} (AVX2) kernels on an AVX-512 CPU"
        + (" because OPENBLAS_CORETYPE forces them" if "OPENBLAS_CORETYPE" in forced else ""),
        evidence=evidence, impact=impact,
        fix=fix, ab=True,
        references=["OpenMathLib/OpenBLAS#1589", "OpenMathLib/OpenBLAS#2173", "numpy/numpy#14305",
                    "numpy/numpy#27147", "MacPython/numpy-wheels#46", "NixOS/nixpkgs#59708"],
        experiment=experiment(env, facts.benchmarks(op=BLAS_OPS, framework=blas_frameworks(facts, lib), device="cpu"),
                              f"GEMM re-run with {what}"))


MKL_DTYPES = ("fp32", "fp64")      # MKL's sgemm/dgemm; torch's bf16 GEMM runs in oneDNN, not MKL
# MKL's non-Intel path shows as a gap of 1.6× and more (catalogue A7); two well-built BLAS libraries
# differ by less than the scale's medium step on the same GEMM, so a smaller gap is not this cause.
CAUSE_RATIO = scale.MEDIUM_RATIO


def _value(rec: dict) -> float | None:
    value = rec.get("value")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _same_case_gaps(facts: Facts, slow_fws: set, dtypes=MKL_DTYPES) -> list[tuple[float, dict, dict]]:
    """(ratio, record, faster record) for CPU GEMMs of `slow_fws` against another framework's GEMM of the
    same dtype and shape, default path on both sides, neither noisy, same thread count where recorded."""
    out = []
    records = [r for r in facts.benchmarks(op="gemm", device="cpu", variant=None) if r.get("dtype") in dtypes]
    for rec in records:
        if rec.get("framework") not in slow_fws or not _value(rec) or part(rec, "stats").get("noisy"):
            continue
        for other in records:
            if other.get("framework") in slow_fws or other.get("dtype") != rec.get("dtype") \
                    or other.get("shape") != rec.get("shape") or not _value(other) or part(other, "stats").get("noisy"):
                continue
            threads = (part(rec, "params").get("num_threads"), part(other, "params").get("num_threads"))
            if None not in threads and threads[0] != threads[1]:
                continue
            out.append((_value(other) / _value(rec), rec, other))
    return out


@rule("A7", "Intel MKL on an AMD CPU")
def a7_mkl_on_amd(facts: Facts):
    if facts.vendor() != "AuthenticAMD":
        return None
    users = set()
    for _, lib in facts.native_libs(internal_api="mkl"):
        users |= blas_frameworks(facts, lib) - {"torch"}   # loaded dynamically: numpy/scipy from an MKL channel
    if facts.torch_setting("BLAS_INFO") == "mkl":
        users.add("torch")
    if not users:
        return None
    evidence = [fact("system.cpu.vendor", "AuthenticAMD")]
    evidence += [fact(f"{p}.version", lib.get("version")) for p, lib in facts.native_libs(internal_api="mkl")]
    if "torch" in users:
        evidence.append(fact("torch.config.build_settings.BLAS_INFO", "mkl"))
    # Measure both: MKL's GEMM against another library's on the same case, when this run has one.
    gaps = _same_case_gaps(facts, users)
    title = f"Intel MKL ({', '.join(sorted(users))}) on an AMD CPU"
    if gaps:
        ratio, slow, fast = max(gaps, key=lambda g: g[0])
        title += f": its {slow.get('dtype')} GEMM is {ratio:.2f}× slower than {fast.get('framework')}'s here"
        if ratio < CAUSE_RATIO:
            return None                   # measured: no sign of MKL's slow path on this machine
        evidence += [bench(slow, threads=part(slow, "params").get("num_threads")), bench(fast)]
        impact = measured(ratio, f"{fast.get('framework')} GEMM is {ratio:.2f}× faster than {slow.get('framework')}'s "
                          f"MKL GEMM on the same {slow.get('dtype')} case", [slow["id"], fast["id"]])
        severity = scale.from_ratio(ratio, measured=False)     # two moments: a hint until measured alternately
        proof = pair_experiment(slow, fast, f"{slow.get('framework')}'s MKL GEMM against {fast.get('framework')}'s "
                                            "on the same case, measured alternately")
    else:
        # The source's numbers are SGEMM vs DGEMM GFLOP/s, not a speed-up of one call: no ratio quoted.
        impact = estimated("MKL 2020.2 on a Ryzen 3700X ran SGEMM on a generic path (237 GFLOP/s, below its own "
                           "DGEMM at 383); reports differ per routine and MKL version — measure both",
                           "https://danieldk.eu/Posts/2020-08-31-MKL-Zen.html")
        severity = "info"                 # a question for a measurement, not a verdict
        proof = None
    path = facts.get("kernels.torch.mkl.code_path")
    if "torch" in users and path:
        evidence.append(fact("kernels.torch.mkl.code_path", path))     # what MKL itself says it dispatched
    return make(
        "A7", severity, title, evidence=evidence, impact=impact, ab=True, experiment=proof,
        fix="Compare with an OpenBLAS/BLIS build (pip numpy uses OpenBLAS; conda: blas=*=openblas); "
            "MKL ≥ 2020.1 ignores MKL_DEBUG_CPU_TYPE.",
        references=["flame/blis#312", "https://danieldk.eu/Posts/2020-08-31-MKL-Zen.html",
                    "ContinuumIO/anaconda-issues#11993", "https://docs.nersc.gov/development/languages/python/python-amd/",
                    "ecmwf/ecbuild#160", "pytorch/pytorch#38412"])


ONEDNN_CAP_VARS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
MKL_CAP_VARS = ("MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR")
ISA_CAP_VARS = MKL_CAP_VARS + ONEDNN_CAP_VARS
ONEDNN_DTYPES = ("fp32", "bf16", "fp16", "int8")
ONEDNN_PRIMITIVES = {"matmul", "convolution", "inner_product", "deconvolution"}


def cap_isa(value: str) -> str | None:
    """The coarse x86 level (facts.ISA_ORDER) an MKL/oneDNN cap value allows, for a one-line summary;
    the judging itself is per library and dtype (rules/isa.py)."""
    v = value.strip().lower().split(",")[0]
    if v in ("all", "auto", "default", ""):
        return None
    for key, level in (("amx", "amx"), ("avx512", "avx512"), ("avx10", "avx512"), ("avx2", "avx2"),
                       ("avx", "avx"), ("sse4", "sse4_2"), ("sse", "generic"), ("compatible", "generic")):
        if key in v:
            return level
    return None


def isa_shortfalls(facts: Facts) -> tuple[list[dict], list[dict]]:
    """(caps set by environment variables, kernels dispatched below the best) — per library and dtype:
    {"library", "dtype", "allowed"/"ran", "best", "source"}."""
    flags = facts.dict("system.cpu.flags")
    caps, low = [], []
    # "best" is what the CPU offers; an OS that withholds the AMX tiles is a shortfall of its own.
    amx = facts.dict("system.cpu.amx")
    if amx.get("granted") is False and isa.has(flags, "amx_tile"):
        for dtype in ("bf16", "int8"):
            low.append({"library": "the OS", "dtype": dtype, "ran": "no AMX tiles for this process",
                        "best": isa.onednn_best(dtype, flags, True), "source": "system.cpu.amx.granted"})
    for var, value in facts.env_set(*ONEDNN_CAP_VARS).items():
        allowed = isa.onednn_cap(value)
        for dtype in ONEDNN_DTYPES:
            best = isa.onednn_best(dtype, flags, True)
            if isa.below("onednn", allowed, best):
                caps.append({"library": "oneDNN", "dtype": dtype, "allowed": allowed, "best": best, "source": var})
    for var, value in facts.env_set(*MKL_CAP_VARS).items():
        allowed, best = isa.mkl_cap(value), isa.mkl_best(flags)
        if isa.below("mkl", allowed, best):
            caps.append({"library": "oneMKL", "dtype": "fp32/fp64", "allowed": allowed, "best": best, "source": var})
    onednn = facts.dict("kernels.torch.onednn")
    for i, call in enumerate(onednn.get("calls") or []):
        if not isinstance(call, dict) or call.get("primitive") not in ONEDNN_PRIMITIVES:
            continue
        best = isa.onednn_best(str(call.get("dtype")), flags, True)
        if call.get("isa") == "ref" or isa.below("onednn", call.get("isa"), best):
            low.append({"library": "oneDNN (torch)", "dtype": call.get("dtype"), "ran": call.get("impl"), "best": best,
                        "source": f"kernels.torch.onednn.calls[{i}]"})
    path = facts.get("kernels.torch.mkl.code_path")
    level, best = isa.mkl_path_level(path), isa.mkl_best(flags)
    if level and level != "generic" and isa.below("mkl", level, best):
        low.append({"library": "oneMKL (torch)", "dtype": "fp32", "ran": path, "best": best,
                    "source": "kernels.torch.mkl.code_path"})
    return caps, low


def _cap_candidates(facts: Facts, caps: list[dict]) -> list[dict]:
    """The benchmarks each capped library runs: oneDNN — bf16/fp16/int8 GEMM, convolution, attention
    (torch's fp32 GEMM goes through oneMKL, not oneDNN); oneMKL — fp32/fp64 GEMM of the frameworks on MKL."""
    out = []
    onednn = {c["dtype"] for c in caps if c["library"] == "oneDNN"}
    if onednn:
        out += [r for r in facts.benchmarks(framework={"torch", "tensorflow"}, device="cpu")
                if (r.get("op") == "gemm" and r.get("dtype") in onednn - {"fp32"}) or r.get("op") in ("conv2d", "sdpa")]
    if any(c["library"] == "oneMKL" for c in caps):
        users = ({"torch"} if facts.torch_setting("BLAS_INFO") == "mkl" else set()) | \
                ({"numpy", "scipy"} if facts.native_libs(internal_api="mkl") else set())
        out += [r for r in facts.benchmarks(op="gemm", framework=users, device="cpu") if r.get("dtype") in ("fp32", "fp64")]
    return out


@rule("A8", "a library's kernels below the best ISA this CPU offers for the dtype")
def a8_isa_capped(facts: Facts):
    caps, low = isa_shortfalls(facts)
    if not caps and not low:
        return None
    amx = facts.dict("system.cpu.amx")
    evidence = [fact(f"env_vars.vars.{c['source']}", facts.env(c["source"])) for c in
                {c["source"]: c for c in caps}.values()]
    evidence += [fact(x["source"], x["ran"]) for x in low if x["source"] != "system.cpu.amx.granted"]
    evidence.append(fact("system.cpu.flags", {k: v for k, v in facts.dict("system.cpu.flags").items() if v}))
    if amx.get("granted") is False:
        evidence.append(fact("system.cpu.amx", amx))
    parts = [f"{c['library']} {c['dtype']} capped at {c['allowed']} by {c['source']} (best here: {c['best']})" for c in caps]
    parts += [f"{x['library']} {x['dtype']} ran {x['ran']} (best here: {x['best']})" for x in low]
    capped_vars = sorted({c["source"] for c in caps})
    candidates = _cap_candidates(facts, caps)
    impact = estimated("MKL FFT 27.5 s with MKL_ENABLE_INSTRUCTIONS=AVX2 vs 16.9 s with AVX-512 (~1.6×)",
                       "easybuilders/easybuild-easyblocks#1416", 1.6)
    why = ("" if capped_vars else " — no environment variable caps it: "
           + (f"the OS does not grant this process the AMX tiles ({amx.get('reason')})" if amx.get("granted") is False
              else "an old library build, or a dispatch that does not know this CPU"))
    fix = ("Unset " + ", ".join(capped_vars) + "." if capped_vars else
           "Upgrade the library (torch/oneDNN/oneMKL) to a release that knows this CPU"
           + ("; run on a kernel ≥ 5.16 (and a hypervisor) that grants AMX tile state" if amx.get("granted") is False else "")
           + ".")
    return make(
        "A8", graded(impact), "kernels below this CPU's best ISA: " + "; ".join(parts[:3]) + why,
        evidence=evidence, impact=impact, fix=fix,
        references=["easybuilders/easybuild-easyblocks#1416", "uxlfoundation/oneDNN#829", "PaddlePaddle/Paddle#16470",
                    "shared/reference/cpu-dispatch.md"],
        experiment=experiment(dict.fromkeys(capped_vars), candidates, "ISA caps removed") if capped_vars else None)

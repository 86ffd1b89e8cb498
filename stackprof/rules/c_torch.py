"""C. PyTorch builds on the CPU side: MKL/oneDNN, ATen capability, conda builds, torch.compile,
import time (catalogue C7–C11). CUDA-side causes are in c_torch_gpu.py."""
from __future__ import annotations

from stackprof.rules import provenance as prov
from stackprof.rules.facts import ATEN_ISA, Facts, isa_rank
from stackprof.rules.findings import estimated, experiment, fact, graded, make, measured
from stackprof.rules.registry import rule

REFERENCE_IMPORT_S = 1.19     # import torch 2.14.1+cu130 on a 2-core EPYC VM (slow-env-causes.md C11)


@rule("C7", "PyTorch built without MKL or oneDNN")
def c7_no_mkl_mkldnn(facts: Facts):
    if not facts.installed("torch") or facts.arch() not in ("x86_64", "amd64"):
        return None
    missing, evidence = [], []
    if facts.torch_setting("USE_MKLDNN") == "OFF" or facts.get("torch.backends.mkldnn_available") is False:
        missing.append("oneDNN (MKLDNN)")
        evidence.append(fact("torch.config.build_settings.USE_MKLDNN", facts.torch_setting("USE_MKLDNN")))
    blas = facts.torch_setting("BLAS_INFO")
    if blas is not None and blas.lower() in ("", "generic", "none", "blas", "eigen"):
        missing.append(f"an optimized BLAS (BLAS_INFO={blas or 'empty'})")
        evidence.append(fact("torch.config.build_settings.BLAS_INFO", blas))
    disabled = facts.get("torch.backends.mkldnn_enabled") is False and not missing
    if disabled:
        evidence.append(fact("torch.backends.mkldnn_enabled", False))
    if not missing and not disabled:
        return None
    impact = estimated("MKLDNN conv on a 2S Xeon 8180: resnet50 3.3 → 17.0 (~5×)", "pytorch/pytorch#6062", 5.2)
    return make(
        "C7", graded(impact),
        ("PyTorch built without " + " and ".join(missing)) if missing else "oneDNN (MKLDNN) is disabled in PyTorch",
        evidence=evidence, ab=True, impact=impact,
        fix="Install the official wheel (pip install torch --index-url https://download.pytorch.org/whl/cpu) or rebuild "
            "with USE_MKLDNN=1 and MKL found; keep torch.backends.mkldnn.enabled = True.",
        references=["pytorch/pytorch#6062", "pytorch/pytorch#134198", "pytorch/pytorch#35153", "pytorch/pytorch#50762",
                    "pytorch/pytorch#32826", "pytorch/executorch#8248"])


@rule("C8", "ATen CPU capability lower than the hardware supports")
def c8_aten_capability(facts: Facts):
    cap, cpu = facts.get("torch.cpu_capability"), facts.cpu_isa()
    if not facts.installed("torch") or not isinstance(cap, str) or isa_rank(cpu) is None:
        return None
    level = ATEN_ISA.get(cap.lower())
    if isa_rank(level) is None or isa_rank(level) >= min(isa_rank(cpu), isa_rank("avx512")):
        return None
    forced = facts.env("ATEN_CPU_CAPABILITY")
    if forced is not None:
        env, fix = {"ATEN_CPU_CAPABILITY": None}, "Unset ATEN_CPU_CAPABILITY."
    elif level == "generic":
        env = {"ATEN_CPU_CAPABILITY": "avx2"}
        fix = "PyTorch does not see this CPU's AVX2 (VM hiding CPUID flags?); check the hypervisor CPU model."
    else:
        env = {"ATEN_CPU_CAPABILITY": "avx512"}
        fix = "If the A/B shows AVX-512 faster here, export ATEN_CPU_CAPABILITY=avx512."
    # No speed-up is quoted for DEFAULT vs AVX2 kernels: low until the experiment measures it.
    impact = estimated("AVX-512 ATen kernels made Transformer training 5+% slower on Cascade Lake, so "
                       "AVX2 can be a deliberate default; DEFAULT on AVX2 hardware is not", "pytorch/pytorch#80252")
    evidence = [fact("torch.cpu_capability", cap), fact("system.cpu.isa_level", cpu)]
    if forced is not None:
        evidence.append(fact("env_vars.vars.ATEN_CPU_CAPABILITY", forced))
    vector_ops = [r for r in facts.benchmarks(framework="torch", device="cpu") if r.get("op") not in ("gemm", "conv2d")]
    return make(
        "C8", graded(impact), f"PyTorch's vectorized kernels use {cap} on a CPU with {cpu}", evidence=evidence,
        ab=True, impact=impact,
        fix=fix, references=["pytorch/pytorch#82881", "pytorch/pytorch#80252", "pytorch/pytorch#157538",
                             "pytorch/pytorch#94322"],
        experiment=experiment(env, vector_ops or facts.benchmarks(framework="torch", device="cpu"),
                              "ATen CPU capability " + ("left to default" if forced is not None else f"set to {env['ATEN_CPU_CAPABILITY']}")))


@rule("C9", "conda PyTorch build differs from the official wheel")
def c9_conda_build(facts: Facts):
    dist = facts.packages().get("torch")
    if not facts.installed("torch") or not dist:
        return None
    conda = dist.get("conda") if isinstance(dist.get("conda"), dict) else None
    if dist.get("installer") != "conda" and not conda:
        return None
    blas, arch = facts.torch_setting("BLAS_INFO"), facts.arch()
    darwin = str(facts.get("system.os.name") or "").lower() == "darwin"
    expected = "accelerate" if darwin and arch == "arm64" else "mkl" if arch in ("x86_64", "amd64") else None
    if not blas or not expected or expected in blas.lower():
        return None
    channel = prov.conda_channel(facts, "torch") or (conda or {}).get("channel")
    impact = estimated("torch 2.5.1 AMP efficientnet_v2_s: 233 ms (pip) vs 125 ms (conda) — direction varies",
                       "pytorch/pytorch#149787", 1.86)
    return make(
        "C9", graded(impact), f"PyTorch from conda ({channel or 'unknown channel'}) uses BLAS_INFO={blas}, "
        f"not {expected} as the official build does",
        evidence=[fact("packages.distributions[torch].installer", dist.get("installer")),
                  fact("packages.distributions[torch].conda", conda), fact("torch.config.build_settings.BLAS_INFO", blas)]
        + prov.c9_evidence(facts),
        impact=impact,
        fix="Benchmark against the official wheel (pip install torch from download.pytorch.org) in a separate "
            "environment: stackprof run --python envA/bin/python --python envB/bin/python.",
        ab=True, references=["pytorch/pytorch#149787", "pytorch/pytorch#29722", "pytorch/pytorch#2163",
                             "conda-forge/pytorch-cpu-feedstock#403"])


@rule("C10", "torch.compile without a working backend")
def c10_compile(facts: Facts):
    if not facts.installed("torch"):
        return None
    usable, reason = facts.get("torch.compile.usable"), facts.get("torch.compile.reason")
    cuda_no_triton = (facts.true("torch.cuda.available") and facts.get("torch.triton.installed") is False)
    if usable is not False and not cuda_no_triton:
        return None
    evidence = [fact("torch.compile.usable", usable), fact("torch.compile.reason", reason)]
    if cuda_no_triton:
        evidence.append(fact("torch.triton.installed", False))
    # torch.compile is an opportunity the user's program may take; without a backend it is not on offer.
    return make(
        "C10", "low", "torch.compile cannot compile here" + (f": {reason}" if isinstance(reason, str) and reason else ""),
        evidence=evidence,
        impact=estimated("compiled models fall back to eager (or fail); no number in the sources", "pytorch/pytorch#143406"),
        kind="opportunity",
        fix="Install the Triton version matching torch (pip install triton, CUDA) or a C++ compiler (CPU inductor); "
            "do not set torch._dynamo.config.suppress_errors = True.",
        references=["pytorch/pytorch#143406", "pytorch/pytorch#125093", "triton-lang/triton#3708", "triton-lang/triton#4034"])


@rule("C11", "slow framework import")
def c11_slow_import(facts: Facts):
    # Judged only where a reference import time exists (torch's); tensorflow's import is slower by design.
    slow = [(s, t) for s in ("torch",) if (t := facts.num(f"{s}.import_s")) and t > 3 * REFERENCE_IMPORT_S]
    if not slow:
        return None
    section, seconds = max(slow, key=lambda x: x[1])
    # Start-up time, measured, but no speed ratio of this machine's own to grade it by: low.
    return make(
        "C11", "low", f"import {section} took {seconds:.1f} s",
        evidence=[fact(f"{s}.import_s", round(t, 3)) for s, t in slow],
        impact=measured(None, f"import {section}: {seconds:.1f} s (reference: import torch 1.19 s on a 2-core VM)"),
        fix="Put site-packages on a local disk (not NFS/FUSE), avoid importing heavy optional modules at start-up, "
            "and check `python -X importtime -c 'import " + section + "'`.",
        references=["pytorch/pytorch#97106", "openvinotoolkit/stable-diffusion-webui#88", "torchgeo/torchgeo#2589",
                    "numpy/numpy#29193"])

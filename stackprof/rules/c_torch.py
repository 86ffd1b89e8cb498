"""C. PyTorch (catalogue C1–C13; C12 needs in-process DataLoader hooks and is not detectable here)."""
from __future__ import annotations

import re

from stackprof.rules.facts import ATEN_ISA, Facts, as_number, isa_rank, truthy_env, version_tuple
from stackprof.rules.findings import bench, estimated, experiment, fact, make, measured
from stackprof.rules.registry import rule

REFERENCE_IMPORT_S = 1.19     # import torch 2.14.1+cu130 on a 2-core EPYC VM (slow-env-causes.md C11)


def _torch_cuda_build(facts: Facts) -> str | None:
    value = facts.get("torch.cuda.built_version")
    return value if isinstance(value, str) and value else None


@rule("C1", "CPU-only PyTorch on a machine with an NVIDIA GPU")
def c1_cpu_torch_on_gpu(facts: Facts):
    if not facts.installed("torch") or not facts.gpus_present():
        return None
    local = facts.get("torch.local_version")
    if "built_version" not in facts.dict("torch.cuda") or _torch_cuda_build(facts) or facts.get("torch.hip_version"):
        return None                      # unknown, a CUDA build, or a ROCm build
    return make(
        "C1", "critical", f"PyTorch {facts.get('torch.version')} is a CPU-only build, but this machine has "
        f"{int(facts.num('gpus.count') or 1)} NVIDIA GPU(s)",
        evidence=[fact("torch.cuda.built_version", None), fact("torch.local_version", local),
                  fact("gpus.count", facts.get("gpus.count"))],
        impact=estimated("the whole workload runs on the CPU (no ratio in the sources)", "THU-MIG/yolov10#218"),
        fix="pip install torch --index-url https://download.pytorch.org/whl/cu126 (pick the CUDA version your "
            "driver supports), in a fresh environment.",
        references=["THU-MIG/yolov10#218", "chatchat-space/Langchain-Chatchat#294", "MarcelLeon/key-face-frame#2",
                    "pytorch/pytorch.github.io#757"])


def _arch_covers(capability: str, arch_list: list[str]) -> str:
    """'sass' if a cubin runs natively, 'ptx' if only JIT from PTX can, else 'none'."""
    try:
        major, minor = (int(p) for p in capability.split(".")[:2])
    except (ValueError, AttributeError):
        return "unknown"
    sass, ptx = [], []
    for arch in arch_list:
        m = re.fullmatch(r"(sm|compute)_(\d+)(\d)[a-z]?", str(arch))
        if m:
            (sass if m.group(1) == "sm" else ptx).append((int(m.group(2)), int(m.group(3))))
    if any(a_major == major and a_minor <= minor for a_major, a_minor in sass):
        return "sass"
    if any((a_major, a_minor) <= (major, minor) for a_major, a_minor in ptx):
        return "ptx"
    return "none"


@rule("C2", "GPU compute capability missing from the PyTorch build")
def c2_arch_missing(facts: Facts):
    arch_list = facts.list("torch.cuda.arch_list")
    if not facts.installed("torch") or not arch_list:
        return None
    worst, evidence = None, [fact("torch.cuda.arch_list", arch_list)]
    for i, dev in enumerate(facts.list("torch.cuda.devices")):
        if not isinstance(dev, dict):
            continue
        cover = _arch_covers(str(dev.get("capability")), arch_list)
        if cover in ("ptx", "none"):
            evidence.append(fact(f"torch.cuda.devices[{i}].capability", dev.get("capability")))
            worst = "none" if "none" in (worst, cover) else "ptx"
    if not worst:
        return None
    return make(
        "C2", "critical" if worst == "none" else "medium",
        "GPU architecture not in this PyTorch build: " + ("no kernel image (\"not compatible\")" if worst == "none"
                                                          else "kernels JIT-compiled from PTX on first use"),
        evidence=evidence,
        impact=estimated("PTX JIT at first import: ~30 min; ~3 min per run without a writable JIT cache",
                         "conda-forge/pytorch-cpu-feedstock#114"),
        fix="Install a PyTorch build whose arch list includes this GPU (newer CUDA wheel, e.g. cu128 for sm_120); "
            "keep CUDA_CACHE_PATH writable and large (CUDA_CACHE_MAXSIZE).",
        references=["pytorch/pytorch#45028", "pytorch/pytorch#45130", "pytorch/pytorch#150733",
                    "conda-forge/pytorch-cpu-feedstock#114", "FORTH-ModelBasedTracker/HandTracker#7"])


def _variant_gain(facts: Facts, op: str, variant: str, dtype=None) -> tuple[float, dict, dict] | None:
    """Best throughput ratio variant/base over matching benchmark pairs (same shape)."""
    best = None
    for var in facts.benchmarks(op=op, device="cuda", dtype=dtype, variant=variant):
        for base in facts.benchmarks(op=op, device="cuda", dtype=var.get("dtype"), variant=None,
                                     framework=var.get("framework")):
            if base.get("shape") == var.get("shape") and as_number(base.get("value")) and as_number(var.get("value")):
                ratio = as_number(var["value"]) / as_number(base["value"])
                if var.get("direction") == "lower":
                    ratio = 1 / ratio
                if best is None or ratio > best[0]:
                    best = (ratio, base, var)
    return best


@rule("C3", "cudnn.benchmark off for static-shape convolutions")
def c3_cudnn_benchmark(facts: Facts):
    gain = _variant_gain(facts, "conv2d", "cudnn_benchmark")
    if not gain or gain[0] < 1.1:
        return None
    ratio, base, var = gain
    return make(
        "C3", "medium", f"cudnn.benchmark=True made the conv benchmark {ratio:.2f}× faster",
        evidence=[bench(base), bench(var)],
        impact=measured(ratio, f"conv2d {ratio:.2f}× faster with cudnn.benchmark", [base["id"], var["id"]]),
        fix="torch.backends.cudnn.benchmark = True for models with fixed input shapes.",
        references=["speechbrain/speechbrain#294", "NVIDIA/waveglow#172", "pytorch/pytorch#41692"])


@rule("C4", "TF32 disabled for FP32 matmul on Ampere or newer")
def c4_tf32(facts: Facts):
    if not facts.installed("torch"):
        return None
    ampere = [d for d in facts.list("torch.cuda.devices")
              if isinstance(d, dict) and version_tuple(str(d.get("capability"))) >= (8, 0)]
    override = facts.env("NVIDIA_TF32_OVERRIDE")
    off = (facts.get("torch.backends.matmul_allow_tf32") is False
           and facts.get("torch.backends.float32_matmul_precision") == "highest")
    if not ampere or not (off or override == "0"):
        return None
    evidence = [fact("torch.cuda.devices[0].capability", ampere[0].get("capability"))]
    if override == "0":
        evidence.append(fact("env_vars.vars.NVIDIA_TF32_OVERRIDE", override))
    if off:
        evidence.append(fact("torch.backends.float32_matmul_precision", "highest"))
    gain = _variant_gain(facts, "gemm", "tf32", dtype="fp32")
    impact = (measured(gain[0], f"FP32 GEMM {gain[0]:.2f}× faster with TF32", [gain[1]["id"], gain[2]["id"]])
              if gain else estimated("10240² matmul on GA100: 0.11 s FP32 vs 0.016 s TF32 (~7×)",
                                     "pytorch/pytorch#61890", 6.9))
    if gain:
        evidence += [bench(gain[1]), bench(gain[2])]
    return make(
        "C4", "medium" if override == "0" or (gain and gain[0] >= 1.5) else "low",
        "FP32 matmuls do not use TF32 tensor cores" + (" (NVIDIA_TF32_OVERRIDE=0)" if override == "0" else ""),
        evidence=evidence, impact=impact, ab=True,
        fix="If the accuracy trade-off is acceptable: torch.set_float32_matmul_precision('high')"
            + ("; unset NVIDIA_TF32_OVERRIDE" if override == "0" else "") + ".",
        references=["pytorch/pytorch#61890", "pytorch/pytorch#153195", "pytorch/pytorch#67384",
                    "AUTOMATIC1111/stable-diffusion-webui#279"],
        experiment=experiment({"NVIDIA_TF32_OVERRIDE": None} if override == "0" else {},
                              facts.benchmarks(op="gemm", framework="torch", device="cuda", dtype="fp32"),
                              "NVIDIA_TF32_OVERRIDE unset"))


@rule("C5", "deterministic algorithms enabled")
def c5_deterministic(facts: Facts):
    if not facts.installed("torch"):
        return None
    flags = {k: True for k in ("deterministic_algorithms", "cudnn_deterministic") if facts.true(f"torch.backends.{k}")}
    workspace = facts.env("CUBLAS_WORKSPACE_CONFIG")
    if not flags and workspace is None:
        return None
    evidence = [fact(f"torch.backends.{k}", True) for k in flags]
    if workspace is not None:
        evidence.append(fact("env_vars.vars.CUBLAS_WORKSPACE_CONFIG", workspace))
    return make(
        "C5", "medium" if flags else "low",
        "deterministic algorithms are enabled" if flags else "CUBLAS_WORKSPACE_CONFIG is set: deterministic mode is likely on",
        evidence=evidence,
        impact=estimated("dilated conv with cudnn.deterministic=True: 10–80× slower", "pytorch/pytorch#28777", 10.0),
        fix="Enable determinism only for debugging/reproducibility runs: torch.use_deterministic_algorithms(False), "
            "torch.backends.cudnn.deterministic = False.",
        references=["pytorch/pytorch#28777", "pytorch/pytorch#109856", "espnet/espnet#3041"])


@rule("C6", "CUDA_LAUNCH_BLOCKING left set")
def c6_launch_blocking(facts: Facts):
    value = facts.env("CUDA_LAUNCH_BLOCKING")
    if not truthy_env(value):
        return None
    gpu = facts.gpus_present() or facts.true("torch.cuda.available")
    return make(
        "C6", "high" if gpu else "low", "CUDA_LAUNCH_BLOCKING=1 serializes every CUDA launch",
        evidence=[fact("env_vars.vars.CUDA_LAUNCH_BLOCKING", value)],
        impact=estimated("CPU and GPU no longer overlap; no throughput number in the sources",
                         "OpenRLHF/OpenRLHF#46"),
        fix="Unset CUDA_LAUNCH_BLOCKING (it is a debugging setting).",
        references=["horenbergerb/BernoulliDiffusion#23", "OpenRLHF/OpenRLHF#46", "k2-fsa/icefall#554",
                    "ByteDance-Seed/VeOmni#115", "plasma-umass/scalene#634"],
        experiment=experiment({"CUDA_LAUNCH_BLOCKING": None}, facts.benchmarks(framework="torch", device="cuda"),
                              "CUDA_LAUNCH_BLOCKING unset"))


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
    return make(
        "C7", "high" if missing else "medium",
        ("PyTorch built without " + " and ".join(missing)) if missing else "oneDNN (MKLDNN) is disabled in PyTorch",
        evidence=evidence, ab=True,
        impact=estimated("MKLDNN conv on a 2S Xeon 8180: resnet50 3.3 → 17.0 (~5×)", "pytorch/pytorch#6062", 5.2),
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
        env, fix, severity = {"ATEN_CPU_CAPABILITY": None}, "Unset ATEN_CPU_CAPABILITY.", "medium"
    elif level == "generic":
        env, severity = {"ATEN_CPU_CAPABILITY": "avx2"}, "high"
        fix = "PyTorch does not see this CPU's AVX2 (VM hiding CPUID flags?); check the hypervisor CPU model."
    else:
        env, severity = {"ATEN_CPU_CAPABILITY": "avx512"}, "low"
        fix = "If the A/B shows AVX-512 faster here, export ATEN_CPU_CAPABILITY=avx512."
    evidence = [fact("torch.cpu_capability", cap), fact("system.cpu.isa_level", cpu)]
    if forced is not None:
        evidence.append(fact("env_vars.vars.ATEN_CPU_CAPABILITY", forced))
    vector_ops = [r for r in facts.benchmarks(framework="torch", device="cpu") if r.get("op") not in ("gemm", "conv2d")]
    return make(
        "C8", severity, f"PyTorch's vectorized kernels use {cap} on a CPU with {cpu}", evidence=evidence, ab=True,
        impact=estimated("AVX-512 ATen kernels made Transformer training 5+% slower on Cascade Lake, so "
                         "AVX2 can be a deliberate default; DEFAULT on AVX2 hardware is not", "pytorch/pytorch#80252"),
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
    channel = (conda or {}).get("channel")
    return make(
        "C9", "medium", f"PyTorch from conda ({channel or 'unknown channel'}) uses BLAS_INFO={blas}, "
        f"not {expected} as the official build does",
        evidence=[fact("packages.distributions[torch].installer", dist.get("installer")),
                  fact("packages.distributions[torch].conda", conda), fact("torch.config.build_settings.BLAS_INFO", blas)],
        impact=estimated("torch 2.5.1 AMP efficientnet_v2_s: 233 ms (pip) vs 125 ms (conda) — direction varies",
                         "pytorch/pytorch#149787", 1.86),
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
    return make(
        "C10", "medium", "torch.compile cannot compile here" + (f": {reason}" if isinstance(reason, str) and reason else ""),
        evidence=evidence,
        impact=estimated("compiled models fall back to eager (or fail); no number in the sources", "pytorch/pytorch#143406"),
        fix="Install the Triton version matching torch (pip install triton, CUDA) or a C++ compiler (CPU inductor); "
            "do not set torch._dynamo.config.suppress_errors = True.",
        references=["pytorch/pytorch#143406", "pytorch/pytorch#125093", "triton-lang/triton#3708", "triton-lang/triton#4034"])


@rule("C11", "slow framework import")
def c11_slow_import(facts: Facts):
    slow = [(s, t) for s in ("torch", "tensorflow") if (t := facts.num(f"{s}.import_s")) and t > 3 * REFERENCE_IMPORT_S]
    if not slow:
        return None
    section, seconds = max(slow, key=lambda x: x[1])
    return make(
        "C11", "medium" if seconds > 10 else "low", f"import {section} took {seconds:.1f} s",
        evidence=[fact(f"{s}.import_s", round(t, 3)) for s, t in slow],
        impact=measured(None, f"import {section}: {seconds:.1f} s (reference: import torch 1.19 s on a 2-core VM)"),
        fix="Put site-packages on a local disk (not NFS/FUSE), avoid importing heavy optional modules at start-up, "
            "and check `python -X importtime -c 'import " + section + "'`.",
        references=["pytorch/pytorch#97106", "openvinotoolkit/stable-diffusion-webui#88", "torchgeo/torchgeo#2589",
                    "numpy/numpy#29193"])


@rule("C13", "host-to-device copies from pageable memory")
def c13_pinned(facts: Facts):
    gain = _variant_gain(facts, "h2d", "pinned")
    if not gain or gain[0] < 1.25:
        return None
    ratio, base, var = gain
    return make(
        "C13", "low", f"pinned host memory copies {ratio:.2f}× faster to the GPU than pageable memory",
        evidence=[bench(base), bench(var)],
        impact=measured(ratio, f"H2D {ratio:.2f}× faster from pinned memory", [base["id"], var["id"]]),
        fix="DataLoader(pin_memory=True) for GPU training (avoid t.pin_memory().to(dev) inline in the loop).",
        references=["https://pytorch.org/tutorials/intermediate/pinmem_nonblock.html", "vetter/shoc#79"])

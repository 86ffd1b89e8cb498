"""C. PyTorch on GPUs: CPU-only wheels, missing architectures, cuDNN/TF32/determinism settings,
launch blocking, pinned copies (catalogue C1–C6, C13; C12 needs in-process DataLoader hooks)."""
from __future__ import annotations

import re

from stackprof.rules import provenance as prov
from stackprof.rules.facts import Facts, as_number, truthy_env, version_tuple
from stackprof.rules.findings import bench, estimated, experiment, fact, graded, make, measured
from stackprof.rules.registry import rule

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
        "C1", "critical", f"PyTorch {facts.get('torch.version')} is a CPU-only build{prov.origin_words(facts, 'torch')}, "
        f"but this machine has "
        f"{int(facts.num('gpus.count') or 1)} NVIDIA GPU(s)",
        evidence=[fact("torch.cuda.built_version", None), fact("torch.local_version", local),
                  fact("gpus.count", facts.get("gpus.count"))] + prov.phrase_fact(facts, "torch"),
        impact=estimated("the whole workload runs on the CPU (no ratio in the sources)", "THU-MIG/yolov10#218"),
        fix=prov.cpu_only_fix(facts, "pip install torch --index-url https://download.pytorch.org/whl/cu126 (pick the "
                              "CUDA version your driver supports), in a fresh environment."),
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
    # No kernel image: the GPU cannot run this build at all. PTX only: kernels are JIT-compiled at first
    # use, a start-up cost (no speed ratio in the sources), graded low.
    impact = estimated("PTX JIT at first import: ~30 min; ~3 min per run without a writable JIT cache",
                       "conda-forge/pytorch-cpu-feedstock#114")
    return make(
        "C2", "critical" if worst == "none" else graded(impact),
        "GPU architecture not in this PyTorch build: " + ("no kernel image (\"not compatible\")" if worst == "none"
                                                          else "kernels JIT-compiled from PTX on first use"),
        evidence=evidence, impact=impact,
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
    # A choice in the user's program (autotuning costs time at every new shape): an opportunity.
    impact = measured(ratio, f"conv2d {ratio:.2f}× faster with cudnn.benchmark", [base["id"], var["id"]])
    return make(
        "C3", graded(impact, "opportunity"), f"cudnn.benchmark=True made the conv benchmark {ratio:.2f}× faster",
        evidence=[bench(base), bench(var)], impact=impact, kind="opportunity",
        fix="torch.backends.cudnn.benchmark = True for models with fixed input shapes.",
        references=["speechbrain/speechbrain#294", "NVIDIA/waveglow#172", "pytorch/pytorch#41692"])


@rule("C4", "TF32 disabled for FP32 matmul on Ampere or newer")
def c4_tf32(facts: Facts):
    """TF32 off is torch's default (float32_matmul_precision "highest" since 1.12): trading FP32 precision
    for speed is the program's choice, an opportunity. NVIDIA_TF32_OVERRIDE=0 is different: the
    environment switches TF32 off even where the program asked for it, a defect."""
    if not facts.installed("torch"):
        return None
    ampere = [d for d in facts.list("torch.cuda.devices")
              if isinstance(d, dict) and version_tuple(str(d.get("capability"))) >= (8, 0)]
    override = facts.env("NVIDIA_TF32_OVERRIDE")
    off = (facts.get("torch.backends.matmul_allow_tf32") is False
           and facts.get("torch.backends.float32_matmul_precision") == "highest"
           and not truthy_env(facts.env("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE")))
    forced_off = override is not None and override.strip() == "0"
    if not ampere or not (off or forced_off):
        return None
    evidence = [fact("torch.cuda.devices[0].capability", ampere[0].get("capability"))]
    if forced_off:
        evidence.append(fact("env_vars.vars.NVIDIA_TF32_OVERRIDE", override))
    if off:
        evidence += [fact("torch.backends.float32_matmul_precision", "highest"),
                     fact("torch.backends.matmul_allow_tf32", False)]
    gain = _variant_gain(facts, "gemm", "tf32", dtype="fp32")
    impact = (measured(gain[0], f"FP32 GEMM {gain[0]:.2f}× faster with TF32", [gain[1]["id"], gain[2]["id"]])
              if gain else estimated("10240² matmul on GA100: 0.11 s FP32 vs 0.016 s TF32 (~7×)",
                                     "pytorch/pytorch#61890", 6.9))
    if gain:
        evidence += [bench(gain[1]), bench(gain[2])]
    kind = "defect" if forced_off else "opportunity"
    return make(
        "C4", graded(impact, kind),
        ("NVIDIA_TF32_OVERRIDE=0 disables TF32 tensor cores for every FP32 matmul" if forced_off else
         "FP32 matmuls run without TF32 tensor cores (torch's default precision \"highest\")"),
        evidence=evidence, impact=impact, ab=True, kind=kind,
        fix=("Unset NVIDIA_TF32_OVERRIDE (it overrides the program's own TF32 setting)." if forced_off else
             "If the accuracy trade-off is acceptable: torch.set_float32_matmul_precision('high')."),
        references=["pytorch/pytorch#61890", "pytorch/pytorch#153195", "pytorch/pytorch#67384",
                    "AUTOMATIC1111/stable-diffusion-webui#279"],
        experiment=experiment({"NVIDIA_TF32_OVERRIDE": None} if forced_off else {},
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
    # Determinism traded for speed, the program's choice: an opportunity. The workspace variable alone
    # only suggests it (no ratio of its own).
    impact = (estimated("dilated conv with cudnn.deterministic=True: 10–80× slower", "pytorch/pytorch#28777", 10.0)
              if flags else estimated("CUBLAS_WORKSPACE_CONFIG is what deterministic cuBLAS needs; set alone it "
                                      "costs little (no number in the sources)", "pytorch/pytorch#109856"))
    return make(
        "C5", graded(impact, "opportunity"),
        "deterministic algorithms are enabled" if flags else "CUBLAS_WORKSPACE_CONFIG is set: deterministic mode is likely on",
        evidence=evidence, impact=impact, kind="opportunity",
        fix="Enable determinism only for debugging/reproducibility runs: torch.use_deterministic_algorithms(False), "
            "torch.backends.cudnn.deterministic = False.",
        references=["pytorch/pytorch#28777", "pytorch/pytorch#109856", "espnet/espnet#3041"])


@rule("C6", "CUDA_LAUNCH_BLOCKING left set")
def c6_launch_blocking(facts: Facts):
    value = facts.env("CUDA_LAUNCH_BLOCKING")
    if not truthy_env(value):
        return None
    # No ratio in the sources: low until the experiment (CUDA benchmarks re-run without it) measures it.
    impact = estimated("CPU and GPU no longer overlap; no throughput number in the sources", "OpenRLHF/OpenRLHF#46")
    return make(
        "C6", graded(impact), "CUDA_LAUNCH_BLOCKING=1 serializes every CUDA launch",
        evidence=[fact("env_vars.vars.CUDA_LAUNCH_BLOCKING", value)], impact=impact,
        fix="Unset CUDA_LAUNCH_BLOCKING (it is a debugging setting).",
        references=["horenbergerb/BernoulliDiffusion#23", "OpenRLHF/OpenRLHF#46", "k2-fsa/icefall#554",
                    "ByteDance-Seed/VeOmni#115", "plasma-umass/scalene#634"],
        experiment=experiment({"CUDA_LAUNCH_BLOCKING": None}, facts.benchmarks(framework="torch", device="cuda"),
                              "CUDA_LAUNCH_BLOCKING unset"))


@rule("C13", "host-to-device copies from pageable memory")
def c13_pinned(facts: Facts):
    gain = _variant_gain(facts, "h2d", "pinned")
    if not gain or gain[0] < 1.25:
        return None
    ratio, base, var = gain
    # Pinning host memory is the program's choice (it costs page-locked RAM): an opportunity.
    impact = measured(ratio, f"H2D {ratio:.2f}× faster from pinned memory", [base["id"], var["id"]])
    return make(
        "C13", graded(impact, "opportunity"), f"pinned host memory copies {ratio:.2f}× faster to the GPU than pageable memory",
        evidence=[bench(base), bench(var)], impact=impact, kind="opportunity",
        fix="DataLoader(pin_memory=True) for GPU training (avoid t.pin_memory().to(dev) inline in the loop).",
        references=["https://pytorch.org/tutorials/intermediate/pinmem_nonblock.html", "vetter/shoc#79"])

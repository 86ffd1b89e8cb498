"""F. GPU / driver / system (catalogue F1–F10). Host NVML facts under `gpus`."""
from __future__ import annotations

from stackprof.hardware.gpus import pcie_gbps
from stackprof.rules.facts import Facts, as_number, truthy_env, version_tuple
from stackprof.rules.findings import bench, estimated, experiment, fact, graded, make
from stackprof.rules.gpu_state import ACTIVE_SLOWDOWNS, load_samples, slowdowns
from stackprof.rules.registry import rule


def _per_gpu(facts: Facts, test) -> list[tuple[str, dict, object]]:
    hits = []
    for path, dev in facts.gpu_devices():
        value = test(dev)
        if value:
            hits.append((path, dev, value))
    return hits


@rule("F1", "PCIe link trained below capability")
def f1_pcie(facts: Facts):
    """Judged from NVML samples taken while a host↔device copy ran (record["state"]["gpu"]): idle links
    and ASPM lower the generation by design, and a GEMM leaves the link idle too. The best generation and
    width seen under that load below the maximum means the link trained down."""
    degraded, loaded = [], load_samples(facts, ops=("h2d", "d2h"))
    for rec, samples in loaded:
        gen = max((as_number(x.get("pcie_gen")) or 0) for x in samples)
        width = max((as_number(x.get("pcie_width")) or 0) for x in samples)
        gen_max = max((as_number(x.get("pcie_max_gen")) or 0) for x in samples)
        width_max = max((as_number(x.get("pcie_max_width")) or 0) for x in samples)
        if gen and width and gen_max and width_max and (gen < gen_max or width < width_max):
            degraded.append((rec, samples, int(gen), int(width), int(gen_max), int(width_max)))
    if not degraded:
        return None if loaded else _f1_not_judged(facts)      # judged and fine, or not judged at all
    rec, samples, gen, width, gen_max, width_max = min(degraded, key=lambda d: (pcie_gbps(d[2], d[3]) or 0))
    now, best = pcie_gbps(gen, width), pcie_gbps(gen_max, width_max)
    ratio = best / now if now and best else None
    impact = estimated(f"link capacity gen {gen_max} x{width_max} ≈ {best} GB/s vs gen {gen} x{width} ≈ {now} GB/s "
                       "per direction for copies (PCIe per-lane rates); a 4090 on a downgraded link moved ~40 vs "
                       "50+ GB/s", "PCIe per-lane rates (hardware.gpus.pcie_gbps); tinygrad/open-gpu-kernel-modules#6",
                       None if ratio is None else round(ratio, 2))
    return make(
        "F1", graded(impact), f"{rec.get('device')}: PCIe link at gen {gen} x{width} of gen {gen_max} x{width_max} "
        f"while copying ({len(samples)} NVML samples under load)",
        evidence=[bench(rec, state=_sample_summary(samples))],
        impact=impact,
        fix="Re-seat the card / riser, check the slot and BIOS PCIe settings (nvidia-smi -q -d PCIE shows "
            "the current and maximum link).",
        references=["janhq/jan#183", "noonghunna/club-3090#1028", "tinygrad/open-gpu-kernel-modules#6",
                    "xaskasdf/ntransformer#5", "Syllo/nvtop#6"])


def _f1_not_judged(facts: Facts):
    """A note, not a verdict, when the only reading is the idle snapshot and it shows a lower link."""
    idle = []
    for path, dev in facts.gpu_devices():
        pcie = dev.get("pcie") if isinstance(dev.get("pcie"), dict) else {}
        low = [k for k in ("gen", "width") if (as_number(pcie.get(k)) or 0) and (as_number(pcie.get(f"{k}_max")) or 0)
               and as_number(pcie.get(k)) < as_number(pcie.get(f"{k}_max"))]
        if low:
            idle.append((path, pcie))
    if not idle:
        return None
    return make(
        "F1", "info", "PCIe link below its maximum in the idle snapshot: not judged (no NVML sample taken while "
        "a copy ran; idle links lower their generation by design)",
        evidence=[fact(f"{p}.pcie", pcie) for p, pcie in idle],
        impact=estimated("idle GPUs and ASPM downclock the link; it must be sampled under load", "Syllo/nvtop#6"),
        fix="Run the GPU benchmarks (stackprof run, or bench --only transfer) so the link is read during a copy.",
        references=["Syllo/nvtop#6", "open-mpi/hwloc#653", "xaskasdf/ntransformer#5"], kind="note")


def _sample_summary(samples: list[dict]) -> dict:
    keys = ("sm_clock_mhz", "power_w", "temperature_c", "pcie_gen", "pcie_width")
    out = {"samples": len(samples)}
    for key in keys:
        values = [v for v in (as_number(x.get(key)) for x in samples) if v is not None]
        if values:
            out[key] = [min(values), max(values)]
    reasons = sorted({str(r) for x in samples for r in (x.get("throttle_reasons") or [])})
    if reasons:
        out["throttle_reasons"] = reasons
    return out


@rule("F2", "GPU clocks throttled")
def f2_throttle(facts: Facts):
    """Judged from NVML samples taken during GPU benchmarks: a thermal, power-brake or hardware slowdown
    while the GPU worked. SW power cap at the default power limit is how a GPU runs at its rated power
    (F3 reports a lowered limit); idle clocks are low by design."""
    hits, loaded = [], load_samples(facts)
    for rec, samples in loaded:
        slow = [x for x in samples if slowdowns(x)]
        if slow:
            hits.append((rec, samples, slow))
    if not hits:
        return None if loaded else _f2_not_judged(facts)      # judged and fine, or not judged at all
    reasons = sorted({r for _, _, slow in hits for x in slow for r in slowdowns(x)})
    total = sum(len(samples) for _, samples, _ in hits)
    throttled = sum(len(slow) for _, _, slow in hits)
    # NVML says HW slowdown cuts clocks by 2× or more: a clock, not a measured speed-up, so no ratio.
    impact = estimated("NVML: HW Slowdown reduces core clocks by a factor of 2 or more (clocks, not a measured "
                       "speed-up)", "kubeflow/kubeflow#68")
    return make(
        "F2", graded(impact), f"GPU clocks throttled under load ({', '.join(reasons)}) in {throttled} of {total} "
        "NVML samples", evidence=[bench(rec, state=_sample_summary(samples)) for rec, samples, _ in hits[:4]],
        impact=impact,
        fix="Check cooling and power delivery (nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER) while the GPU works.",
        references=["kubeflow/kubeflow#68", "choderalab/perses#613", "netdata/netdata#10362", "wookayin/gpustat#135",
                    "tensorflow/tensorflow#40042", "Microway/gpu-burn#3"])


def _f2_not_judged(facts: Facts):
    idle = []
    for path, dev in facts.gpu_devices():
        reasons = dev.get("throttle_reasons") if isinstance(dev.get("throttle_reasons"), list) else []
        found = [str(r) for r in reasons if str(r) in ACTIVE_SLOWDOWNS]
        if found:
            idle.append((path, found))
    if not idle:
        return None
    return make(
        "F2", "info", "slowdown reasons in the idle snapshot: not judged (no NVML sample taken while the GPU worked)",
        evidence=[fact(f"{p}.throttle_reasons", r) for p, r in idle],
        impact=estimated("clock event reasons describe the moment they are read; judge them under load",
                         "kubeflow/kubeflow#68"),
        fix="Run the GPU benchmarks so clocks and reasons are sampled under load.",
        references=["kubeflow/kubeflow#68", "wookayin/gpustat#135"], kind="note")


@rule("F3", "GPU power limit lowered")
def f3_power_limit(facts: Facts):
    def lowered(dev):
        power = dev.get("power") if isinstance(dev.get("power"), dict) else {}
        limit, default = as_number(power.get("limit_w")), as_number(power.get("default_limit_w"))
        return (limit, default) if limit and default and limit < 0.95 * default else None
    hits = _per_gpu(facts, lowered)
    if not hits:
        return None
    limit, default = hits[0][2]
    impact = estimated("Intel Arc at a 155 W cap: ~10% loss (no NVIDIA number in the sources)",
                       "ArthurVardevanyan/HomeLab#664", 1.1)
    return make(
        "F3", graded(impact), f"GPU power limit {limit:.0f} W is below the default {default:.0f} W",
        evidence=[fact(f"{p}.power", d.get("power")) for p, d, _ in hits], impact=impact,
        fix="sudo nvidia-smi -pl <default W> (or -rgc to reset locked clocks), if the cap was not deliberate.",
        references=["stackhpc/ansible-slurm-appliance#975", "NVIDIA/open-gpu-kernel-modules#483",
                    "ArthurVardevanyan/HomeLab#664"])


@rule("F4", "NVIDIA persistence mode off")
def f4_persistence(facts: Facts):
    if str(facts.get("system.os.name") or "linux").lower() != "linux":
        return None
    hits = _per_gpu(facts, lambda d: d.get("persistence_mode") is False)
    if not hits:
        return None
    # Off is the driver's default; turning it on trades idle power for start-up time: an opportunity.
    return make(
        "F4", "low", "NVIDIA persistence mode is off: every CUDA process pays driver initialisation", kind="opportunity",
        evidence=[fact(f"{p}.persistence_mode", False) for p, _, _ in hits],
        impact=estimated("per-test 0.31 s vs 9.86 s when persistence mode was disabled", "gunrock/gunrock#88"),
        fix="sudo systemctl enable --now nvidia-persistenced (or nvidia-smi -pm 1).",
        references=["gunrock/gunrock#88", "arrayfire/arrayfire#2467", "pytorch/pytorch#22583", "leptonai/gpud#137"])


@rule("F5", "running on a MIG slice")
def f5_mig(facts: Facts):
    hits = _per_gpu(facts, lambda d: d.get("mig_mode") in (True, 1, "enabled", "Enabled"))
    visible = facts.env("CUDA_VISIBLE_DEVICES") or ""
    if not hits and "MIG-" not in visible:
        return None
    evidence = [fact(f"{p}.mig_mode", d.get("mig_mode")) for p, d, _ in hits]
    if "MIG-" in visible:
        evidence.append(fact("env_vars.vars.CUDA_VISIBLE_DEVICES", visible))
    # A MIG slice is an allocation, not a fault; it matters for reading the results (peaks are the
    # whole GPU's): a note about the measurement.
    return make(
        "F5", "low", "MIG is enabled: processes get a slice of the GPU; % of peak is against the whole GPU",
        evidence=evidence, kind="note",
        impact=estimated("a 1g/2g/3g slice tops out at 1/7…3/7 of the GPU's engines; \"massive performance loss\"",
                         "ollama/ollama#4814"),
        fix="If the whole GPU is wanted: sudo nvidia-smi -i <gpu> -mig 0 (needs no running processes).",
        references=["ollama/ollama#4814", "NVIDIA/DCGM#138", "NVIDIA/DCGM#152", "utkuozdemir/nvidia_gpu_exporter#203"])


# CUDA's minor-version compatibility (CUDA 11 and later): a build from CUDA major M runs on any driver of
# the same major from this branch on, whatever its minor. NVIDIA, CUDA Compatibility guide, "Minor
# Version Compatibility", table 1 (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html).
MIN_DRIVER_BRANCH = {11: 450, 12: 525, 13: 580}


def driver_can_run(built: str, driver_cuda, driver_version) -> tuple[bool | None, str]:
    """(True/False/None = unknown, why) for a CUDA `built` wheel on a driver supporting `driver_cuda`."""
    b, d = version_tuple(built)[:2], version_tuple(str(driver_cuda or ""))[:2]
    if len(b) < 2 or len(d) < 2:
        return None, "versions unknown"
    branch = version_tuple(str(driver_version or ""))[:1]
    if d[0] < b[0]:
        return False, (f"the driver supports CUDA {d[0]}.{d[1]} only; a CUDA {b[0]}.x build needs a CUDA {b[0]} "
                       f"driver{f' (≥ {MIN_DRIVER_BRANCH[b[0]]})' if b[0] in MIN_DRIVER_BRANCH else ''} or the "
                       "forward-compatibility package")
    if d[0] > b[0] or d >= b:
        return True, "the driver is as new as the build (backward compatibility)"
    if b[0] < 11:
        return False, f"before CUDA 11 a build needs a driver of its own version (CUDA {b[0]}.{b[1]}, driver {d[0]}.{d[1]})"
    least = MIN_DRIVER_BRANCH.get(b[0])
    if least is not None and branch and branch[0] < least:
        return False, f"driver branch {branch[0]} is below {least}, the minimum for CUDA {b[0]}.x minor-version compatibility"
    return True, f"CUDA {b[0]}.{b[1]} build on a CUDA {d[0]}.{d[1]} driver: minor-version compatibility"


@rule("F6", "PyTorch's CUDA build cannot use the GPU")
def f6_old_driver(facts: Facts):
    """Critical only when the GPU really cannot be used: torch.cuda.is_available() False or a recorded
    CUDA initialisation error. A driver older than the wheel within the same major runs it (minor-version
    compatibility): silent. With availability unknown, an incompatible pair is reported as predicted."""
    built = facts.get("torch.cuda.built_version")
    if not facts.installed("torch") or not isinstance(built, str) or not facts.gpus_present():
        return None
    driver, driver_version = facts.get("gpus.cuda_driver_version"), facts.get("gpus.driver_version")
    available, init_error = facts.get("torch.cuda.available"), facts.get("torch.cuda.init_error")
    can_run, why = driver_can_run(built, driver, driver_version)
    evidence = [fact("torch.cuda.built_version", built), fact("gpus.cuda_driver_version", driver),
                fact("gpus.driver_version", driver_version), fact("torch.cuda.available", available)]
    if isinstance(init_error, str) and init_error:
        evidence.append(fact("torch.cuda.init_error", init_error))
    unusable = available is False or (isinstance(init_error, str) and bool(init_error))
    if not unusable and (available is True or can_run is not False):
        return None
    if unusable:
        reason = why if can_run is False else (init_error or "torch.cuda.is_available() is False")
        severity, title = "critical", f"PyTorch (CUDA {built}) cannot use the GPU: {reason}"
    else:
        severity, title = "medium", f"PyTorch (CUDA {built}) will likely not run on this driver: {why}"
    return make(
        "F6", severity, title, evidence=evidence,
        impact=estimated("silent full CPU fallback (no ratio)", "weaviate/Verba#72"),
        fix="Upgrade the NVIDIA driver, or install a torch wheel built for the driver's CUDA major version "
            "(pip install torch --index-url https://download.pytorch.org/whl/cuXYZ).",
        references=["weaviate/Verba#72", "googlecolab/colabtools#1685", "ivadomed/ivadomed#69", "pytorch/pytorch#4546",
                    "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html"])


@rule("F7", "ECC enabled (informational)")
def f7_ecc(facts: Facts):
    hits = _per_gpu(facts, lambda d: d.get("ecc_enabled") is True)
    if not hits:
        return None
    return make(
        "F7", "info", "ECC is on: a little less usable GPU memory", kind="note",
        evidence=[fact(f"{p}.ecc_enabled", True) for p, _, _ in hits],
        impact=estimated("ECC \"reduces the amount of available memory by 12.5%\" on older GPUs (cudahandbook)",
                         "converged-computing/performance-study#61"),
        fix="Nothing to do on datacenter GPUs (disabling ECC is not advisable).",
        references=["converged-computing/performance-study#61", "netdata/netdata#15755", "leptonai/gpud#86"])


NCCL_VARS = ("NCCL_IB_DISABLE", "NCCL_P2P_DISABLE", "NCCL_SHM_DISABLE", "NCCL_NET", "NCCL_P2P_LEVEL")


@rule("F8", "NCCL transport forced or downgraded")
def f8_nccl(facts: Facts):
    env = facts.env_set(*NCCL_VARS)
    forced = {k: v for k, v in env.items()
              if (k.endswith("_DISABLE") and truthy_env(v)) or (k == "NCCL_NET" and v.lower() == "socket")
              or k == "NCCL_P2P_LEVEL"}
    if not forced:
        return None
    return make(
        "F8", "medium", "NCCL transports restricted: " + ", ".join(f"{k}={v}" for k, v in forced.items()),
        evidence=[fact(f"env_vars.vars.{k}", v) for k, v in forced.items()], ab=True,
        impact=estimated("NCCL_IB_DISABLE=1 (also disables RoCE): 2.51 vs 5.72 s/step on 2×4 A40",
                         "scottclowe/pytorch-experiment-template#11", 2.28),
        fix="Unset " + ", ".join(forced) + " unless they work around a hang; compare with nccl-tests both ways.",
        references=["scottclowe/pytorch-experiment-template#11", "hiyouga/LlamaFactory#6111", "NVIDIA/nccl-tests#74",
                    "NVIDIA/nccl#1439", "NVIDIA/nccl#1320"],
        experiment=experiment(dict.fromkeys(forced), _nccl_collectives(facts),
                              "NCCL transport variables unset (collectives re-run through torchrun on this node)"))


COLLECTIVE_OPS = {"all_reduce", "allreduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "send_recv"}


def _nccl_collectives(facts: Facts) -> list[dict]:
    """F8's candidates: collectives measured over NCCL (gloo ignores NCCL_*) on one node — a re-run
    launches the same ranks with torchrun --standalone here (probes/bench/collectives.py); inter-node
    transports (IB, sockets) need the job's own launcher."""
    def params(r):
        return r.get("params") if isinstance(r.get("params"), dict) else {}
    return [r for r in facts.benchmarks(op=COLLECTIVE_OPS)
            if params(r).get("backend", r.get("variant")) == "nccl" and (params(r).get("nnodes") or 1) == 1]


@rule("F9", "CUDA module loading eager")
def f9_module_loading(facts: Facts):
    value = facts.env("CUDA_MODULE_LOADING")
    if value is None or value.strip().upper() != "EAGER":
        return None
    impact = estimated("CUDA context + small tensor: ~287 MB with LAZY vs ~667 MB eager (memory, start-up)",
                       "pytorch/pytorch#86509")
    return make(
        "F9", graded(impact), "CUDA_MODULE_LOADING=EAGER loads every kernel at context creation",
        evidence=[fact("env_vars.vars.CUDA_MODULE_LOADING", value)], impact=impact,
        fix="Unset CUDA_MODULE_LOADING (PyTorch ≥ 1.13 defaults to LAZY).",
        references=["pytorch/pytorch#86509", "cyrusbehr/YOLOv8-TensorRT-CPP#33", "AmusementClub/vs-mlrt#27"])


@rule("F10", "Arm CPU: BF16 fast-math off")
def f10_arm_bf16(facts: Facts):
    if facts.arch() not in ("aarch64", "arm64") or not facts.installed("torch") or not facts.flag("bf16"):
        return None
    if facts.env_set("ONEDNN_DEFAULT_FPMATH_MODE", "DNNL_DEFAULT_FPMATH_MODE"):
        return None
    # BF16 fast-math trades matmul precision for speed: an opportunity.
    impact = estimated("ResNet50 with ONEDNN_DEFAULT_FPMATH_MODE=BF16: ~1.17–1.41×", "uxlfoundation/oneDNN#3104", 1.34)
    return make(
        "F10", graded(impact, "opportunity"), "Arm CPU with BF16 but oneDNN fast-math (BF16) is off", ab=True,
        evidence=[fact("system.cpu.flags.bf16", True), fact("env_vars.vars.ONEDNN_DEFAULT_FPMATH_MODE", None)],
        impact=impact, kind="opportunity",
        fix="export ONEDNN_DEFAULT_FPMATH_MODE=BF16 if the reduced matmul precision is acceptable.",
        references=["uxlfoundation/oneDNN#3104", "uxlfoundation/oneDNN#2838", "aws/aws-graviton-getting-started#227",
                    "aws/aws-graviton-getting-started#369"],
        experiment=experiment({"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"},
                              facts.benchmarks(framework="torch", device="cpu", dtype="fp32", op={"gemm", "conv2d"}),
                              "ONEDNN_DEFAULT_FPMATH_MODE=BF16"))

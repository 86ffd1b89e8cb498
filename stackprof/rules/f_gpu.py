"""F. GPU / driver / system (catalogue F1–F10). Host NVML facts under `gpus`."""
from __future__ import annotations

from stackprof.rules.facts import Facts, as_number, truthy_env, version_tuple
from stackprof.rules.findings import estimated, experiment, fact, make
from stackprof.rules.registry import rule

SLOWDOWN_WORDS = ("hw_slowdown", "hw slowdown", "thermal", "power_brake", "power brake", "sw_power_cap",
                  "sw power cap", "power_cap")


def _per_gpu(facts: Facts, test) -> list[tuple[str, dict, object]]:
    hits = []
    for path, dev in facts.gpu_devices():
        value = test(dev)
        if value:
            hits.append((path, dev, value))
    return hits


@rule("F1", "PCIe link trained below capability")
def f1_pcie(facts: Facts):
    def degraded(dev):
        pcie = dev.get("pcie") if isinstance(dev.get("pcie"), dict) else {}
        width, width_max = as_number(pcie.get("width")), as_number(pcie.get("width_max"))
        gen, gen_max = as_number(pcie.get("gen")), as_number(pcie.get("gen_max"))
        if width and width_max and width < width_max:
            return "width"
        if gen and gen_max and gen < gen_max:
            return "gen"
        return None
    hits = _per_gpu(facts, degraded)
    if not hits:
        return None
    width = any(kind == "width" for *_, kind in hits)
    return make(
        "F1", "medium" if width else "low",
        "GPU PCIe link runs below its capability (" + ("lanes" if width else "generation; idle GPUs downclock the link") + ")",
        evidence=[fact(f"{p}.pcie", d.get("pcie")) for p, d, _ in hits],
        impact=estimated("RTX 4090 on a downgraded link: ~40 vs 50+ GB/s", "tinygrad/open-gpu-kernel-modules#6", 1.25),
        fix="Re-seat the card / riser, check BIOS PCIe settings; re-check under load (nvidia-smi -q -d PCIE) since "
            "ASPM lowers the generation at idle.",
        references=["janhq/jan#183", "noonghunna/club-3090#1028", "tinygrad/open-gpu-kernel-modules#6",
                    "xaskasdf/ntransformer#5", "Syllo/nvtop#6"])


@rule("F2", "GPU clocks throttled")
def f2_throttle(facts: Facts):
    def active(dev):
        reasons = dev.get("throttle_reasons") if isinstance(dev.get("throttle_reasons"), list) else []
        return [r for r in reasons if any(w in str(r).lower() for w in SLOWDOWN_WORDS)]
    hits = _per_gpu(facts, active)
    if not hits:
        return None
    reasons = sorted({str(r) for *_, rs in hits for r in rs})
    hardware = any("hw" in r.lower() or "brake" in r.lower() for r in reasons)
    return make(
        "F2", "high" if hardware else "medium", "GPU clocks throttled: " + ", ".join(reasons),
        evidence=[fact(f"{p}.throttle_reasons", rs) for p, _, rs in hits]
        + [fact(f"{p}.clocks", d.get("clocks")) for p, d, _ in hits],
        impact=estimated("NVML: HW Slowdown reduces core clocks by a factor of 2 or more", "kubeflow/kubeflow#68", 2.0),
        fix="Check cooling and power delivery (nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER); raise the power cap "
            "to default if it was lowered.",
        references=["kubeflow/kubeflow#68", "choderalab/perses#613", "netdata/netdata#10362", "wookayin/gpustat#135",
                    "tensorflow/tensorflow#40042", "Microway/gpu-burn#3"])


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
    return make(
        "F3", "medium", f"GPU power limit {limit:.0f} W is below the default {default:.0f} W",
        evidence=[fact(f"{p}.power", d.get("power")) for p, d, _ in hits],
        impact=estimated("Intel Arc at a 155 W cap: ~10% loss (no NVIDIA number in the sources)",
                         "ArthurVardevanyan/HomeLab#664", 1.1),
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
    return make(
        "F4", "low", "NVIDIA persistence mode is off: every CUDA process pays driver initialisation",
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
    return make(
        "F5", "medium", "MIG is enabled: processes get a slice of the GPU", evidence=evidence,
        impact=estimated("a 1g/2g/3g slice tops out at 1/7…3/7 of the GPU's engines; \"massive performance loss\"",
                         "ollama/ollama#4814"),
        fix="If the whole GPU is wanted: sudo nvidia-smi -i <gpu> -mig 0 (needs no running processes).",
        references=["ollama/ollama#4814", "NVIDIA/DCGM#138", "NVIDIA/DCGM#152", "utkuozdemir/nvidia_gpu_exporter#203"])


@rule("F6", "driver older than the wheel's CUDA runtime")
def f6_old_driver(facts: Facts):
    built = facts.get("torch.cuda.built_version")
    driver = facts.get("gpus.cuda_driver_version")
    if not facts.installed("torch") or not isinstance(built, str) or not facts.gpus_present():
        return None
    too_old = driver is not None and version_tuple(str(driver))[:2] < version_tuple(built)[:2]
    fallback = facts.get("torch.cuda.available") is False
    if not too_old and not fallback:
        return None
    return make(
        "F6", "critical", f"PyTorch (CUDA {built}) cannot use the GPU"
        + (f": the driver supports CUDA {driver} only" if too_old else ": torch.cuda.is_available() is False"),
        evidence=[fact("torch.cuda.built_version", built), fact("gpus.cuda_driver_version", driver),
                  fact("gpus.driver_version", facts.get("gpus.driver_version")),
                  fact("torch.cuda.available", facts.get("torch.cuda.available"))],
        impact=estimated("silent full CPU fallback (no ratio)", "weaviate/Verba#72"),
        fix="Upgrade the NVIDIA driver, or install a torch wheel built for the driver's CUDA version.",
        references=["weaviate/Verba#72", "googlecolab/colabtools#1685", "ivadomed/ivadomed#69", "pytorch/pytorch#4546"])


@rule("F7", "ECC enabled (informational)")
def f7_ecc(facts: Facts):
    hits = _per_gpu(facts, lambda d: d.get("ecc_enabled") is True)
    if not hits:
        return None
    return make(
        "F7", "info", "ECC is on: a little less usable GPU memory",
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
        experiment=experiment(dict.fromkeys(forced), facts.benchmarks(op={"allreduce", "all_reduce"}, device="cuda"),
                              "NCCL transport variables unset"))


@rule("F9", "CUDA module loading eager")
def f9_module_loading(facts: Facts):
    value = facts.env("CUDA_MODULE_LOADING")
    if value is None or value.strip().upper() != "EAGER":
        return None
    return make(
        "F9", "low", "CUDA_MODULE_LOADING=EAGER loads every kernel at context creation",
        evidence=[fact("env_vars.vars.CUDA_MODULE_LOADING", value)],
        impact=estimated("CUDA context + small tensor: ~287 MB with LAZY vs ~667 MB eager (memory, start-up)",
                         "pytorch/pytorch#86509"),
        fix="Unset CUDA_MODULE_LOADING (PyTorch ≥ 1.13 defaults to LAZY).",
        references=["pytorch/pytorch#86509", "cyrusbehr/YOLOv8-TensorRT-CPP#33", "AmusementClub/vs-mlrt#27"])


@rule("F10", "Arm CPU: BF16 fast-math off")
def f10_arm_bf16(facts: Facts):
    if facts.arch() not in ("aarch64", "arm64") or not facts.installed("torch") or not facts.flag("bf16"):
        return None
    if facts.env_set("ONEDNN_DEFAULT_FPMATH_MODE", "DNNL_DEFAULT_FPMATH_MODE"):
        return None
    return make(
        "F10", "low", "Arm CPU with BF16 but oneDNN fast-math (BF16) is off", ab=True,
        evidence=[fact("system.cpu.flags.bf16", True), fact("env_vars.vars.ONEDNN_DEFAULT_FPMATH_MODE", None)],
        impact=estimated("ResNet50 with ONEDNN_DEFAULT_FPMATH_MODE=BF16: ~1.17–1.41×", "uxlfoundation/oneDNN#3104", 1.34),
        fix="export ONEDNN_DEFAULT_FPMATH_MODE=BF16 if the reduced matmul precision is acceptable.",
        references=["uxlfoundation/oneDNN#3104", "uxlfoundation/oneDNN#2838", "aws/aws-graviton-getting-started#227",
                    "aws/aws-graviton-getting-started#369"],
        experiment=experiment({"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"},
                              facts.benchmarks(framework="torch", device="cpu", dtype="fp32", op={"gemm", "conv2d"}),
                              "ONEDNN_DEFAULT_FPMATH_MODE=BF16"))

"""D. TensorFlow and E. JAX (catalogue D2, D3, E1, E2; D1 needs TF's start-up log, which no probe captures)."""
from __future__ import annotations

from stackprof.rules import provenance as prov
from stackprof.rules.facts import Facts
from stackprof.rules.findings import estimated, experiment, fact, graded, make
from stackprof.rules.registry import rule


def _gpu_words(devices) -> bool:
    return any("gpu" in str(d).lower() or "cuda" in str(d).lower() for d in devices or [])


@rule("D2", "TensorFlow oneDNN optimizations off")
def d2_tf_onednn(facts: Facts):
    if not facts.installed("tensorflow") or facts.arch() not in ("x86_64", "amd64"):
        return None
    opts = facts.env("TF_ENABLE_ONEDNN_OPTS")
    if facts.get("tensorflow.onednn_enabled") is not False and opts != "0":
        return None
    evidence = [fact("tensorflow.onednn_enabled", facts.get("tensorflow.onednn_enabled"))]
    if opts is not None:
        evidence.append(fact("env_vars.vars.TF_ENABLE_ONEDNN_OPTS", opts))
    # TF ≥ 2.9 turns oneDNN on by default only on CPUs with VNNI/BF16/AMX: off without the variable is
    # TF's default on this CPU (an opportunity to measure); TF_ENABLE_ONEDNN_OPTS=0 is the environment's.
    kind = "defect" if opts == "0" else "opportunity"
    impact = estimated("TF 2.9 oneDNN on: 10 threads 14.2 → 9.4 s (better) but 1 thread 3.8 → 4.5 s (worse)",
                       "uxlfoundation/oneDNN#1393", 1.5)
    return make(
        "D2", graded(impact, kind), "TensorFlow runs without its oneDNN CPU optimizations"
        + (" (TF_ENABLE_ONEDNN_OPTS=0)" if opts == "0" else " (TensorFlow's default on this CPU)"),
        evidence=evidence, ab=True, impact=impact, kind=kind,
        fix="A/B with TF_ENABLE_ONEDNN_OPTS=1 on your workload (it helps multi-threaded runs, can hurt single-threaded).",
        references=["uxlfoundation/oneDNN#1393", "uxlfoundation/oneDNN#1112", "conda/conda#7239", "mind/wheels#12",
                    "tensorflow/tensorflow#45853", "tensorflow/tensorflow#56039"],
        experiment=experiment({"TF_ENABLE_ONEDNN_OPTS": "1"}, facts.benchmarks(framework="tensorflow", device="cpu"),
                              "TF_ENABLE_ONEDNN_OPTS=1"))


@rule("D3", "TensorFlow cannot see the GPU")
def d3_tf_no_gpu(facts: Facts):
    if not facts.installed("tensorflow") or not facts.gpus_present():
        return None
    devices = facts.get("tensorflow.devices")
    if not isinstance(devices, list) or _gpu_words(devices):
        return None
    tf_dist = next((n for n in ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly", "intel-tensorflow")
                    if prov.dist(facts, n)), "tensorflow")
    return make(
        "D3", "critical", f"TensorFlow {facts.get('tensorflow.version')} lists no GPU on a machine with NVIDIA GPUs"
        + prov.gpu_build_words(facts, tf_dist, ("nvidia-",)),
        evidence=[fact("tensorflow.devices", devices), fact("gpus.count", facts.get("gpus.count")),
                  fact("tensorflow.build_info", facts.get("tensorflow.build_info"))] + prov.phrase_fact(facts, tf_dist),
        impact=estimated("CPU-only execution (TF 2.10 was the last with native-Windows GPU support)",
                         "tensorflow/tensorflow#60241"),
        fix="pip install 'tensorflow[and-cuda]' on Linux (WSL2 on Windows); check that libcudnn loads.",
        references=["tensorflow/tensorflow#64536", "tensorflow/tensorflow#60156", "tensorflow/tensorflow#60241",
                    "JdeRobot/BehaviorMetrics#385"])


@rule("E1", "CPU-only jaxlib on a GPU machine")
def e1_jax_cpu(facts: Facts):
    if not facts.installed("jax") or not facts.gpus_present():
        return None
    backend = facts.get("jax.backend")
    if backend != "cpu":
        return None
    return make(
        "E1", "critical", "JAX runs on the CPU on a machine with NVIDIA GPUs"
        + prov.gpu_build_words(facts, "jaxlib", ("jax-cuda", "jax-rocm")),
        evidence=[fact("jax.backend", backend), fact("jax.jaxlib_version", facts.get("jax.jaxlib_version")),
                  fact("gpus.count", facts.get("gpus.count"))] + prov.phrase_fact(facts, "jaxlib"),
        impact=estimated("\"super slow\" CPU execution (no ratio quoted)", "google-research/maxim#42"),
        fix="pip install -U 'jax[cuda12]' (installs jax-cuda12-plugin / -pjrt).",
        references=["jax-ml/jax#29068", "jax-ml/jax#4059", "jax-ml/jax#17624", "google-research/maxim#42"])


@rule("E2", "XLA / JAX memory settings")
def e2_xla_settings(facts: Facts):
    if not facts.installed("jax"):
        return None
    env = facts.env_set("XLA_FLAGS", "XLA_PYTHON_CLIENT_ALLOCATOR", "XLA_PYTHON_CLIENT_PREALLOCATE",
                        "XLA_PYTHON_CLIENT_MEM_FRACTION")
    allocator = (env.get("XLA_PYTHON_CLIENT_ALLOCATOR") or "").lower()
    on_gpu = str(facts.get("jax.backend") or "") in ("gpu", "cuda")
    impact = estimated("not quantified in the JAX docs", "https://docs.jax.dev/en/latest/gpu_performance_tips.html")
    if allocator == "platform":     # an environment setting meant for debugging: a defect, no ratio → low
        title, kind, severity = ("XLA_PYTHON_CLIENT_ALLOCATOR=platform allocates and frees on every use (slow)",
                                 "defect", graded(impact))
    elif on_gpu and "XLA_FLAGS" not in env and (facts.num("gpus.count") or 0) > 1:
        title, kind, severity = "multi-GPU JAX without the recommended XLA_FLAGS", "opportunity", "info"
    else:
        return None
    return make(
        "E2", severity, title, evidence=[fact(f"env_vars.vars.{k}", v) for k, v in env.items()]
        + [fact("jax.backend", facts.get("jax.backend"))], impact=impact, kind=kind,
        fix="Unset XLA_PYTHON_CLIENT_ALLOCATOR (use it only for debugging); for multi-GPU set XLA_FLAGS such as "
            "--xla_gpu_enable_latency_hiding_scheduler=true before importing jax.",
        references=["https://docs.jax.dev/en/latest/gpu_performance_tips.html",
                    "https://docs.jax.dev/en/latest/xla_flags.html", "jax-ml/jax#36927"])

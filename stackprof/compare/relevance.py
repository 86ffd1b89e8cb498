"""Which environment facts can move which benchmark: fact groups, and the groups per kind of operation.

Each group names the catalogue causes (shared/reference/slow-env-causes.md, the rule ids in
stackprof/rules/) whose "Detect" lines read those facts. Adding a kind of benchmark = one line in
OP_FAMILIES; adding a fact = one pattern in its group.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FactGroup:
    name: str
    title: str
    causes: tuple[str, ...]
    patterns: tuple[str, ...]


def _env(*names: str) -> tuple[str, ...]:
    return tuple(f"env_vars.vars.{n}" for n in names)


GROUPS = {g.name: g for g in (
    FactGroup("hardware", "different hardware", (), ()),     # filled from envdiff.HARDWARE
    FactGroup("blas", "BLAS/LAPACK library, its version and kernel architecture", ("A1", "A5", "A6", "A7", "A10"),
              ("native_libs.libraries[blas*", "numpy.blas*", "numpy.lapack*", "numpy.runtime_blas*",
               "numpy.scipy.blas*",
               "numpy.scipy.lapack*", "packages[scipy-openblas*", "packages[mkl*", "packages[openblas*",
               "packages[intel-openmp*", "packages[blis*", "packages[flexiblas*",
               "packages.builds.*.links[blas:*", "packages.builds.*.links[lapack:*",
               "packages.builds.*.bundled[blas:*", "torch.config.mkl_version",
               "torch.config.build_settings.BLAS_INFO", "torch.config.build_settings.LAPACK_INFO",
               "torch.config.build_settings.USE_MKL", "torch.backends.mkl_available")
              + _env("OPENBLAS_CORETYPE", "OPENBLAS_VERBOSE", "OPENBLAS_L2_SIZE", "MKL_DEBUG_CPU_TYPE", "MKL_CBWR",
                     "MKL_ENABLE_INSTRUCTIONS", "MKL_THREADING_LAYER", "MKL_INTERFACE_LAYER", "BLIS_ARCH_TYPE",
                     "FLEXIBLAS*", "LD_PRELOAD", "LD_LIBRARY_PATH")),
    FactGroup("threads", "thread counts, affinity and OpenMP runtimes",
              ("A2", "A3", "A4", "A9", "B1", "B2", "B3", "B4"),
              ("native_libs.libraries[*].num_threads", "native_libs.libraries[*].threading_layer",
               "native_libs.libraries[openmp*", "native_libs.openmp_runtimes*", "native_libs.multiple_openmp",
               "torch.parallel*", "system.affinity*", "system.cgroup.cpu_quota_cores", "system.os_cpu_count",
               "packages.builds.*.links[openmp:*", "packages.builds.*.bundled[openmp:*",
               "tensorflow.threads*")
              + _env("OMP_*", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MKL_DYNAMIC", "BLIS_NUM_THREADS",
                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_*", "KMP_*", "GOMP_*", "TF_NUM_*")),
    FactGroup("cpu_isa", "instruction-set level used by the kernels", ("A8", "C8", "D1"),
              ("system.cpu.isa_level", "system.cpu.flags*", "numpy.simd*", "torch.cpu_capability")
              + _env("ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                     "NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES")),
    FactGroup("numpy_build", "numpy release and build", ("A1",),
              ("numpy.version", "numpy.installed", "numpy.compilers*", "numpy.build_machine*", "packages[numpy]",
               "packages[numpy].provenance", "packages.builds.numpy*", "packages[scipy].provenance",
               "packages.builds.scipy*",
               "packages[scipy]", "numpy.scipy.version")),
    FactGroup("torch_build", "PyTorch release and build configuration", ("C7", "C9"),
              ("torch.version", "torch.local_version", "torch.git_version", "torch.debug", "torch.installed",
               "torch.config*", "packages[torch]", "packages[torch].provenance", "packages.builds.torch*")),
    FactGroup("onednn", "oneDNN (MKLDNN) availability and settings", ("C7", "D2"),
              ("torch.config.mkldnn_version", "torch.config.build_settings.USE_MKLDNN", "torch.backends.mkldnn_enabled",
               "packages.builds.*.links[dnn:*", "packages.builds.*.bundled[dnn:*",
               "tensorflow.onednn_enabled") + _env("ONEDNN_*", "DNNL_*", "TF_ENABLE_ONEDNN_OPTS")),
    FactGroup("cpu_platform", "CPU frequency policy, NUMA and container limits", ("B1", "B5", "B6"),
              ("system.cpu.governor", "system.cpu.scaling_driver", "system.cpu.max_mhz", "system.cpu.numa_nodes",
               "system.cpu.hybrid*", "system.cpu.threads_per_core", "system.cgroup*", "system.container*")),
    FactGroup("memory", "memory allocation: transparent huge pages, allocator", ("B7",),
              ("system.thp*", "system.memory.total_bytes", "numpy.madvise_hugepage")
              + _env("NUMPY_MADVISE_HUGEPAGE", "THP_MEM_ALLOC_ENABLE", "MALLOC_*", "LD_PRELOAD")),
    FactGroup("cuda_stack", "CUDA runtime, cuDNN and PyTorch GPU settings", ("C1", "C2", "C4", "C5", "C6", "F6", "F9"),
              ("torch.cuda*", "torch.backends*", "torch.hip_version", "torch.triton*", "torch.compile*",
               "native_libs.cuda_libraries*",
               "packages.builds.*.links[cuda:*", "packages.builds.*.bundled[cuda:*", "packages.builds.*.links[rocm:*",
               "packages[nvidia-*", "packages[triton]", "tensorflow.build_info*", "jax.backend", "jax.jaxlib_version")
              + _env("CUDA_*", "CUBLAS_*", "CUBLASLT_*", "NVIDIA_TF32_OVERRIDE", "TORCH_CUDNN_*", "PYTORCH_*",
                     "TORCH_ALLOW_TF32_*")),
    FactGroup("gpu_state", "GPU driver, clocks, power and modes", ("F2", "F3", "F4", "F5", "F6", "F7"),
              ("gpus.driver_version", "gpus.cuda_driver_version", "gpus.available", "gpus.count",
               "gpus.devices[*].clocks*", "gpus.devices[*].power*", "gpus.devices[*].throttle_reasons*",
               "gpus.devices[*].persistence_mode", "gpus.devices[*].ecc_enabled", "gpus.devices[*].mig_mode",
               "gpus.devices[*].name", "gpus.devices[*].memory_total_bytes") + _env("CUDA_VISIBLE_DEVICES")),
    FactGroup("pcie", "PCIe link and host placement of the GPU", ("F1", "B5", "C13"),
              ("gpus.devices[*].pcie*", "gpus.devices[*].numa_node", "gpus.devices[*].cpu_affinity",
               "gpus.devices[*].nvlink*")),
    FactGroup("nccl", "NCCL version and transport settings", ("F8",),
              ("torch.cuda.nccl_version", "packages[nvidia-nccl*") + _env("NCCL_*")),
    FactGroup("python", "Python build", ("C11",),
              ("python.version", "python.implementation", "python.debug_build", "python.free_threaded",
               "python.compiler")),
    FactGroup("tensorflow_build", "TensorFlow release and build", ("D1", "D2"),
              ("tensorflow*", "packages[tensorflow*") + _env("TF_*")),
    FactGroup("jax_build", "JAX release and backend", ("E1", "E2"),
              ("jax*", "packages[jax*") + _env("XLA_*", "JAX_*")),
)}

# Where the framework's build came from (pip wheel, conda, distribution package, local build, vendor): the
# first explanation of any of its kernels. What the build bundles and links to (packages.builds.*) is in
# the blas/threads/onednn/cuda_stack groups by kind, and in the framework's build group.
PROVENANCE = {g.name: g for g in (
    FactGroup("numpy_provenance", "where the numpy/scipy build came from (pip, conda, distribution, local build)",
              ("A1", "A9", "I1"), ("packages[numpy].provenance", "packages[scipy].provenance")),
    FactGroup("torch_provenance", "where the PyTorch build came from (index, conda, vendor, source)",
              ("C1", "C9", "A9", "I1"), ("packages[torch].provenance",)),
    FactGroup("tensorflow_provenance", "where the TensorFlow build came from", ("D3", "I1"),
              ("packages[tensorflow*].provenance", "packages[tf-nightly].provenance")),
    FactGroup("jax_provenance", "where the jaxlib build came from", ("E1", "I1"), ("packages[jax*].provenance",)),
)}
GROUPS.update(PROVENANCE)
FRAMEWORK_PROVENANCE = {"numpy": "numpy_provenance", "scipy": "numpy_provenance", "torch": "torch_provenance",
                        "tensorflow": "tensorflow_provenance", "jax": "jax_provenance"}

# (keywords in the op name, groups on CPU, groups on a GPU); the first family whose keyword occurs wins.
OP_FAMILIES = (
    (("h2d", "d2h", "transfer", "pinned", "pageable", "d2d", "peer"), ("memory", "threads", "cpu_platform"),
     ("pcie", "gpu_state", "cuda_stack", "memory")),
    (("allreduce", "all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "collective",
      "sendrecv", "send_recv"), ("threads", "cpu_platform"), ("nccl", "pcie", "gpu_state", "cuda_stack")),
    (("conv",), ("onednn", "threads", "cpu_isa", "blas", "cpu_platform"), ("cuda_stack", "gpu_state")),
    (("attention", "sdpa", "flash"), ("onednn", "blas", "threads", "cpu_isa", "cpu_platform"),
     ("cuda_stack", "gpu_state")),
    (("gemm", "matmul", "mm", "linear", "dot", "gemv", "svd", "solve", "eig", "cholesky", "inv", "lstsq", "qr",
      "linalg", "fft"), ("blas", "threads", "cpu_isa", "cpu_platform"), ("cuda_stack", "gpu_state")),
    (("copy", "stream", "triad", "scale", "bandwidth", "memcpy", "memset", "fill", "add"),
     ("memory", "threads", "cpu_platform", "cpu_isa"), ("gpu_state", "cuda_stack")),
    (("launch", "overhead", "sync", "latency", "import", "startup"), ("python", "cpu_platform"),
     ("cuda_stack", "gpu_state", "python")),
)
DEFAULT_GROUPS = (("threads", "cpu_isa", "cpu_platform", "blas", "memory"), ("cuda_stack", "gpu_state", "pcie"))
FRAMEWORK_GROUPS = {"numpy": "numpy_build", "scipy": "numpy_build", "torch": "torch_build",
                    "tensorflow": "tensorflow_build", "jax": "jax_build", "python": "python"}


def groups_for(op: str | None, framework: str | None, device: str | None) -> list[FactGroup]:
    """Fact groups that can explain a change in this benchmark, most specific first."""
    name = (op or "").lower()
    gpu = bool(device) and not str(device).startswith("cpu")
    chosen = DEFAULT_GROUPS[1 if gpu else 0]
    for keywords, cpu_groups, gpu_groups in OP_FAMILIES:
        if any(k in name for k in keywords):
            chosen = gpu_groups if gpu else cpu_groups
            break
    names = list(chosen)
    build = FRAMEWORK_GROUPS.get((framework or "").lower())
    if build:
        names.insert(1 if names and names[0] in ("blas", "pcie", "onednn") else 0, build)
    if framework == "torch" and not gpu and "onednn" not in names:
        names.append("onednn")
    if FRAMEWORK_PROVENANCE.get((framework or "").lower()):
        names.insert(0, FRAMEWORK_PROVENANCE[(framework or "").lower()])
    names.append("python")
    return [GROUPS[n] for n in dict.fromkeys(names)]

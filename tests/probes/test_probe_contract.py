"""Every key of contract A (prompts/contracts.md: what rules, renderers and compare read) is present
in a real Run of the torch + numpy environment; absent facts are null, never missing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

CONTRACT = {
    "system": ["os.name", "os.kernel", "os.distro", "os.arch", "container.detected", "container.kind",
               "cgroup.version", "cgroup.cpu_quota_cores", "cgroup.memory_limit_bytes", "cgroup.throttling",
               "affinity.cpus", "affinity.count", "os_cpu_count", "cpu.vendor", "cpu.model", "cpu.family",
               *(f"cpu.flags.{f}" for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16",
                                            "avx512_vnni", "amx_tile", "amx_bf16")),
               "cpu.isa_level", "cpu.logical_cpus", "cpu.physical_cores", "cpu.threads_per_core", "cpu.sockets",
               "cpu.numa_nodes", "cpu.max_mhz", "cpu.cur_mhz", "cpu.governor", "cpu.scaling_driver",
               "cpu.llc_bytes", "cpu.hybrid", "thp.enabled", "thp.defrag", "memory.total_bytes",
               "memory.available_bytes"],
    "python": ["version", "implementation", "executable", "prefix", "env_kind", "debug_build", "free_threaded",
               "compiler"],
    "env_vars": ["vars", "dropped_secret"],
    "packages": ["count", "distributions"],
    "numpy": ["installed", "version", "blas.name", "blas.version", "blas.openblas_config", "lapack.name",
              "simd.baseline", "simd.found", "simd.not_found", "scipy.installed"],
    "torch": ["installed", "version", "local_version", "git_version", "debug", "import_s", "config.raw",
              "config.build_settings.BLAS_INFO", "config.build_settings.LAPACK_INFO",
              "config.build_settings.USE_CUDA", "config.build_settings.USE_MKL",
              "config.build_settings.USE_MKLDNN", "config.build_settings.USE_OPENMP",
              "config.build_settings.CXX_FLAGS", "config.mkl_version", "config.mkldnn_version", "config.openmp",
              "config.compiler", "cpu_capability", "parallel.num_threads", "parallel.num_interop_threads",
              "parallel.backend", "parallel.omp_max_threads", "parallel.mkl_max_threads", "cuda.built_version",
              "cuda.available", "cuda.device_count", "cuda.arch_list", "cuda.cudnn_version", "cuda.nccl_version",
              "cuda.devices", "hip_version",
              *(f"backends.{b}" for b in ("matmul_allow_tf32", "cudnn_allow_tf32", "float32_matmul_precision",
                                          "cudnn_benchmark", "cudnn_deterministic", "cudnn_enabled",
                                          "deterministic_algorithms", "mkldnn_enabled", "mkl_available",
                                          "openmp_available")),
              "triton.installed", "triton.version", "compile.usable", "compile.reason"],
    "tensorflow": ["installed"],
    "jax": ["installed"],
    "native_libs": ["source", "libraries", "openmp_runtimes", "multiple_openmp"],
    "gpus": ["available", "reason"],
}
DIST_KEYS = {"name", "version", "installer", "local_version", "location_kind", "editable", "direct_url",
             "requested", "conda"}
LIB_KEYS = {"user_api", "internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads",
            "filepath"}


def has_path(node, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.fixture(scope="module")
def environment(venv_torch) -> dict:
    proc = subprocess.run([sys.executable, "-m", "stackprof", "probe", "--python", str(venv_torch), "--format",
                           "json"], capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["environment"]


@pytest.mark.parametrize("section", sorted(CONTRACT))
def test_contract_keys_present(environment, section):
    missing = [key for key in CONTRACT[section] if not has_path(environment[section], key)]
    assert missing == [], f"{section}: missing {missing}"


def test_list_items_have_their_keys(environment):
    for dist in environment["packages"]["distributions"]:
        assert DIST_KEYS <= set(dist), dist["name"]
        assert dist["name"] == dist["name"].lower() and "_" not in dist["name"]
    for lib in environment["native_libs"]["libraries"] + environment["numpy"]["runtime_blas"]:
        assert LIB_KEYS <= set(lib), lib                       # threadpoolctl and fallback entries alike
    assert environment["python"]["env_kind"] in ("venv", "conda", "uv", "system")

"""Parsing torch.__config__.show() / parallel_info() into fields, and the arch-list check."""
from __future__ import annotations

from pathlib import Path

import pytest

from probe_modules import load_probe

torch_probe = load_probe("facts.torch")
DATA = Path(__file__).parent / "data"

# The CUDA-only lines, in the order and wording ATen's Version.cpp prints them (see
# shared/reference/env-report-tools.md §2.1); only the lines the CPU wheel above cannot show.
CUDA_SHOW = """PyTorch built with:
  - GCC 13.3
  - C++ Version: 202002
  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605 for Intel(R) 64 architecture applications
  - Intel(R) MKL-DNN v3.12.0 (Git Hash 80afa71049cd69a3df32adcccb623b12cd7baa22)
  - OpenMP 201511 (a.k.a. OpenMP 4.5)
  - LAPACK is enabled (usually provided by MKL)
  - NNPACK is enabled
  - CPU capability usage: AVX2
  - CUDA Runtime 12.8
  - NVCC architecture flags: -gencode;arch=compute_80,code=sm_80;-gencode;arch=compute_90,code=sm_90
  - CuDNN 91.0.2  (built against CUDA 12.9)
  - Magma 2.6.1
  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, CUDA_VERSION=12.8, CUDNN_VERSION=9.10.2, CXX_FLAGS= -O2 -Wl,--as-needed -fPIC, USE_CUDA=ON, USE_NCCL=1, TORCH_VERSION=2.8.0,
"""


def test_real_cpu_wheel_show_config():
    config = torch_probe.parse_config((DATA / "torch-2.13.0-cpu.show.txt").read_text())
    settings = config["build_settings"]
    assert settings["BLAS_INFO"] == "mkl" and settings["LAPACK_INFO"] == "mkl"
    assert settings["USE_CUDA"] == "0" and settings["USE_MKLDNN"] == "ON" and settings["USE_OPENMP"] == "ON"
    assert settings["TORCH_VERSION"] == "2.13.0"
    assert settings["CXX_FLAGS"].startswith("-fvisibility-inlines-hidden") and "-O2" in settings["CXX_FLAGS"]
    assert settings["CUDA_FLAGS"].endswith("-DC10_NODEPRECATED")      # a value full of spaces and '='
    assert all(key.isupper() for key in settings)
    assert config["compiler"] == "GCC 13.3" and config["cxx_standard"] == "202002"
    assert config["mkl_version"] == "2024.2" and config["mkldnn_version"] == "3.12.0"
    assert config["mkldnn_git_hash"] == "80afa71049cd69a3df32adcccb623b12cd7baa22"
    assert config["cpu_capability"] == "AVX512" and config["nnpack"] is True
    assert config["openmp"].startswith("OpenMP 201511")
    assert config["cuda_runtime"] is None and config["cudnn"] is None


def test_cuda_lines_and_commas_inside_values():
    config = torch_probe.parse_config(CUDA_SHOW)
    assert config["cuda_runtime"] == "12.8"
    assert config["nvcc_arch_flags"].startswith("-gencode;arch=compute_80")
    assert config["cudnn"].startswith("CuDNN 91.0.2") and config["magma"] == "2.6.1"
    settings = config["build_settings"]
    assert settings["CXX_FLAGS"] == "-O2 -Wl,--as-needed -fPIC"
    assert settings["USE_NCCL"] == "1" and settings["TORCH_VERSION"] == "2.8.0"
    assert config["cpu_capability"] == "AVX2"
    assert torch_probe._built_archs(config) == ["sm_80", "sm_90"]


def test_real_parallel_info():
    info = torch_probe.parse_parallel((DATA / "torch-2.13.0-cpu.parallel_info.txt").read_text())
    assert info == {"backend": "OpenMP", "omp_max_threads": 2, "mkl_max_threads": 2, "hardware_concurrency": 2}


@pytest.mark.parametrize("capability, arch_list, expected", [
    ("9.0", ["sm_80", "sm_86", "sm_90"], "sass"),
    ("8.9", ["sm_80", "sm_86"], "sass"),                  # same major, older minor: binary compatible
    ("9.0", ["sm_75", "sm_80", "sm_86", "compute_86"], "ptx"),   # only PTX of an older arch: JIT
    ("12.0", ["sm_75", "sm_80", "sm_90"], "none"),
    ("7.0", ["sm_75", "sm_80"], "none"),
    ("9.0", ["sm_90a"], "sass"),
    ("9.0", ["gfx90a"], None),                            # ROCm arch names are not CUDA archs
    ("9.0", [], None),
])
def test_arch_match(capability, arch_list, expected):
    assert torch_probe.arch_match(capability, arch_list) == expected

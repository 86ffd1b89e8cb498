"""Which kernel ran: the oneDNN and oneMKL verbose parsers on lines captured from real runs
(tests/probes/data/verbose/README.md says where each comes from), and the probe in a real torch venv."""
from __future__ import annotations

from pathlib import Path

import pytest

from stackprof.paths import import_probe
from stackprof.target import Target

DATA = Path(__file__).parent / "data" / "verbose"
kernels = import_probe("facts.kernels")


def test_onednn_lines_from_zen4_name_the_avx512_bf16_kernels():
    parsed = kernels.parse_onednn((DATA / "onednn-zen4-torch2.13.txt").read_text())
    assert parsed["version"] == "3.12.0"
    assert parsed["isa_ceiling"] == "Intel AVX-512 with Intel DL Boost and bfloat16 support"
    matmul = next(c for c in parsed["calls"] if c["primitive"] == "matmul")
    assert matmul == {"primitive": "matmul", "impl": "brg_matmul:avx512_core_bf16", "isa": "avx512_core_bf16",
                      "dtype": "bf16", "shape": "256x256:256x256"}
    conv = next(c for c in parsed["calls"] if c["primitive"] == "convolution")
    assert conv["isa"] == "avx512_core_bf16" and conv["dtype"] == "bf16"


def test_onednn_lines_from_an_amx_xeon_name_the_amx_kernel():
    parsed = kernels.parse_onednn((DATA / "onednn-xeon-amx-reference.txt").read_text())
    assert "AMX" in parsed["isa_ceiling"]
    assert parsed["calls"][0]["isa"] == "avx10_1_512_amx" and parsed["calls"][0]["dtype"] == "bf16"


def test_mkl_header_names_the_code_path_and_calls_their_threads():
    zen = kernels.parse_mkl((DATA / "mkl-zen4-torch2.13.txt").read_text())
    assert zen["version"] == "2024.0 Update 2"
    assert zen["code_path"] == "Intel(R) Architecture processors"          # MKL's generic path on AMD
    assert zen["calls"] == [{"function": "SGEMM", "threads": 2, "cnr": "OFF"}]
    xeon = kernels.parse_mkl((DATA / "mkl-xeon-amx-reference.txt").read_text())
    assert "AVX-512" in xeon["code_path"] and "AMX" in xeon["code_path"]


def test_nothing_to_parse_is_none_not_an_error():
    assert kernels.parse_onednn("unrelated\n") is None and kernels.parse_mkl("") is None
    ref = kernels.parse_onednn("onednn_verbose,v1,primitive,exec,cpu,convolution,ref:any,forward,"
                               "src:f32::blocked:abcd::f0,,,mb1_ic3oc8,0.5\n")
    assert ref["calls"][0]["isa"] == "ref" and ref["calls"][0]["dtype"] == "fp32"


@pytest.mark.slow
def test_probe_reports_the_kernels_torch_dispatched(venv_torch):
    result = Target(venv_torch).run_probe("facts.kernels", {}, timeout=120)
    assert result.ok, result.error
    torch_kernels = result.data["torch"]
    assert torch_kernels["aten_capability"] in ("DEFAULT", "AVX2", "AVX512", "NO AVX", "SVE256", "SVE")
    if torch_kernels["onednn"]:                       # x86 and Arm builds of torch carry oneDNN
        assert torch_kernels["onednn"]["isa_ceiling"]
        assert any(c["dtype"] == "bf16" for c in torch_kernels["onednn"]["calls"])

"""ISA caps and dispatched kernels judged per library and dtype against the best ISA this CPU offers
for that library and dtype (rules/isa.py, A8). Flag sets: ZEN4 is this workplace's AMD EPYC (family 25
model 17) as the system probe read it on 2026-11-30; SAPPHIRE adds the AMX flags that
shared/reference/cpu-dispatch.md lists for Sapphire Rapids to an AVX-512 set with BF16/FP16/VNNI."""
from __future__ import annotations

from pathlib import Path

from stackprof.model import Run
from stackprof.paths import import_probe
from stackprof.rules import RULES, isa
from stackprof.rules.facts import Facts

ZEN4 = {"sse4_2": True, "avx": True, "avx2": True, "fma": True, "f16c": True, "avx512f": True, "avx512dq": True,
        "avx512cd": True, "avx512bw": True, "avx512vl": True, "avx512_bf16": True, "avx512_vnni": True,
        "avx512_fp16": False, "avx_vnni": False, "amx_tile": False, "amx_bf16": False, "amx_int8": False,
        "amx_fp16": False}
SAPPHIRE = dict(ZEN4, avx512_fp16=True, avx_vnni=True, amx_tile=True, amx_bf16=True, amx_int8=True)
VERBOSE = Path(__file__).resolve().parents[1] / "probes" / "data" / "verbose"


def a8(flags, env=None, amx=None, kernels=None):
    run = Run(environment={"system": {"cpu": {"flags": flags, "isa_level": "avx512", "amx": amx}},
                           "env_vars": {"vars": env or {}}, "kernels": {"torch": kernels} if kernels else {}})
    return RULES["A8"].check(Facts(run))


def test_best_isa_is_per_dtype():
    assert isa.onednn_best("bf16", ZEN4, None) == "avx512_core_bf16"
    assert isa.onednn_best("fp32", ZEN4, None) == "avx512_core"
    assert isa.onednn_best("bf16", SAPPHIRE, True) == "avx512_core_amx"
    assert isa.onednn_best("int8", SAPPHIRE, True) == "avx512_core_amx"
    assert isa.onednn_best("fp32", SAPPHIRE, True) == "avx512_core"          # AMX does not run fp32
    assert isa.onednn_best("bf16", SAPPHIRE, False) == "avx512_core_bf16"    # tiles withheld by the OS
    assert isa.mkl_best(ZEN4) == "avx512"


def test_a_cap_that_keeps_bf16_off_amx_is_found_for_bf16_and_int8_not_fp32():
    finding = a8(SAPPHIRE, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}, amx={"granted": True})
    assert finding is not None and "oneDNN bf16 capped at avx512_core_bf16" in finding.title
    assert "int8" in finding.title and "fp32 capped" not in finding.title
    assert finding.experiment["env"] == {"ONEDNN_MAX_CPU_ISA": None}


def test_the_same_cap_is_harmless_on_a_cpu_without_amx():
    assert a8(ZEN4, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}) is None       # the cap is this CPU's best
    capped = a8(ZEN4, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"})                 # … but AVX512_CORE drops bf16
    assert capped is not None and "bf16" in capped.title and "fp32 capped" not in capped.title


def test_mkl_cap_below_avx512_is_found_for_fp32():
    finding = a8(ZEN4, {"MKL_ENABLE_INSTRUCTIONS": "AVX2"})
    assert finding is not None and "oneMKL fp32/fp64 capped at avx2" in finding.title


def test_an_os_that_withholds_the_amx_tiles_is_found_without_any_variable():
    finding = a8(SAPPHIRE, amx={"kernel_supports": False, "granted": False,
                                "reason": "the kernel does not offer XTILEDATA (AMX tiles) to processes"})
    assert finding is not None and "the OS bf16" in finding.title and "AMX tile" in finding.fix
    assert finding.experiment is None                                        # nothing to A/B: said, not measured


def test_real_dispatch_from_zen4_is_healthy_and_a_reference_kernel_is_not():
    kernels = import_probe("facts.kernels")
    onednn = kernels.parse_onednn((VERBOSE / "onednn-zen4-torch2.13.txt").read_text())
    assert a8(ZEN4, kernels={"onednn": onednn}) is None
    slow = {"calls": [{"primitive": "matmul", "impl": "gemm:jit", "isa": "avx2", "dtype": "bf16"}]}
    finding = a8(ZEN4, kernels={"onednn": slow})
    assert finding is not None and "ran gemm:jit" in finding.title and "best here: avx512_core_bf16" in finding.title


def test_amx_dispatch_on_an_amx_cpu_is_healthy():
    kernels = import_probe("facts.kernels")
    onednn = kernels.parse_onednn((VERBOSE / "onednn-xeon-amx-reference.txt").read_text())
    assert a8(SAPPHIRE, amx={"granted": True}, kernels={"onednn": onednn}) is None

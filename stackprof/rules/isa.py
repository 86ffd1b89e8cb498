"""ISA ladders per library and dtype: the best code path a library can use on this CPU for a dtype,
what an environment cap allows, and what the library really dispatched — compared on one ladder
(shared/reference/cpu-dispatch.md).

"Is this library capped below what this CPU offers?" is asked per library, per dtype: AMX matters for
bf16 and int8 through oneDNN, not for fp32; AVX512_BF16 matters for bf16 only; MKL's fp32 GEMM wants
AVX-512. One answer per (library, dtype), never one ISA line for the whole machine.
"""
from __future__ import annotations

# oneDNN's ISA names (ONEDNN_MAX_CPU_ISA values and the suffix of an implementation name), ascending.
ONEDNN_LADDER = ["ref", "sse41", "avx", "avx2", "avx2_vnni", "avx2_vnni_2", "avx512_core", "avx512_core_vnni",
                 "avx512_core_bf16", "avx512_core_fp16", "avx512_core_amx", "avx512_core_amx_fp16"]
ONEDNN_ALIASES = {"avx10_1_512": "avx512_core_fp16", "avx10_1_512_amx": "avx512_core_amx",
                  "avx10_1_512_amx_fp16": "avx512_core_amx_fp16", "avx512_core_bf16_amx_bf16": "avx512_core_amx",
                  "avx512_core_bf16_amx_int8": "avx512_core_amx", "avx512_core_bf16_ymm": "avx512_core_bf16",
                  "avx512_mic": "avx2", "avx512_mic_4ops": "avx2", "uni": None, "any": "ref", "all": None}
# oneMKL's MKL_ENABLE_INSTRUCTIONS values, ascending (AVX512_E1… are later AVX-512 extensions).
MKL_LADDER = ["sse4_2", "avx", "avx2", "avx512", "avx512_e1", "avx512_e2", "avx512_e3", "avx512_e4", "avx512_e5"]
LIBRARIES = ("onednn", "mkl")


def onednn_rank(name: str | None) -> int | None:
    if not name:
        return None
    key = name.strip().lower()
    key = ONEDNN_ALIASES.get(key, key)
    return ONEDNN_LADDER.index(key) if key in ONEDNN_LADDER else None


def mkl_rank(name: str | None) -> int | None:
    if not name:
        return None
    key = name.strip().lower()
    return MKL_LADDER.index(key) if key in MKL_LADDER else None


def has(flags: dict, *names: str) -> bool:
    return all(flags.get(n) is True for n in names)


def onednn_best(dtype: str, flags: dict, amx_granted: bool | None) -> str | None:
    """The highest oneDNN ISA that helps `dtype` on a CPU with these flags (AMX only when the OS
    grants the tiles)."""
    core = has(flags, "avx512f", "avx512bw", "avx512vl", "avx512dq")
    amx = amx_granted is not False and has(flags, "amx_tile")
    if dtype == "bf16":
        return ("avx512_core_amx" if amx and has(flags, "amx_bf16") else "avx512_core_bf16" if core and has(flags, "avx512_bf16")
                else "avx512_core" if core else "avx2" if has(flags, "avx2") else None)
    if dtype == "int8":
        return ("avx512_core_amx" if amx and has(flags, "amx_int8") else "avx512_core_vnni" if core and has(flags, "avx512_vnni")
                else "avx2_vnni" if has(flags, "avx_vnni") else "avx512_core" if core else "avx2" if has(flags, "avx2") else None)
    if dtype == "fp16":
        return ("avx512_core_amx_fp16" if amx and has(flags, "amx_fp16") else "avx512_core_fp16" if core and has(flags, "avx512_fp16")
                else "avx512_core" if core else "avx2" if has(flags, "avx2") else None)
    if dtype == "fp32":
        return "avx512_core" if core else "avx2" if has(flags, "avx2") else None
    return None


def mkl_best(flags: dict) -> str | None:
    """The code path oneMKL's fp32/fp64 GEMM wants on this CPU (AMX does not run fp32 GEMM)."""
    if has(flags, "avx512f", "avx512bw", "avx512vl", "avx512dq"):
        return "avx512"
    return "avx2" if has(flags, "avx2", "fma") else "avx" if has(flags, "avx") else "sse4_2" if has(flags, "sse4_2") else None


def mkl_cap(value: str) -> str | None:
    """The MKL ladder level an MKL_ENABLE_INSTRUCTIONS / MKL_CBWR value allows (None: no cap)."""
    v = value.strip().lower().split(",")[0]
    if v in ("", "auto", "all", "default", "off"):
        return None
    if v == "compatible":
        return "sse4_2"
    return v if v in MKL_LADDER else None


def onednn_cap(value: str) -> str | None:
    v = value.strip().lower()
    if v in ("", "all", "default"):
        return None
    v = ONEDNN_ALIASES.get(v, v)
    return v if v in ONEDNN_LADDER else None


def below(library: str, have: str | None, best: str | None) -> bool:
    rank = onednn_rank if library == "onednn" else mkl_rank
    a, b = rank(have), rank(best)
    return a is not None and b is not None and a < b


def mkl_path_level(code_path: str | None) -> str | None:
    """The ladder level MKL's verbose header names: AVX-512 / AVX2 / AVX / SSE4.2, or "generic" for
    'Intel(R) Architecture processors' (its path for CPUs it does not dispatch by feature)."""
    if not code_path:
        return None
    text = code_path.lower()
    if "avx-512" in text or "avx512" in text:
        return "avx512"
    if "avx2" in text or "avx 2" in text:
        return "avx2"
    if "advanced vector extensions (intel(r) avx)" in text or text.endswith("avx)"):
        return "avx"
    if "sse4" in text:
        return "sse4_2"
    if "architecture processors" in text:
        return "generic"
    return None

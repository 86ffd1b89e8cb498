"""CPU peak FLOP/s estimate: cores x clock x SIMD lanes x FMA units x 2, per dtype.

Inputs come from run.environment["system"] (contract A): cpu.vendor/family/flags/physical_cores/
threads_per_core/max_mhz/cur_mhz, affinity.count, cgroup.cpu_quota_cores. Every input and every
assumption is returned with the estimate; assumptions not confirmed by a cited source are marked
"(unverified)". Source of the formula and the per-family FMA figures: microbenchmark-method.md §3.7
(BLIS docs/Performance.md; "FLOPs per cycle for Sandy Bridge and Haswell" on StackOverflow).
"""
from __future__ import annotations

FORMULA = "cores x clock x SIMD lanes x FMA units x 2"
SOURCE = "microbenchmark-method.md §3.7 (BLIS docs/Performance.md; StackOverflow FLOPs-per-cycle answer)"
DTYPE_BITS = {"fp64": 64, "fp32": 32}
AMX_FLOPS_PER_CYCLE = 1024      # Intel's "1024 BF16 ops/cycle per core" read as FLOPs (unverified)


def _flag(cpu: dict, name: str) -> bool:
    return bool((cpu.get("flags") or {}).get(name))


def _family(cpu: dict) -> int | None:
    value = cpu.get("family")
    try:
        return int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return None


def vector_unit(cpu: dict) -> tuple[int, int, str, list[str]]:
    """(vector bits, FMA units per core, micro-architecture label, assumptions)."""
    vendor = (cpu.get("vendor") or "").lower()
    family = _family(cpu)
    amd, intel = "amd" in vendor, "intel" in vendor
    if _flag(cpu, "neon") or _flag(cpu, "asimd"):
        return 128, 2, "arm64 NEON", ["2 NEON FMA pipes per core (unverified; Neoverse V-cores have 4)"]
    if _flag(cpu, "avx512f"):
        if amd and family == 0x19:
            return 256, 2, "AMD Zen 4 (AVX-512 on 256-bit datapaths)", [
                "Zen 4 executes AVX-512 as two 256-bit halves: 16 fp64 FLOPs/cycle (unverified)"]
        if amd and family is not None and family >= 0x1A:
            return 512, 2, "AMD Zen 5 (512-bit datapaths)", [
                "Zen 5 server/desktop: 2 x 512-bit FMA pipes, 32 fp64 FLOPs/cycle (unverified; "
                "mobile parts have 256-bit datapaths)"]
        return 512, 2, "AVX-512", ["2 AVX-512 FMA units per core (some Xeon SKUs have 1: unverified)"]
    if _flag(cpu, "avx2") and _flag(cpu, "fma"):
        model = cpu.get("model_number")
        if amd and family == 0x17 and isinstance(model, int) and model < 0x30:
            return 256, 1, "AMD Zen 1/Zen+", ["one 256-bit FMA per cycle (two 128-bit halves), as BLIS "
                                                "counts the EPYC 7551"]
        notes = ["2 x 256-bit FMA units per core (Haswell .. Coffee Lake, Zen 2/3)"]
        if amd and family == 0x17 and not isinstance(model, int):
            notes.append("Zen 1/Zen+ (also family 0x17) have half this: model number unknown")
        return 256, 2, "AVX2+FMA", notes
    if _flag(cpu, "avx"):
        return 256, 1, "AVX (no FMA)", ["one 256-bit add and one multiply per cycle, counted as 1 FMA unit"]
    if _flag(cpu, "sse2") or intel or amd:
        return 128, 1, "SSE", ["one 128-bit add and one multiply per cycle (unverified)"]
    return 0, 0, "unknown", ["no SIMD flags known"]


def usable_cores(system: dict) -> tuple[float | None, str]:
    cpu = system.get("cpu") or {}
    cores = cpu.get("physical_cores") or cpu.get("logical_cpus") or system.get("os_cpu_count")
    source = "cpu.physical_cores" if cpu.get("physical_cores") else "logical CPUs"
    if not cores:
        return None, "unknown"
    tpc = cpu.get("threads_per_core") or 1
    allowed = (system.get("affinity") or {}).get("count")
    if allowed and allowed / tpc < cores:
        cores, source = max(1.0, allowed / tpc), "affinity.count / threads_per_core"
    quota = (system.get("cgroup") or {}).get("cpu_quota_cores")
    if quota and quota < cores:
        cores, source = float(quota), "cgroup.cpu_quota_cores"
    return float(cores), source


def clock_mhz(cpu: dict) -> tuple[float | None, str, list[str]]:
    if cpu.get("max_mhz"):
        return float(cpu["max_mhz"]), "cpu.max_mhz", [
            "max clock: all-core clocks under heavy AVX load are lower, so the peak is optimistic"]
    if cpu.get("cur_mhz"):
        return float(cpu["cur_mhz"]), "cpu.cur_mhz", [
            "no maximum clock known: the current clock is used; in a VM it is often the nominal "
            "(base) clock and boost can exceed it, so measured results may pass this peak"]
    return None, "unknown", []


def estimate(system: dict | None) -> dict | None:
    """Peak GFLOP/s per dtype with its inputs and assumptions, or None without CPU facts."""
    if not isinstance(system, dict) or not isinstance(system.get("cpu"), dict):
        return None
    cpu = system["cpu"]
    cores, cores_source = usable_cores(system)
    mhz, mhz_source, assumptions = clock_mhz(cpu)
    bits, fma_units, uarch, unit_notes = vector_unit(cpu)
    assumptions = assumptions + unit_notes
    if not cores or not mhz or not bits:
        return None
    per_cycle = {dt: bits // size * fma_units * 2 for dt, size in DTYPE_BITS.items()}
    per_cycle["bf16"], bf16_note = _low_precision(cpu, per_cycle["fp32"], "bf16")
    per_cycle["fp16"], fp16_note = _low_precision(cpu, per_cycle["fp32"], "fp16")
    assumptions += [bf16_note, fp16_note]
    gflops = {dt: cores * mhz * 1e-3 * fpc for dt, fpc in per_cycle.items()}
    return {
        "formula": FORMULA, "source": SOURCE,
        "inputs": {"cores": cores, "cores_source": cores_source, "clock_mhz": mhz, "clock_source": mhz_source,
                   "vector_bits": bits, "fma_units": fma_units, "uarch": uarch,
                   "flops_per_cycle_per_core": per_cycle},
        "gflops": {dt: round(v, 1) for dt, v in gflops.items()},
        "assumptions": assumptions, "verified": False,
    }


def _low_precision(cpu: dict, fp32_per_cycle: int, dtype: str) -> tuple[int, str]:
    amx = "amx_bf16" if dtype == "bf16" else "amx_fp16"
    granted = (cpu.get("amx") or {}).get("granted") if isinstance(cpu.get("amx"), dict) else None
    if _flag(cpu, amx) and _flag(cpu, "amx_tile") and granted is not False:   # tiles the OS withholds do not count
        return AMX_FLOPS_PER_CYCLE, f"{dtype}: AMX tiles, {AMX_FLOPS_PER_CYCLE} FLOPs/cycle/core (unverified)"
    native = "avx512_bf16" if dtype == "bf16" else "avx512_fp16"
    if _flag(cpu, native):
        return 2 * fp32_per_cycle, f"{dtype}: {native} dot products, 2x the fp32 rate (unverified)"
    if _flag(cpu, "neon") or _flag(cpu, "asimd"):
        arm = "bf16" if dtype == "bf16" else "asimdhp"
        if _flag(cpu, arm):
            return 2 * fp32_per_cycle, f"{dtype}: arm64 {arm} instructions, 2x the fp32 rate (unverified)"
    return fp32_per_cycle, f"{dtype}: no native {dtype} arithmetic flag: counted at the fp32 rate"

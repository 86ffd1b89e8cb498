"""The GPU's state while a benchmark ran: NVML samples the measurement engine attaches to each GPU
record as ``record["state"]["gpu"]`` (a list of {"t_s", "sm_clock_mhz", "mem_clock_mhz", "power_w",
"temperature_c", "throttle_reasons", "pcie_gen", "pcie_width", "pcie_max_gen", "pcie_max_width",
"other_processes"}). Rules judge clocks and links from these, never from the idle snapshot."""
from __future__ import annotations

from stackprof.rules.facts import Facts, part

# Clock event reasons that mean the GPU slowed itself down (NVML names, stackprof/nvml.py). Not here:
# gpu_idle, sync_boost, applications/display clock settings, and sw_power_cap, which is how a GPU runs
# at its rated power under a heavy load (a lowered power limit is F3's).
ACTIVE_SLOWDOWNS = ("hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "sw_thermal_slowdown")


def under_load(sample: object) -> bool:
    """A sample taken while the GPU worked: NVML's reasons are known and GpuIdle is not among them."""
    if not isinstance(sample, dict):
        return False
    reasons = sample.get("throttle_reasons")
    return isinstance(reasons, list) and "gpu_idle" not in reasons


def samples(record: dict) -> list[dict]:
    value = part(record, "state").get("gpu")
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def load_samples(facts: Facts, ops=None) -> list[tuple[dict, list[dict]]]:
    """(record, its samples under load) for successful CUDA benchmarks (of `ops`) with at least one."""
    out = []
    for rec in facts.benchmarks(device="cuda", op=set(ops) if ops else None):
        busy = [x for x in samples(rec) if under_load(x)]
        if busy:
            out.append((rec, busy))
    return out


def slowdowns(sample: dict) -> list[str]:
    reasons = sample.get("throttle_reasons") if isinstance(sample.get("throttle_reasons"), list) else []
    return [str(r) for r in reasons if str(r) in ACTIVE_SLOWDOWNS]

"""GPU facts through NVML (nvidia-ml-py's ``pynvml`` module), read in the host process.

NVML describes the machine, not the environment, and never needs the target's packages. Every call
is guarded: a field the GPU or driver does not support (NVMLError_NotSupported, or a function this
pynvml/driver lacks) is None; any other NVML error is None plus one line in ``errors``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

# Clock event ("throttle") reason bits, as the NVML header names them. Read from pynvml when it has
# them; these values are the header's, for older bindings.
THROTTLE_REASONS = [
    ("gpu_idle", "GpuIdle", 0x1),
    ("applications_clocks_setting", "ApplicationsClocksSetting", 0x2),
    ("sw_power_cap", "SwPowerCap", 0x4),
    ("hw_slowdown", "HwSlowdown", 0x8),
    ("sync_boost", "SyncBoost", 0x10),
    ("sw_thermal_slowdown", "SwThermalSlowdown", 0x20),
    ("hw_thermal_slowdown", "HwThermalSlowdown", 0x40),
    ("hw_power_brake_slowdown", "HwPowerBrakeSlowdown", 0x80),
    ("display_clock_setting", "DisplayClockSetting", 0x100),
]
TOPOLOGY_LEVELS = {0: "internal", 10: "single_switch", 20: "multiple_switches", 30: "host_bridge",
                   40: "numa_node", 50: "system"}
MAX_TOPOLOGY_GPUS = 16


def collect_gpus() -> tuple[dict, list[str]]:
    try:
        import pynvml
    except ImportError:
        return {"available": False, "reason": "nvidia-ml-py (pynvml) is not installed"}, []
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, …
        return {"available": False, "reason": f"no NVIDIA driver: {_message(exc)}"}, []
    errors: list[str] = []
    try:
        return _collect(pynvml, _Reader(pynvml, errors)), errors
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


class _Reader:
    """Calls one NVML function; unsupported -> None, other failures -> None + an error line."""

    def __init__(self, nv, errors: list[str]):
        self.nv, self.errors = nv, errors
        quiet = [getattr(nv, name, None) for name in ("NVMLError_NotSupported", "NVMLError_FunctionNotFound")]
        self.quiet = tuple(c for c in quiet if isinstance(c, type))
        base = getattr(nv, "NVMLError", None)
        self.nvml_error = base if isinstance(base, type) else Exception

    def __call__(self, label: str, name: str, *args, also_quiet: tuple[str, ...] = ()):
        fn = getattr(self.nv, name, None)
        if fn is None:
            return None                      # this nvidia-ml-py predates the function
        try:
            return fn(*args)
        except self.quiet:
            return None
        except self.nvml_error as exc:
            if type(exc).__name__ in also_quiet:
                return None
            self.errors.append(f"{label}: {name}: {_message(exc)}")
            return None


def _collect(nv, read: _Reader) -> dict:
    count = read("gpus", "nvmlDeviceGetCount") or 0
    handles = [read(f"gpu{i}", "nvmlDeviceGetHandleByIndex", i) for i in range(count)]
    cuda = read("gpus", "nvmlSystemGetCudaDriverVersion")
    return {
        "available": True,
        "reason": None,
        "driver_version": _text(read("gpus", "nvmlSystemGetDriverVersion")),
        "cuda_driver_version": f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) and cuda else None,
        "nvml_version": _text(read("gpus", "nvmlSystemGetNVMLVersion")),
        "count": count,
        "devices": [_device(nv, read, i, h) for i, h in enumerate(handles) if h is not None],
        "topology": _topology(read, handles) if 1 < count <= MAX_TOPOLOGY_GPUS else None,
    }


def _device(nv, read: _Reader, index: int, h) -> dict:
    label = f"gpu{index}"
    pci = read(label, "nvmlDeviceGetPciInfo", h)
    bus_id = _text(getattr(pci, "busId", None)) if pci is not None else None
    memory = read(label, "nvmlDeviceGetMemoryInfo", h)
    cap = read(label, "nvmlDeviceGetCudaComputeCapability", h)
    ecc = read(label, "nvmlDeviceGetEccMode", h)
    mig = read(label, "nvmlDeviceGetMigMode", h)
    persistence = read(label, "nvmlDeviceGetPersistenceMode", h)
    numa = read(label, "nvmlDeviceGetNumaNodeId", h)
    util = read(label, "nvmlDeviceGetUtilizationRates", h)
    processes = read(label, "nvmlDeviceGetComputeRunningProcesses", h)
    sm, mem = getattr(nv, "NVML_CLOCK_SM", 1), getattr(nv, "NVML_CLOCK_MEM", 2)
    return {
        "index": index,
        "name": _text(read(label, "nvmlDeviceGetName", h)),
        "uuid": _text(read(label, "nvmlDeviceGetUUID", h)),
        "bus_id": bus_id,
        "capability": f"{cap[0]}.{cap[1]}" if cap else None,
        "memory_total_bytes": getattr(memory, "total", None),
        "memory_used_bytes": getattr(memory, "used", None),
        "clocks": {"sm_mhz": read(label, "nvmlDeviceGetClockInfo", h, sm),
                   "sm_max_mhz": read(label, "nvmlDeviceGetMaxClockInfo", h, sm),
                   "mem_mhz": read(label, "nvmlDeviceGetClockInfo", h, mem),
                   "mem_max_mhz": read(label, "nvmlDeviceGetMaxClockInfo", h, mem)},
        "power": {"draw_w": _watts(read(label, "nvmlDeviceGetPowerUsage", h)),
                  "limit_w": _watts(read(label, "nvmlDeviceGetEnforcedPowerLimit", h)),
                  "default_limit_w": _watts(read(label, "nvmlDeviceGetPowerManagementDefaultLimit", h))},
        "throttle_reasons": _throttle_reasons(nv, read, label, h),
        "pcie": {"gen": read(label, "nvmlDeviceGetCurrPcieLinkGeneration", h),
                 "gen_max": read(label, "nvmlDeviceGetMaxPcieLinkGeneration", h),
                 "width": read(label, "nvmlDeviceGetCurrPcieLinkWidth", h),
                 "width_max": read(label, "nvmlDeviceGetMaxPcieLinkWidth", h)},
        "persistence_mode": bool(persistence) if persistence is not None else None,
        "ecc_enabled": bool(ecc[0]) if ecc else None,
        "mig_mode": bool(mig[0]) if mig else None,
        "mig_devices": _mig_uuids(read, label, h) if mig and mig[0] else None,
        "temperature_c": read(label, "nvmlDeviceGetTemperature", h, getattr(nv, "NVML_TEMPERATURE_GPU", 0)),
        "performance_state": _pstate(read(label, "nvmlDeviceGetPerformanceState", h)),
        "utilization_pct": getattr(util, "gpu", None),
        "compute_processes": len(processes) if processes is not None else None,
        "numa_node": numa if isinstance(numa, int) and numa >= 0 else _sysfs_numa(bus_id),
        "cpu_affinity": _cpu_affinity(read(label, "nvmlDeviceGetCpuAffinity", h, _cpu_words())),
        "nvlink": _nvlink(nv, read, label, h),
    }


def _mig_uuids(read: _Reader, label: str, h) -> list[str]:
    """UUIDs (MIG-…) of the MIG instances on this GPU: how CUDA_VISIBLE_DEVICES names them."""
    uuids = []
    for i in range(read(label, "nvmlDeviceGetMaxMigDeviceCount", h) or 0):
        mig = read(f"{label}.mig{i}", "nvmlDeviceGetMigDeviceHandleByIndex", h, i, also_quiet=("NVMLError_NotFound",))
        uuid = _text(read(f"{label}.mig{i}", "nvmlDeviceGetUUID", mig)) if mig is not None else None
        if uuid:
            uuids.append(uuid)
    return uuids


def nvml_index_for_cuda(ordinal: int, visible: str | None = None, order: str | None = None,
                        identity: dict | None = None, nv=None) -> int | None:
    """The NVML index of CUDA device `ordinal` as a CUDA process with this environment sees it
    (CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER: this process's unless given), or None when that cannot
    be known. For a MIG instance, its parent GPU (clocks, power and link are the parent's). NVML must
    be initialised (as it is for the sampler that asks)."""
    from stackprof.hardware import gpus
    if visible is None:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if order is None:
        order = os.environ.get("CUDA_DEVICE_ORDER")
    if nv is None:
        try:
            import pynvml as nv
        except ImportError:
            return None
    read = _Reader(nv, [])
    devices = []
    for index in range(read("gpus", "nvmlDeviceGetCount") or 0):
        h = read(f"gpu{index}", "nvmlDeviceGetHandleByIndex", index)
        if h is None:
            continue
        pci = read(f"gpu{index}", "nvmlDeviceGetPciInfo", h)
        mig = read(f"gpu{index}", "nvmlDeviceGetMigMode", h)
        devices.append({"index": index, "name": _text(read(f"gpu{index}", "nvmlDeviceGetName", h)),
                        "uuid": _text(read(f"gpu{index}", "nvmlDeviceGetUUID", h)),
                        "bus_id": _text(getattr(pci, "busId", None)) if pci is not None else None,
                        "mig_devices": _mig_uuids(read, f"gpu{index}", h) if mig and mig[0] else None})
    found, _ = gpus.nvml_device_for(ordinal, devices, visible=visible, order=order, identity=identity)
    return None if found is None else found["index"]


def _throttle_reasons(nv, read: _Reader, label: str, h) -> list[str] | None:
    mask = read(label, "nvmlDeviceGetCurrentClocksEventReasons", h)
    if mask is None:
        mask = read(label, "nvmlDeviceGetCurrentClocksThrottleReasons", h)
    if mask is None:
        return None
    names = []
    for name, suffix, default in THROTTLE_REASONS:
        bit = getattr(nv, "nvmlClocksEventReason" + suffix, getattr(nv, "nvmlClocksThrottleReason" + suffix, default))
        if mask & bit:
            names.append(name)
    return names


def _nvlink(nv, read: _Reader, label: str, h) -> dict | None:
    links = getattr(nv, "NVML_NVLINK_MAX_LINKS", 18)
    states = []
    for link in range(links):
        state = read(f"{label}.nvlink{link}", "nvmlDeviceGetNvLinkState", h, link,
                     also_quiet=("NVMLError_InvalidArgument",))
        if state is None:
            break                            # past the last link (or no NVLink at all)
        states.append(bool(state))
    if not states:
        return None
    first_active = next((i for i, s in enumerate(states) if s), None)
    version = read(label, "nvmlDeviceGetNvLinkVersion", h, first_active) if first_active is not None else None
    return {"links": len(states), "active_links": sum(states), "version": version}


def _topology(read: _Reader, handles: list) -> list[dict]:
    pairs = []
    for i, a in enumerate(handles):
        for j in range(i + 1, len(handles)):
            b = handles[j]
            if a is None or b is None:
                continue
            level = read(f"gpu{i}-gpu{j}", "nvmlDeviceGetTopologyCommonAncestor", a, b)
            pairs.append({"a": i, "b": j, "level": TOPOLOGY_LEVELS.get(level, level)})
    return pairs


def _cpu_words() -> int:
    return max(1, ((os.cpu_count() or 64) + 63) // 64)


def _cpu_affinity(words) -> list[int] | None:
    if words is None:
        return None
    cpus = []
    for w, value in enumerate(list(words)):
        cpus.extend(w * 64 + bit for bit in range(64) if int(value) >> bit & 1)
    return cpus


def _sysfs_numa(bus_id: str | None) -> int | None:
    """NVML bus ids have an 8-digit domain ("00000000:17:00.0"); sysfs uses 4 ("0000:17:00.0")."""
    if not bus_id or sys.platform != "linux":
        return None
    domain, _, rest = bus_id.partition(":")
    path = Path("/sys/bus/pci/devices") / f"{domain[-4:]}:{rest}".lower() / "numa_node"
    try:
        node = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return node if node >= 0 else None


def _pstate(value) -> str | None:
    return f"P{value}" if isinstance(value, int) and 0 <= value < 32 else None


def _watts(milliwatts) -> float | None:
    return round(milliwatts / 1000.0, 1) if isinstance(milliwatts, (int, float)) else None


def _text(value) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if value is None or isinstance(value, str) else str(value)


def _message(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__

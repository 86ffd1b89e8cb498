"""A thin stand-in for nvidia-ml-py's ``pynvml`` with H100-like answers, for machines without a GPU.

Only the surface stackprof.nvml calls, with the same names, argument order, return shapes and
error classes as the real module; values are those an H100 SXM would report, with GPU 1's PCIe
link trained down (Gen3 x8 of Gen5 x16) and a power cap throttling its clocks.
"""
from __future__ import annotations

import types


class NVMLError(Exception):
    def __init__(self, value: int = 999, text: str = "Unknown Error"):
        super().__init__(text)
        self.value = value


class NVMLError_NotSupported(NVMLError):
    def __init__(self):
        super().__init__(3, "Not Supported")


class NVMLError_NoPermission(NVMLError):
    def __init__(self):
        super().__init__(4, "Insufficient Permissions")


class NVMLError_InvalidArgument(NVMLError):
    def __init__(self):
        super().__init__(2, "Invalid Argument")


class NVMLError_NotFound(NVMLError):
    def __init__(self):
        super().__init__(6, "Not Found")


class NVMLError_LibraryNotFound(NVMLError):
    def __init__(self):
        super().__init__(12, "NVML Shared Library Not Found")


NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU, NVML_NVLINK_MAX_LINKS = 1, 2, 0, 36
nvmlClocksEventReasonGpuIdle, nvmlClocksEventReasonSwPowerCap, nvmlClocksEventReasonHwSlowdown = 0x1, 0x4, 0x8

GPUS = [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-0a1b2c3d-1111-2222-3333-444455556666",
     "bus": "00000000:18:00.0", "pcie": (5, 5, 16, 16), "reasons": 0x0, "sm": 1980, "power": 312000,
     "limit": 700000, "numa": 0, "affinity": [0x0000FFFF]},
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff",
     "bus": "00000000:2A:00.0", "pcie": (3, 5, 8, 16), "reasons": 0x4 | 0x8, "sm": 1410, "power": 499000,
     "limit": 500000, "numa": 1, "affinity": [0xFFFF0000]},
]


# A host with two different GPUs, NVML index order = PCI bus order: an H100 and an A100 whose link
# maximum is Gen4 x16, so a peak or a sample read from the wrong one shows. The A100 is split into MIG
# instances when `mig=True` is asked for.
MIXED = [
    dict(GPUS[0]),
    {"name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-5e6f7a8b-1234-5678-9abc-def012345678",
     "bus": "00000000:3B:00.0", "pcie": (4, 4, 16, 16), "reasons": 0x0, "sm": 1410, "power": 250000,
     "limit": 400000, "numa": 1, "affinity": [0xFFFF0000], "capability": (8, 0),
     "mig": ["MIG-11112222-3333-4444-5555-666677778888"]},
]


class _Handle:
    def __init__(self, index, table):
        self.index, self.gpu = index, table[index]


class _MigHandle:
    def __init__(self, uuid):
        self.uuid = uuid


def _make(calls, driver_loaded=True, no_permission=(), gpus=None, mig=False):
    """A module object; `calls` records every function name called. `gpus`: the device table (GPUS by
    default); `mig`: devices with a "mig" list run in MIG mode with those instances."""
    table = gpus or GPUS
    m = types.ModuleType("pynvml")
    for name, value in list(globals().items()):
        if name.startswith(("NVMLError", "NVML_", "nvmlClocks")):
            setattr(m, name, value)

    def fn(name):
        def deco(impl):
            def wrapper(*args):
                calls.append(name)
                if name in no_permission:
                    raise NVMLError_NoPermission()
                return impl(*args)
            setattr(m, name, wrapper)
            return wrapper
        return deco

    @fn("nvmlInit")
    def _init():
        if not driver_loaded:
            raise NVMLError_LibraryNotFound()

    fn("nvmlShutdown")(lambda: None)
    fn("nvmlSystemGetDriverVersion")(lambda: "550.54.15")
    fn("nvmlSystemGetCudaDriverVersion")(lambda: 12040)
    fn("nvmlSystemGetNVMLVersion")(lambda: "12.550.54.15")
    fn("nvmlDeviceGetCount")(lambda: len(table))
    fn("nvmlDeviceGetHandleByIndex")(lambda i: _Handle(i, table))
    fn("nvmlDeviceGetName")(lambda h: h.gpu["name"])
    fn("nvmlDeviceGetUUID")(lambda h: h.uuid if isinstance(h, _MigHandle) else h.gpu["uuid"])
    fn("nvmlDeviceGetPciInfo")(lambda h: types.SimpleNamespace(busId=h.gpu["bus"].encode()))
    fn("nvmlDeviceGetCudaComputeCapability")(lambda h: h.gpu.get("capability", (9, 0)))
    fn("nvmlDeviceGetMemoryInfo")(lambda h: types.SimpleNamespace(total=85520809984, used=524288000, free=0))
    fn("nvmlDeviceGetClockInfo")(lambda h, c: h.gpu["sm"] if c == NVML_CLOCK_SM else 2619)
    fn("nvmlDeviceGetMaxClockInfo")(lambda h, c: 1980 if c == NVML_CLOCK_SM else 2619)
    fn("nvmlDeviceGetPowerUsage")(lambda h: h.gpu["power"])
    fn("nvmlDeviceGetEnforcedPowerLimit")(lambda h: h.gpu["limit"])
    fn("nvmlDeviceGetPowerManagementDefaultLimit")(lambda h: 700000)
    fn("nvmlDeviceGetCurrentClocksEventReasons")(lambda h: h.gpu["reasons"])
    fn("nvmlDeviceGetCurrPcieLinkGeneration")(lambda h: h.gpu["pcie"][0])
    fn("nvmlDeviceGetMaxPcieLinkGeneration")(lambda h: h.gpu["pcie"][1])
    fn("nvmlDeviceGetCurrPcieLinkWidth")(lambda h: h.gpu["pcie"][2])
    fn("nvmlDeviceGetMaxPcieLinkWidth")(lambda h: h.gpu["pcie"][3])
    fn("nvmlDeviceGetPersistenceMode")(lambda h: 1)
    fn("nvmlDeviceGetEccMode")(lambda h: [1, 1])
    fn("nvmlDeviceGetMigMode")(lambda h: [1, 1] if mig and h.gpu.get("mig") else [0, 0])

    @fn("nvmlDeviceGetMaxMigDeviceCount")
    def _max_mig(h):
        if not (mig and h.gpu.get("mig")):
            raise NVMLError_NotSupported()
        return 7

    @fn("nvmlDeviceGetMigDeviceHandleByIndex")
    def _mig_handle(h, i):
        instances = h.gpu.get("mig") or []
        if i >= len(instances):
            raise NVMLError_NotFound()
        return _MigHandle(instances[i])
    fn("nvmlDeviceGetTemperature")(lambda h, sensor: 41 + h.index)
    fn("nvmlDeviceGetPerformanceState")(lambda h: 0)
    fn("nvmlDeviceGetUtilizationRates")(lambda h: types.SimpleNamespace(gpu=0, memory=0))
    fn("nvmlDeviceGetComputeRunningProcesses")(lambda h: [])
    fn("nvmlDeviceGetNumaNodeId")(lambda h: h.gpu["numa"])
    fn("nvmlDeviceGetCpuAffinity")(lambda h, words: list(h.gpu["affinity"]) + [0] * (words - 1))
    fn("nvmlDeviceGetTopologyCommonAncestor")(lambda a, b: 40)

    @fn("nvmlDeviceGetNvLinkState")
    def _nvlink_state(h, link):
        if link >= 18:
            raise NVMLError_InvalidArgument()
        return 1

    @fn("nvmlDeviceGetNvLinkVersion")
    def _nvlink_version(h, link):
        raise NVMLError_NotSupported()       # a field the driver does not support -> null, no error

    return m


def module(calls=None, **kwargs):
    return _make(calls if calls is not None else [], **kwargs)

"""NVML samples of one GPU while a benchmark case runs on it (host side, a background thread).

A GPU's link downclocks and its clocks idle by design when nothing runs, so what F1 (PCIe link) and
F2 (clock events) judge must be read UNDER LOAD: this samples the device the case runs on every
INTERVAL_S from the case's start to its end. Each sample: t_s (since the case started),
sm_clock_mhz, mem_clock_mhz, power_w, temperature_c, throttle_reasons [names], pcie_gen, pcie_width,
pcie_max_gen, pcie_max_width, other_processes (compute processes on the GPU besides the agent).
Without pynvml or a driver it records nothing (and costs nothing).
"""
from __future__ import annotations

import threading
import time

INTERVAL_S = 0.1
MAX_SAMPLES = 600          # one minute at 10 Hz: a long case keeps its first minute


class GpuSampler:
    def __init__(self, cuda_device: str, agent_pid: int | None = None):
        self.cuda_device = cuda_device
        self.agent_pid = agent_pid
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nv = None
        self._handle = None

    def start(self) -> "GpuSampler":
        try:
            import pynvml
            pynvml.nvmlInit()
        except Exception:                     # noqa: BLE001 - no NVML: no samples, not an error
            return self
        self._nv = pynvml
        self._handle = _handle_for(pynvml, self.cuda_device)
        if self._handle is None:
            return self
        self._thread = threading.Thread(target=self._loop, name="stackprof-gpu-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[dict]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._nv is not None:
            try:
                self._nv.nvmlShutdown()
            except Exception:                 # noqa: BLE001
                pass
        return list(self.samples)

    def _loop(self) -> None:
        from stackprof import nvml
        read = nvml._Reader(self._nv, [])
        started = time.monotonic()
        while not self._stop.is_set() and len(self.samples) < MAX_SAMPLES:
            self.samples.append(sample(self._nv, read, self._handle, started, self.agent_pid))
            self._stop.wait(INTERVAL_S)


def sample(nv, read, handle, started: float, agent_pid: int | None = None) -> dict:
    from stackprof import nvml
    sm, mem = getattr(nv, "NVML_CLOCK_SM", 1), getattr(nv, "NVML_CLOCK_MEM", 2)
    processes = read("gpu", "nvmlDeviceGetComputeRunningProcesses", handle)
    others = None if processes is None else sum(1 for p in processes if getattr(p, "pid", None) != agent_pid)
    power = read("gpu", "nvmlDeviceGetPowerUsage", handle)
    return {
        "t_s": round(time.monotonic() - started, 3),
        "sm_clock_mhz": read("gpu", "nvmlDeviceGetClockInfo", handle, sm),
        "mem_clock_mhz": read("gpu", "nvmlDeviceGetClockInfo", handle, mem),
        "power_w": None if power is None else round(power / 1000.0, 1),
        "temperature_c": read("gpu", "nvmlDeviceGetTemperature", handle, getattr(nv, "NVML_TEMPERATURE_GPU", 0)),
        "throttle_reasons": nvml._throttle_reasons(nv, read, "gpu", handle),
        "pcie_gen": read("gpu", "nvmlDeviceGetCurrPcieLinkGeneration", handle),
        "pcie_width": read("gpu", "nvmlDeviceGetCurrPcieLinkWidth", handle),
        "pcie_max_gen": read("gpu", "nvmlDeviceGetMaxPcieLinkGeneration", handle),
        "pcie_max_width": read("gpu", "nvmlDeviceGetMaxPcieLinkWidth", handle),
        "other_processes": others,
    }


def _handle_for(nv, cuda_device: str):
    """The NVML handle of CUDA device "cuda:N" as the agent sees it (CUDA_VISIBLE_DEVICES applied)."""
    from stackprof import nvml
    ordinal = int(cuda_device.split(":", 1)[1]) if ":" in cuda_device else 0
    resolve = getattr(nvml, "nvml_index_for_cuda", None)      # maps through CUDA_VISIBLE_DEVICES / bus ids
    index = resolve(ordinal) if resolve else ordinal
    if index is None:
        return None
    try:
        return nv.nvmlDeviceGetHandleByIndex(index)
    except Exception:                         # noqa: BLE001
        return None


def summary(samples: list[dict]) -> dict:
    """Under-load figures F1/F2 and the report read: the lowest link seen, clock events seen."""
    loaded = [s for s in samples if isinstance(s, dict)]
    if not loaded:
        return {}
    gens = [s["pcie_gen"] for s in loaded if isinstance(s.get("pcie_gen"), int)]
    widths = [s["pcie_width"] for s in loaded if isinstance(s.get("pcie_width"), int)]
    reasons = sorted({r for s in loaded for r in (s.get("throttle_reasons") or []) if r != "gpu_idle"})
    clocks = [s["sm_clock_mhz"] for s in loaded if isinstance(s.get("sm_clock_mhz"), int)]
    return {"samples": len(loaded), "pcie_gen_max_seen": max(gens) if gens else None,
            "pcie_width_max_seen": max(widths) if widths else None, "clock_event_reasons": reasons,
            "sm_clock_mhz_median": sorted(clocks)[len(clocks) // 2] if clocks else None}

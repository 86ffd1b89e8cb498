"""The state of this rank's GPU while it is measured, through NVML (libnvidia-ml, the driver's own
library) with ctypes — per-rank side, so no pynvml: SM clock against its maximum, clock throttle
reasons, temperature, power against the enforced limit, PCIe link now and at most. A Sampler reads
them every 0.2 s on a thread while the per-device benchmarks run; the summary keeps the lowest SM
clock, every throttle reason seen, the hottest temperature and the highest power, plus the driver
version and the active NVLink links (count and version, read once).

Written against nvml.h (NVML API v2 entry points); needs a GPU to run: on this project's CPU machine
it only ever reports {"available": false, "reason": …}. Standard library; Python 3.8 syntax.
"""
import ctypes
import threading

NVML_CLOCK_SM = 1
NVML_TEMPERATURE_GPU = 0
THROTTLE_BITS = ((0x1, "gpu_idle"), (0x2, "applications_clocks_setting"), (0x4, "sw_power_cap"),
                 (0x8, "hw_slowdown"), (0x10, "sync_boost"), (0x20, "sw_thermal_slowdown"),
                 (0x40, "hw_thermal_slowdown"), (0x80, "hw_power_brake_slowdown"),
                 (0x100, "display_clock_setting"))
INTERVAL_S = 0.2
NVLINK_MAX_LINKS = 18          # NVML_NVLINK_MAX_LINKS


class Nvml(object):
    def __init__(self, pci_bus_id):
        self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        self._check(self.lib.nvmlInit_v2(), "nvmlInit_v2")
        self.handle = ctypes.c_void_p()
        self._check(self.lib.nvmlDeviceGetHandleByPciBusId_v2(pci_bus_id.encode(), ctypes.byref(self.handle)),
                    "nvmlDeviceGetHandleByPciBusId_v2")

    def _check(self, code, name):
        if code != 0:
            raise RuntimeError("%s returned NVML error %d" % (name, code))

    def _uint(self, fn, *args):
        value = ctypes.c_uint()
        code = getattr(self.lib, fn)(self.handle, *(args + (ctypes.byref(value),)))
        return value.value if code == 0 else None

    def throttle(self):
        value = ctypes.c_ulonglong()
        for fn in ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"):
            if hasattr(self.lib, fn) and getattr(self.lib, fn)(self.handle, ctypes.byref(value)) == 0:
                return [name for bit, name in THROTTLE_BITS if value.value & bit]
        return None

    def sample(self):
        power = self._uint("nvmlDeviceGetPowerUsage")
        limit = self._uint("nvmlDeviceGetEnforcedPowerLimit")
        return {"sm_mhz": self._uint("nvmlDeviceGetClockInfo", NVML_CLOCK_SM),
                "sm_max_mhz": self._uint("nvmlDeviceGetMaxClockInfo", NVML_CLOCK_SM),
                "throttle_reasons": self.throttle(),
                "temperature_c": self._uint("nvmlDeviceGetTemperature", NVML_TEMPERATURE_GPU),
                "power_w": power / 1000.0 if power is not None else None,
                "power_limit_w": limit / 1000.0 if limit is not None else None,
                "pcie_gen": self._uint("nvmlDeviceGetCurrPcieLinkGeneration"),
                "pcie_width": self._uint("nvmlDeviceGetCurrPcieLinkWidth"),
                "pcie_gen_max": self._uint("nvmlDeviceGetMaxPcieLinkGeneration"),
                "pcie_width_max": self._uint("nvmlDeviceGetMaxPcieLinkWidth")}

    def static(self):
        """What does not change while it runs: driver version, active NVLink links and their version."""
        buf = ctypes.create_string_buffer(96)
        driver = buf.value.decode() if self.lib.nvmlSystemGetDriverVersion(buf, 96) == 0 else None
        active, versions = 0, set()
        for link in range(NVLINK_MAX_LINKS):
            state, version = ctypes.c_uint(), ctypes.c_uint()
            if self.lib.nvmlDeviceGetNvLinkState(self.handle, link, ctypes.byref(state)) != 0:
                continue
            if state.value:
                active += 1
                if self.lib.nvmlDeviceGetNvLinkVersion(self.handle, link, ctypes.byref(version)) == 0:
                    versions.add(version.value)
        return {"driver_version": driver, "nvlink_active": active, "nvlink_version": sorted(versions) or None}

    def close(self):
        try:
            self.lib.nvmlShutdown()
        except Exception:
            pass


class Sampler(object):
    """start() / stop() -> summary; never raises (no NVML is a fact, not an error)."""

    def __init__(self, pci_bus_id):
        self.pci_bus_id, self.samples, self.reason, self.fixed = pci_bus_id, [], None, {}
        self._stop, self._thread, self._nvml = threading.Event(), None, None

    def start(self):
        if not self.pci_bus_id:
            self.reason = "no PCI bus id for this device"
            return self
        try:
            self._nvml = Nvml(self.pci_bus_id)
        except Exception as exc:
            self.reason = ("%s: %s" % (type(exc).__name__, exc))[:300]
            return self
        try:
            self.fixed = self._nvml.static()
        except Exception as exc:
            self.fixed = {"error": ("%s: %s" % (type(exc).__name__, exc))[:200]}
        self._thread = threading.Thread(target=self._loop, name="stackprof-nvml", daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        while not self._stop.is_set():
            try:
                self.samples.append(self._nvml.sample())
            except Exception as exc:
                self.reason = ("%s: %s" % (type(exc).__name__, exc))[:300]
                return
            self._stop.wait(INTERVAL_S)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._nvml is not None:
            self._nvml.close()
        return dict(summarize(self.samples, self.reason), **self.fixed)


def summarize(samples, reason=None):
    """The lowest SM clock, the reasons seen (idle is not a throttle), the highest temperature/power."""
    if not samples:
        return {"available": False, "reason": reason or "no NVML sample"}

    def values(key):
        return [s[key] for s in samples if s.get(key) is not None]

    def top(key):
        found = values(key)
        return max(found) if found else None
    clocks = sorted(values("sm_mhz"))
    reasons = sorted(set(r for s in samples for r in (s.get("throttle_reasons") or [])) - {"gpu_idle"})
    return {"available": True, "samples": len(samples),
            "sm_mhz_min": clocks[0] if clocks else None,
            "sm_mhz_median": clocks[len(clocks) // 2] if clocks else None,
            "sm_max_mhz": top("sm_max_mhz"), "throttle_reasons": reasons,
            "temperature_c_max": top("temperature_c"), "power_w_max": top("power_w"),
            "power_limit_w": top("power_limit_w"), "pcie_gen": top("pcie_gen"), "pcie_width": top("pcie_width"),
            "pcie_gen_max": top("pcie_gen_max"), "pcie_width_max": top("pcie_width_max")}

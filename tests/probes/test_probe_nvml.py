"""GPU facts through NVML. No GPU here: the code a real H100 would run is exercised against a thin
fake pynvml (same names, shapes and error classes); the real pynvml is used for the no-driver path."""
from __future__ import annotations

import json
import sys

import pytest

from stackprof import nvml
from stackprof.collect import collect_facts
from stackprof.pipeline import finalize, new_run
from stackprof.target import Target

import fake_pynvml

DEVICE_KEYS = {"index", "name", "uuid", "bus_id", "memory_total_bytes", "clocks", "power", "throttle_reasons",
               "pcie", "persistence_mode", "ecc_enabled", "mig_mode", "temperature_c", "numa_node",
               "cpu_affinity", "nvlink"}


@pytest.fixture
def fake(monkeypatch):
    calls: list[str] = []

    def install(**kwargs):
        module = fake_pynvml.module(calls, **kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", module)
        return module
    install.calls = calls
    return install


def test_h100_like_machine(fake):
    fake()
    facts, errors = nvml.collect_gpus()
    assert errors == []
    assert facts["available"] is True and facts["reason"] is None
    assert facts["driver_version"] == "550.54.15" and facts["cuda_driver_version"] == "12.4"
    assert facts["count"] == 2 and len(facts["devices"]) == 2
    healthy, degraded = facts["devices"]
    assert DEVICE_KEYS <= set(healthy)
    assert healthy["name"] == "NVIDIA H100 80GB HBM3" and healthy["capability"] == "9.0"
    assert healthy["bus_id"] == "00000000:18:00.0"                     # bytes from the binding, decoded
    assert healthy["memory_total_bytes"] == 85520809984
    assert healthy["clocks"] == {"sm_mhz": 1980, "sm_max_mhz": 1980, "mem_mhz": 2619, "mem_max_mhz": 2619}
    assert healthy["power"] == {"draw_w": 312.0, "limit_w": 700.0, "default_limit_w": 700.0}
    assert healthy["pcie"] == {"gen": 5, "gen_max": 5, "width": 16, "width_max": 16}
    assert healthy["throttle_reasons"] == []
    assert healthy["persistence_mode"] is True and healthy["ecc_enabled"] is True and healthy["mig_mode"] is False
    assert healthy["temperature_c"] == 41 and healthy["performance_state"] == "P0"
    assert healthy["numa_node"] == 0 and healthy["cpu_affinity"] == list(range(16))
    # 18 links answer, link 18 says "invalid argument" (no such link): not an error; the NVLink
    # version is NotSupported: null, not an error either.
    assert healthy["nvlink"] == {"links": 18, "active_links": 18, "version": None}
    # The degraded GPU: link trained down, power capped below default, clocks throttled.
    assert degraded["pcie"] == {"gen": 3, "gen_max": 5, "width": 8, "width_max": 16}
    assert degraded["power"]["limit_w"] == 500.0 and degraded["power"]["default_limit_w"] == 700.0
    assert degraded["throttle_reasons"] == ["sw_power_cap", "hw_slowdown"]
    assert degraded["clocks"]["sm_mhz"] < degraded["clocks"]["sm_max_mhz"]
    assert degraded["cpu_affinity"] == list(range(16, 32)) and degraded["numa_node"] == 1
    assert facts["topology"] == [{"a": 0, "b": 1, "level": "numa_node"}]
    assert "nvmlShutdown" in fake.calls


def test_permission_error_is_null_plus_one_line(fake):
    fake(no_permission=("nvmlDeviceGetEnforcedPowerLimit",))
    facts, errors = nvml.collect_gpus()
    assert [d["power"]["limit_w"] for d in facts["devices"]] == [None, None]
    assert errors == ["gpu0: nvmlDeviceGetEnforcedPowerLimit: Insufficient Permissions",
                      "gpu1: nvmlDeviceGetEnforcedPowerLimit: Insufficient Permissions"]
    assert facts["devices"][1]["pcie"]["gen"] == 3            # everything else still read


def test_older_binding_without_clock_event_api(fake):
    module = fake()
    del module.nvmlDeviceGetCurrentClocksEventReasons, module.nvmlClocksEventReasonSwPowerCap
    module.nvmlDeviceGetCurrentClocksThrottleReasons = lambda h: h.gpu["reasons"]
    facts, errors = nvml.collect_gpus()
    assert errors == [] and facts["devices"][1]["throttle_reasons"] == ["sw_power_cap", "hw_slowdown"]


def test_no_driver_with_fake_binding(fake):
    fake(driver_loaded=False)
    facts, errors = nvml.collect_gpus()
    assert facts == {"available": False, "reason": "no NVIDIA driver: NVML Shared Library Not Found"}
    assert errors == [] and fake.calls == ["nvmlInit"]


def test_this_machine_says_no_gpu_in_one_line():
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver")
    facts, errors = nvml.collect_gpus()
    assert facts["available"] is False and errors == []
    assert facts["reason"].startswith("no NVIDIA driver") and "\n" not in facts["reason"]


def test_gpu_uuids_redacted_in_the_run(fake):
    fake()
    run = new_run("fake-gpus", mode="probe", redact=True)
    collect_facts(Target(sys.executable), run, only=["python"])
    assert run.environment["gpus"]["devices"][0]["uuid"].startswith("GPU-0a1b2c3d")
    text = finalize(run, redact=True).to_json()
    assert "0a1b2c3d" not in text and "9f8e7d6c" not in text
    assert json.loads(text)["environment"]["gpus"]["devices"][1]["uuid"] == "GPU-<redacted>"
    kept = finalize(run, redact=False).to_json()
    assert "GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff" in kept


def test_hung_nvml_does_not_hold_the_run(fake, monkeypatch):
    import threading

    from stackprof import collect
    release = threading.Event()
    module = fake()
    module.nvmlInit = lambda: release.wait(30)        # a wedged driver
    monkeypatch.setattr(collect, "HOST_TIMEOUT_S", 0.5)
    run = new_run("hung-nvml", mode="probe", redact=True)
    try:
        collect_facts(Target(sys.executable), run, only=["python"])
    finally:
        release.set()
    assert run.environment["gpus"] == {"available": None, "reason": "NVML did not answer within 0.5 s"}
    assert run.environment["python"]["version"]                # the target's facts are all there
    assert [(e["stage"], e["source"]) for e in run.errors] == [("host", "gpus")]

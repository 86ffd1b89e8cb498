"""Which GPU a CUDA ordinal is. CUDA numbers the devices CUDA_VISIBLE_DEVICES leaves, in
CUDA_DEVICE_ORDER; NVML numbers every device. On a fake two-GPU host (an H100 and an A100 whose link
maximum is Gen4) the measured device's peak and sampled state must be the right GPU's."""
from __future__ import annotations

import sys
import time

import pytest

from stackprof import hardware, nvml
from stackprof.hardware.gpus import nvml_device_for, parse_visible_devices

import fake_pynvml

A100_UUID = fake_pynvml.MIXED[1]["uuid"]
A100_MIG = fake_pynvml.MIXED[1]["mig"][0]


@pytest.fixture
def two_gpus(monkeypatch):
    """Install the fake NVML with the mixed host; returns a function giving the Run's environment."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)

    def install(visible=None, order=None, mig=False, gpus=fake_pynvml.MIXED):
        module = fake_pynvml.module(gpus=gpus, mig=mig)
        monkeypatch.setitem(sys.modules, "pynvml", module)
        env = {}
        for name, value in (("CUDA_VISIBLE_DEVICES", visible), ("CUDA_DEVICE_ORDER", order)):
            if value is not None:
                monkeypatch.setenv(name, value)
                env[name] = value
        facts, errors = nvml.collect_gpus()
        assert errors == []
        return module, {"gpus": facts, "env_vars": {"vars": env}}
    return install


def _peaks(environment):
    gemm = hardware.peak_for({"device": "cuda:0", "op": "gemm", "unit": "GFLOP/s", "dtype": "bf16", "params": {}},
                             environment)
    h2d = hardware.peak_for({"device": "cuda:0", "op": "h2d", "unit": "GB/s", "dtype": "u8", "params": {}},
                            environment)
    return gemm, h2d


def test_visible_index_maps_cuda0_to_the_second_gpu(two_gpus):
    module, environment = two_gpus(visible="1", order="PCI_BUS_ID")
    gemm, h2d = _peaks(environment)
    assert gemm["model"] == "A100 80GB" and gemm["value"] == 312000.0
    assert gemm["achievable"]["measured_on"] == "NVIDIA A100 SXM"
    assert h2d["value"] == 31.5 and "gen 4 x16" in h2d["source"]           # the A100's link, not the H100's
    assert h2d["nvml_device"]["index"] == 1 and "CUDA_VISIBLE_DEVICES" in h2d["nvml_device"]["matched_by"]
    module.nvmlInit()
    assert nvml.nvml_index_for_cuda(0, nv=module) == 1


def test_indices_on_a_mixed_host_need_the_pci_order(two_gpus):
    # H100 + A100 under CUDA's default "fastest first": which one an index names is not known, so no
    # GPU's peak is used rather than possibly the wrong one's.
    for visible in (None, "1"):
        _, environment = two_gpus(visible=visible)
        assert _peaks(environment) == (None, None)
    _, environment = two_gpus(order="PCI_BUS_ID")
    gemm, h2d = _peaks(environment)
    assert gemm["model"] == "H100 SXM" and h2d["value"] == 63.01


def test_identical_gpus_follow_pci_order(two_gpus):
    module, environment = two_gpus(visible="1", gpus=fake_pynvml.GPUS)    # two H100s, the second degraded
    assert _peaks(environment)[1]["nvml_device"]["index"] == 1
    module.nvmlInit()
    assert nvml.nvml_index_for_cuda(0, nv=module) == 1


def test_uuid_and_mig_forms(two_gpus):
    module, environment = two_gpus(visible=A100_UUID[:12])                # a unique UUID prefix
    assert _peaks(environment)[1]["nvml_device"]["index"] == 1
    module, environment = two_gpus(visible=A100_MIG, mig=True)
    assert environment["gpus"]["devices"][1]["mig_devices"] == [A100_MIG]
    assert _peaks(environment)[0]["model"] == "A100 80GB"                 # the MIG instance's parent
    module.nvmlInit()
    assert nvml.nvml_index_for_cuda(0, nv=module) == 1


def test_cudas_own_identity_decides():
    devices = [{"index": 0, "name": "X", "uuid": "GPU-aaaa", "bus_id": "00000000:18:00.0"},
               {"index": 1, "name": "X", "uuid": "GPU-bbbb", "bus_id": "00000000:3B:00.0"}]
    assert nvml_device_for(0, devices, identity={"pci_bus_id": "0000:3b:00.0"})[0]["index"] == 1
    assert nvml_device_for(0, devices, identity={"uuid": "bbbb"})[1] == "UUID"          # CUDA reports it bare
    found, how = nvml_device_for(0, devices, visible="1", identity={"uuid": "GPU-<redacted>"})
    assert found["index"] == 1 and "CUDA_VISIBLE_DEVICES" in how                        # redacted: falls back


@pytest.mark.parametrize("value, parsed", [
    (None, None), ("", []), ("1,0", [1, 0]), ("2,x,3", [2]), ("0,0", []), ("1gpu", [1]),
    ("GPU-ab,GPU-cd", ["GPU-ab", "GPU-cd"]), ("GPU-ab,1", ["GPU-ab"]), ("MIG-xy", ["MIG-xy"]),
])
def test_visible_devices_parse_as_cuda_does(value, parsed):
    assert parse_visible_devices(value) == parsed


def test_out_of_range_or_unknown_gives_no_device_rather_than_another():
    devices = [{"index": 0, "name": "X", "uuid": "GPU-aaaa", "bus_id": "00000000:18:00.0"}]
    assert nvml_device_for(0, devices, visible="3")[0] is None
    assert nvml_device_for(1, devices, visible="0")[0] is None
    assert nvml_device_for(0, devices, visible="GPU-ffff")[0] is None
    redacted = [dict(d, uuid="GPU-<redacted>") for d in devices]           # a document read back later
    assert nvml_device_for(0, redacted, visible="GPU-<redacted>")[0] is None


@pytest.mark.parametrize("visible, order, gpus, expect", [
    ("1", "PCI_BUS_ID", fake_pynvml.MIXED, {(4, 4, 1410)}),             # the A100: Gen4 link
    ("1", None, fake_pynvml.GPUS, {(3, 5, 1410)}),                       # the degraded H100: Gen3 of Gen5
    (None, None, fake_pynvml.GPUS, {(5, 5, 1980)}),                      # no mask: the first H100
])
def test_the_engine_samples_the_mapped_gpu(two_gpus, visible, order, gpus, expect):
    sampler = pytest.importorskip("stackprof.gpu_sampler")      # the measurement engine's sampler
    two_gpus(visible=visible, order=order, gpus=gpus)
    running = sampler.GpuSampler("cuda:0").start()
    deadline = time.monotonic() + 5
    while not running.samples and time.monotonic() < deadline:
        time.sleep(0.02)
    samples = running.stop()
    assert samples, "no NVML sample taken"
    assert {(s["pcie_gen"], s["pcie_max_gen"], s["sm_clock_mhz"]) for s in samples} == expect


def test_the_probes_identity_finds_its_nvml_device_and_is_redactable():
    import types

    from stackprof.paths import import_probe
    from stackprof.redact import _UUID_RE
    gpu_select = import_probe("bench.gpu_select")
    # What torch.cuda.get_device_properties gives (no GPU here: a stand-in with its attribute names).
    props = types.SimpleNamespace(uuid="5e6f7a8b-1234-5678-9abc-def012345678", pci_domain_id=0, pci_bus_id=0x3B,
                                  pci_device_id=0)
    torch = types.SimpleNamespace(cuda=types.SimpleNamespace(get_device_properties=lambda dev: props))
    identity = gpu_select.device_identity(torch, 0)
    assert identity == {"device_uuid": A100_UUID, "pci_bus_id": "0000:3b:00.0"}
    assert _UUID_RE.fullmatch(identity["device_uuid"])                      # redacted like NVML's UUIDs
    devices = [{"index": i, "name": g["name"], "uuid": g["uuid"], "bus_id": g["bus"]}
               for i, g in enumerate(fake_pynvml.MIXED)]
    env = {"gpus": {"devices": devices}, "env_vars": {"vars": {"CUDA_VISIBLE_DEVICES": "1"}}}   # order unknown
    record = {"device": "cuda:0", "op": "h2d", "unit": "GB/s", "params": {"pci_bus_id": identity["pci_bus_id"]}}
    assert hardware.peak_for(record, dict(env, gpus={"devices": [dict(d, pcie={"gen_max": 4, "width_max": 16})
                                                                  for d in devices]}))["value"] == 31.5
    del props.pci_bus_id                                                     # an older torch: UUID only
    assert gpu_select.device_identity(torch, 0) == {"device_uuid": A100_UUID}

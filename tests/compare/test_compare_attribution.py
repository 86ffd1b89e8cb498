"""Attribution: each significant difference is connected to the differing facts that can move it."""
from __future__ import annotations

from stackprof.compare import compare_runs

from .builders import environment, record, run, samples, skylake_environment


def _bench(comparison: dict, bench_id: str, pair: int = 0) -> dict:
    return next(b for b in comparison["pairs"][pair]["benchmarks"] if b["id"] == bench_id)


GEMM = "gemm/numpy/cpu/fp32/512x512x512"


def test_gemm_delta_is_attributed_to_blas_kernel_and_coretype_not_to_unrelated_packages():
    env_b = skylake_environment()
    env_b["packages"]["distributions"][2]["version"] = "2.33.0"          # requests: irrelevant to GEMM
    a = run("haswell", benchmarks=[record(samples_s=samples(0.010, seed=1))])
    b = run("skylakex", env=env_b, benchmarks=[record(samples_s=samples(0.006, seed=2))])
    bench = _bench(compare_runs([a, b]), GEMM)
    assert bench["verdict"] == "faster"
    att = bench["attribution"]
    assert att["explained"] and not att["hardware_first"]
    paths = [f["path"] for f in att["facts"]]
    assert set(paths) == {"env_vars.vars.OPENBLAS_CORETYPE", "native_libs.libraries[blas:openblas].architecture"}
    assert {g["name"] for g in att["groups"]} == {"blas"}
    assert "A6" in [c["id"] for c in att["groups"][0]["causes"]]


def test_delta_without_a_known_cause_is_unexplained():
    env_b = environment()
    env_b["packages"]["distributions"][2]["version"] = "2.33.0"
    a = run("a", benchmarks=[record(samples_s=samples(0.010, seed=1))])
    b = run("b", env=env_b, benchmarks=[record(samples_s=samples(0.013, seed=2))])
    comparison = compare_runs([a, b])
    att = _bench(comparison, GEMM)["attribution"]
    assert _bench(comparison, GEMM)["verdict"] == "slower"
    assert not att["explained"] and att["facts"] == []
    assert att["text"].startswith("unexplained")


def test_different_machines_put_hardware_first_and_say_so_at_the_top():
    env_b = skylake_environment()
    env_b["system"]["cpu"]["model"] = "Intel Xeon Platinum 8480+"
    a = run("laptop", benchmarks=[record(samples_s=samples(0.010, seed=1))])
    b = run("server", env=env_b, benchmarks=[record(samples_s=samples(0.005, seed=2))])
    comparison = compare_runs([a, b])
    assert not comparison["same_hardware"]
    assert "different machines" in comparison["notes"][0]
    att = _bench(comparison, GEMM)["attribution"]
    assert att["hardware_first"] and att["facts"][0]["path"] == "system.cpu.model"
    assert att["facts"][0]["group"] == "hardware"


def test_finding_present_in_one_run_only_is_cited():
    finding = {"id": "A6", "severity": "medium", "title": "AVX-512 CPU running Haswell OpenBLAS kernels",
               "experiment": {"env": {"OPENBLAS_CORETYPE": None}, "benchmarks": [GEMM]}, "status": "confirmed"}
    a = run("a", benchmarks=[record(samples_s=samples(0.010, seed=1))], findings=[finding])
    b = run("b", env=skylake_environment(), benchmarks=[record(samples_s=samples(0.006, seed=2))])
    att = _bench(compare_runs([a, b]), GEMM)["attribution"]
    assert att["findings"] == [{"id": "A6", "title": finding["title"], "only_in": "A", "status": "confirmed",
                                "severity": "medium"}]


def test_gpu_transfer_is_attributed_to_the_pcie_link():
    def gpu_env(gen):
        env = environment()
        env["gpus"] = {"available": True, "driver_version": "570.1", "count": 1, "devices": [
            {"index": 0, "name": "NVIDIA H100", "memory_total_bytes": 80e9, "clocks": {"sm_mhz": 1980},
             "pcie": {"gen": gen, "gen_max": 5, "width": 16, "width_max": 16}}]}
        return env
    h2d = "h2d/torch/cuda:0/fp32/256MiB/pinned"
    kw = dict(op="h2d", device="cuda:0", unit="GB/s", work={"flops": None, "bytes": 2 ** 28})
    a = run("gen5", env=gpu_env(5), benchmarks=[record(h2d, samples(0.005, seed=1), **kw)])
    b = run("gen3", env=gpu_env(3), benchmarks=[record(h2d, samples(0.020, seed=2), **kw)])
    bench = _bench(compare_runs([a, b]), h2d)
    assert bench["verdict"] == "slower"
    assert [f["path"] for f in bench["attribution"]["facts"]] == ["gpus.devices[0].pcie.gen"]


def test_only_significant_differences_get_an_attribution():
    a = run("a", benchmarks=[record(samples_s=samples(0.010, seed=1))])
    b = run("b", env=skylake_environment(), benchmarks=[record(samples_s=samples(0.010, seed=2))])
    bench = _bench(compare_runs([a, b]), GEMM)
    assert bench["verdict"] == "same" and bench["attribution"] is None

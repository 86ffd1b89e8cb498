"""Host side of the benchmarks: planning (modes, --only, --device, --budget, sizes from the cache),
and finish(): stats, % of peak, best-on-machine per case (operation, device, precision, shape and
variant), max achievable per operation, the headline. Records are built by hand here; the venv tests
produce real ones."""
from __future__ import annotations

import copy

import pytest

from stackprof import bench
from stackprof.bench_suite import cpu_suite
from stackprof.errors import StackprofError
from stackprof.model import Run

MIB = 1024 * 1024


def record(rid, op="gemm", framework="torch", dtype="fp32", variant=None, seconds=1.0, flops=1e9,
           unit="GFLOP/s", direction="higher", status="ok", device="cpu"):
    return {"id": rid, "op": op, "framework": framework, "device": device, "dtype": dtype, "variant": variant,
            "unit": unit, "direction": direction, "work": {"flops": flops, "bytes": flops}, "params": {},
            "samples_s": [seconds * f for f in (0.98, 1.0, 1.02)] if status == "ok" else [],
            "status": status, "reason": None if status == "ok" else "why"}


def test_plan_quick_covers_the_issue_checklist():
    tasks = bench.plan(Run(), "quick", device="cpu")
    seen = {(t.probe, t.args["framework"]) for t in tasks}
    assert {("bench.gemm", "numpy"), ("bench.gemm", "torch"), ("bench.conv", "torch"),
            ("bench.elementwise", "torch"), ("bench.stream", "torch"), ("bench.dispatch", "torch"),
            ("bench.mlp_compile", "torch")} <= seen
    torch_gemm = next(t for t in tasks if t.probe == "bench.gemm" and t.args["framework"] == "torch")
    assert {c["dtype"] for c in torch_gemm.args["cases"]} == {"fp32", "bf16"}
    # numpy first, torch last: each framework then runs alone in a fresh process
    frameworks = [t.args["framework"] for t in tasks]
    assert frameworks.index("numpy") < frameworks.index("torch")


def test_plan_only_and_budget():
    tasks = bench.plan(Run(), "default", only="gemm,sdpa", device="cpu", budget_s=12)
    assert {t.probe for t in tasks} == {"bench.gemm", "bench.attention"}
    n = sum(len(t.args["cases"]) for t in tasks)
    assert sum(t.args["budget_s"] * len(t.args["cases"]) for t in tasks) == pytest.approx(12, rel=0.01)
    assert all(t.args["budget_s"] == pytest.approx(12 / n, rel=0.01) for t in tasks)


@pytest.mark.parametrize("kwargs, message", [
    ({"only": "gemm,warp"}, "unknown benchmark family 'warp'"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
    ({"budget_s": -1}, "--budget must be positive"),
    ({"mode": "slow"}, "unknown benchmark mode 'slow'"),
])
def test_plan_rejects_bad_options(kwargs, message):
    args = {"mode": "quick", **kwargs}
    with pytest.raises(StackprofError, match=message):
        bench.plan(Run(), args.pop("mode"), **args)


def test_host_arrays_are_four_times_the_last_level_cache():
    env = {"system": {"cpu": {"llc_bytes": 32 * MIB}, "memory": {"total_bytes": 16 << 30, "available_bytes": 9 << 30}}}
    stream = next(g for g in cpu_suite("quick", env) if g.family == "stream")
    elementwise = next(g for g in cpu_suite("quick", env) if g.family == "elementwise")
    assert stream.cases[0]["n"] * 8 == 128 * MIB
    assert elementwise.cases[0]["rows"] * 4096 * 4 == 128 * MIB


def test_host_array_sizes_come_from_stable_facts_only():
    """The same machine gets the same case ids in every run: free memory (which changes from run to
    run) does not size the arrays; a VM reporting a 480 MiB LLC gets capped arrays, not 2 GB ones."""
    base = {"cpu": {"llc_bytes": 32 * MIB}, "memory": {"total_bytes": 16 << 30}}
    ids = set()
    for free in (1 << 30, 5 << 30, 9 << 30):
        env = {"system": {**base, "memory": {**base["memory"], "available_bytes": free}}}
        ids.add(tuple((c.get("n"), c.get("rows")) for g in cpu_suite("quick", env)
                      if g.family in ("stream", "elementwise") for c in g.cases))
    assert len(ids) == 1
    huge = {"system": {"cpu": {"llc_bytes": 480 * MIB}, "memory": {"total_bytes": 64 << 30}}}
    stream = next(g for g in cpu_suite("quick", huge) if g.family == "stream")
    assert stream.cases[0]["n"] * 8 == 256 * MIB
    small = {"system": {"cpu": {"llc_bytes": 96 * MIB}, "memory": {"total_bytes": 2 << 30},
                        "cgroup": {"memory_limit_bytes": 1 << 30}}}
    capped = next(g for g in cpu_suite("quick", small) if g.family == "stream")
    assert capped.cases[0]["n"] * 8 == 32 * MIB                     # 1/32 of the container's 1 GiB


def test_default_mode_searches_the_best_gemm_shape_per_dtype_and_quick_does_not():
    default = {g.framework: g for g in cpu_suite("default", {}) if g.family == "gemm"}
    searched = [c for c in default["torch"].cases if c.get("search")]
    assert {c["dtype"] for c in searched} == {"fp32", "bf16"} and all(c["search"]["budget_s"] > 0 for c in searched)
    assert not [c for g in cpu_suite("quick", {}) for c in g.cases if c.get("search")]
    assert not [c for g in cpu_suite("quick", {}) if g.family == "compile" for c in g.cases
                if c.get("mode") == "compile"]                     # a cold compile cannot fit --quick


def test_finish_value_peak_best_and_headline():
    run = Run(environment={"system": {"cpu": {"vendor": "GenuineIntel", "family": 6, "physical_cores": 1,
                                              "flags": {"avx": True, "avx2": True, "fma": True}, "max_mhz": 3500}}})
    run.benchmarks = [
        record("gemm/numpy/cpu/fp32/a", framework="numpy", seconds=1 / 25),    # 25 GFLOP/s
        record("gemm/torch/cpu/fp32/a", seconds=1 / 100),                      # 100 GFLOP/s
        record("gemm/torch/cpu/fp32/b", seconds=1 / 50),                       # smaller shape, 50
        record("mlp/torch/cpu/fp32/m", op="mlp", unit="us", direction="lower", seconds=20e-6),
        record("mlp/torch/cpu/fp32/m/compile", op="mlp", variant="compile", unit="us", direction="lower",
               seconds=10e-6),
        record("gemm/torch/cuda:0/bf16/a", device="cuda:0", dtype="bf16", status="skipped"),
    ]
    bench.finish(run)
    by_id = {r["id"]: r for r in run.benchmarks}
    numpy = by_id["gemm/numpy/cpu/fp32/a"]
    assert numpy["value"] == pytest.approx(25.0)
    assert numpy["peak"]["value"] == pytest.approx(112.0)                # 1 core x 3.5 GHz x 8 x 2 x 2
    assert numpy["pct_of_peak"] == pytest.approx(25 / 112)
    assert numpy["best_on_machine"] == {"id": "gemm/torch/cpu/fp32/a", "value": pytest.approx(100.0)}
    assert numpy["pct_of_best"] == pytest.approx(0.25)
    # % of best compares default path with default path (a variant is an opportunity, not a best):
    # eager is the best eager; the compiled variant is the machine's max achievable, 2x (lower is better)
    assert by_id["mlp/torch/cpu/fp32/m"]["pct_of_best"] == pytest.approx(1.0)
    assert by_id["mlp/torch/cpu/fp32/m"]["pct_of_max"] == pytest.approx(0.5)
    assert by_id["mlp/torch/cpu/fp32/m"]["max_achievable"]["id"] == "mlp/torch/cpu/fp32/m/compile"
    assert by_id["mlp/torch/cpu/fp32/m"]["peak"] is None
    assert by_id["gemm/torch/cuda:0/bf16/a"]["value"] is None
    assert by_id["gemm/torch/cuda:0/bf16/a"]["pct_of_best"] is None
    head = run.headline
    # key kernels: gemm fp32, one component per framework at its best shape -> sqrt(0.25 * 1.0)
    assert [c["id"] for c in head["components"]] == ["gemm/numpy/cpu/fp32/a", "gemm/torch/cpu/fp32/a"]
    assert head["score"] == pytest.approx(0.5)
    assert "50%" in head["text"] and "geometric mean" in head["method"]
    maxima = {(m["op_key"], m["framework"]): m["id"] for m in head["max_achievable"]}
    assert maxima[("mlp/cpu/fp32", "torch")] == "mlp/torch/cpu/fp32/m/compile"
    before = repr(run.benchmarks)
    bench.finish(run)                                                     # idempotent
    assert repr(run.benchmarks) == before


def test_estimated_peak_exceeded_is_flagged():
    run = Run(environment={"system": {"cpu": {"vendor": "GenuineIntel", "family": 6, "physical_cores": 1,
                                              "flags": {"avx2": True, "fma": True}, "cur_mhz": 1000}}})
    run.benchmarks = [record("gemm/torch/cpu/fp32/a", seconds=1 / 40),         # 40 > 32 GFLOP/s
                      record("gemm/torch/cpu/fp64/a", dtype="fp64", seconds=1 / 10)]
    bench.finish(run)
    fp32, fp64 = run.benchmarks
    assert fp32["pct_of_peak"] == pytest.approx(1.25) and fp32["peak"]["exceeded"] is True
    # the same clock and core count feed every dtype: the fp64 figure is flagged too
    assert fp64["pct_of_peak"] == pytest.approx(10 / 16) and "exceeded" not in fp64["peak"]
    assert fp64["peak"]["estimate_too_low"] is True and fp64["peak"]["exceeded_by"] == "gemm/torch/cpu/fp32/a"


def test_peers_count_towards_best_on_machine():
    mine, other = Run(), Run()
    mine.benchmarks = [record("gemm/numpy/cpu/fp32/a", framework="numpy", seconds=1 / 40)]
    other.benchmarks = [record("gemm/numpy/cpu/fp32/a", framework="numpy", seconds=1 / 80)]
    bench.finish(mine, peers=[other])
    assert mine.benchmarks[0]["pct_of_best"] == pytest.approx(0.5)
    assert mine.headline["score"] == pytest.approx(0.5)


def test_best_is_shape_true_and_max_achievable_spans_shapes():
    def shaped(rid, framework, n, seconds):
        return dict(record(rid, framework=framework, seconds=seconds), shape={"m": n, "n": n, "k": n})
    run = Run(benchmarks=[shaped("gemm/numpy/cpu/fp32/1024", "numpy", 1024, 1 / 50),
                          shaped("gemm/torch/cpu/fp32/1024", "torch", 1024, 1 / 40),
                          shaped("gemm/torch/cpu/fp32/4096", "torch", 4096, 1 / 100)])
    given, snapshot = run.benchmarks, copy.deepcopy(run.benchmarks)
    bench.finish(run)
    by_id = {r["id"]: r for r in run.benchmarks}
    # a 1024² GEMM is judged against the best 1024² GEMM, not against a 4096² one
    assert by_id["gemm/torch/cpu/fp32/1024"]["pct_of_best"] == pytest.approx(0.8)
    assert by_id["gemm/torch/cpu/fp32/1024"]["best_on_machine"]["id"] == "gemm/numpy/cpu/fp32/1024"
    assert by_id["gemm/torch/cpu/fp32/4096"]["pct_of_best"] == pytest.approx(1.0)
    assert by_id["gemm/numpy/cpu/fp32/1024"]["pct_of_max"] == pytest.approx(0.5)
    assert given == snapshot and "value" not in given[0]          # assess returns new records, inputs unchanged


def test_headline_without_results():
    run = Run()
    run.benchmarks = [record("gemm/torch/cuda:0/bf16/a", status="skipped")]
    bench.finish(run)
    assert run.headline["score"] is None and run.headline["components"] == []


def _confirmed(finding_id, bench_id, after_value, status="confirmed"):
    return {"id": finding_id, "status": status, "verification": {
        "status": status, "benchmarks": [{"id": bench_id, "status": status,
                                          "after": {"value": after_value, "unit": "GFLOP/s"}}]}}


def test_a_confirmed_fix_raises_the_best_on_this_machine():
    run = Run(benchmarks=[record("gemm/numpy/cpu/fp32/n", framework="numpy", seconds=0.01),
                          record("gemm/torch/cpu/fp32/n", seconds=0.02)])
    bench.finish(run)
    numpy_rec = run.benchmark("gemm/numpy/cpu/fp32/n")
    assert numpy_rec["pct_of_best"] == pytest.approx(1.0) and run.headline["score"] > 0.7
    # verify measured numpy's GEMM at 2x with the fix (100 -> 200 GFLOP/s): that is what the machine can reach
    run.findings = [_confirmed("A6", "gemm/numpy/cpu/fp32/n", 200.0)]
    bench.finish(run)
    assert numpy_rec["pct_of_best"] == pytest.approx(1.0)                  # a new record: the old one is unchanged
    numpy_rec = run.benchmark("gemm/numpy/cpu/fp32/n")
    assert numpy_rec["best_on_machine"] == {"id": "gemm/numpy/cpu/fp32/n [with A6 fix]", "value": 200.0,
                                            "fix": "A6"}
    assert numpy_rec["pct_of_best"] == pytest.approx(0.5, rel=0.03)
    assert run.benchmark("gemm/torch/cpu/fp32/n")["pct_of_best"] == pytest.approx(0.25, rel=0.03)
    assert run.headline["score"] == pytest.approx((0.5 * 0.25) ** 0.5, rel=0.03)
    assert "confirmed A6 fix" in run.headline["text"]


def test_an_unconfirmed_experiment_does_not_count():
    run = Run(benchmarks=[record("gemm/numpy/cpu/fp32/n", framework="numpy", seconds=0.01)],
              findings=[_confirmed("A6", "gemm/numpy/cpu/fp32/n", 200.0, status="inconclusive")])
    bench.finish(run)
    assert run.benchmark("gemm/numpy/cpu/fp32/n")["pct_of_best"] == pytest.approx(1.0)
    assert "fix" not in run.headline["text"]

"""Every CPU benchmark on tiny shapes in a real torch venv, through the real agent, session and
host finish(); a kernel returning wrong results (the real GEMM probe with its kernel replaced)
is reported as failed; a crash mid-task keeps what was measured; rerun() with an env override."""
from __future__ import annotations

import shutil
import sys
import textwrap

import pytest

from stackprof import bench, bench_suite, target as target_mod
from stackprof.model import Run
from stackprof.paths import probes_dir
from stackprof.target import Target, Task

pytestmark = pytest.mark.slow
BUDGET = 0.05


def tiny_tasks() -> list[Task]:
    gemm = [{"dtype": dt, "m": 64, "n": 48, "k": 32} for dt in ("fp32", "bf16", "fp16")]
    conv = [{"dtype": dt, "n": 2, "c": 8, "h": 12, "w": 12, "k": 8, "r": 3, "s": 3, "stride": 1, "pad": 1,
             **({"variant": v} if v else {})} for dt in ("fp32", "bf16") for v in (None, "channels_last")]
    attention = [{"dtype": dt, "b": 1, "h": 2, "s": 64, "d": 32, "backend": be}
                 for dt in ("fp32", "bf16") for be in (None, "math")]
    elementwise = [{"kernel": k, "dtype": dt, "rows": 64, "cols": 256}
                   for k in ("softmax", "layer_norm", "sum", "exp") for dt in ("fp32", "bf16")]
    stream = [{"kernel": k, "dtype": "fp64", "n": 100_000} for k in ("copy", "scale", "add", "triad")]
    mlp = [{"dtype": "fp32", "batch": 4, "dims": [16, 32, 8], "mode": m} for m in ("eager", "compile")]

    def task(probe, framework, cases):
        return Task(probe, {"framework": framework, "device": "cpu", "budget_s": BUDGET, "cases": cases}, 600)
    return [
        task("bench.gemm", "numpy", [c for c in gemm if c["dtype"] == "fp32"] + [dict(gemm[0], dtype="fp64")]),
        task("bench.elementwise", "numpy", [c for c in elementwise if c["kernel"] in ("sum", "exp")
                                            and c["dtype"] == "fp32"]),
        task("bench.stream", "numpy", stream),
        task("bench.gemm", "tensorflow", gemm[:1]),
        task("bench.gemm", "jax", gemm[:1]),
        task("bench.gemm", "torch", gemm),
        task("bench.conv", "torch", conv),
        task("bench.attention", "torch", attention),
        task("bench.elementwise", "torch", elementwise),
        task("bench.stream", "torch", stream),
        task("bench.dispatch", "torch", [{"mode": "eager"}]),
        task("bench.mlp_compile", "torch", mlp),
    ]


@pytest.fixture(scope="module")
def tiny_run(venv_torch) -> Run:
    run = Run(environment={})
    with Target(venv_torch).session() as session:
        bench.execute(session, run, tiny_tasks())
    bench.finish(run)
    return run


def test_every_cpu_benchmark_runs_and_checks_its_output(tiny_run):
    planned = bench_suite.case_ids(tiny_tasks())
    assert [r["id"] for r in tiny_run.benchmarks] == planned
    assert tiny_run.errors == []
    for r in tiny_run.benchmarks:
        if r["framework"] in ("tensorflow", "jax"):
            assert r["status"] == "skipped" and r["reason"] == f"{r['framework']} not installed"
            continue
        assert r["status"] == "ok", (r["id"], r["reason"])
        assert r["check"]["ok"] and r["check"]["max_rel_err"] <= r["check"]["tol"]
        assert len(r["samples_s"]) >= 3 and all(s > 0 for s in r["samples_s"])
        assert r["value"] > 0 and r["pct_of_best"] is not None and 0 < r["pct_of_best"] <= 1
        assert r["task"]["args"]["cases"] and len(r["task"]["args"]["cases"]) == 1
        assert r["method"]["name"] == "stackprof.harness"


def test_families_record_what_ran(tiny_run):
    by_id = {r["id"]: r for r in tiny_run.benchmarks}
    assert by_id["stream_triad/numpy/cpu/fp64/n100000"]["params"]["passes"] == 2
    assert by_id["softmax/torch/cpu/fp32/64x256"]["params"]["api"]
    compiled = by_id["mlp/torch/cpu/fp32/b4-16x32x8/compile"]
    assert compiled["params"]["compile_s"] > 0
    assert by_id["gemm/torch/cpu/fp32/64x48x32"]["params"]["num_threads"] >= 1
    assert tiny_run.headline["score"] is not None and tiny_run.headline["components"]


@pytest.fixture
def probe_copy(tmp_path, monkeypatch):
    """A copy of the real probes with extra test-only benchmark modules; the agent and the host's
    describe() both read it."""
    root = tmp_path / "probes"
    shutil.copytree(probes_dir(), root)
    monkeypatch.setattr(target_mod, "probes_dir", lambda: root)
    monkeypatch.setattr(bench_suite, "probes_dir", lambda: root)
    for name in [n for n in sys.modules if n.startswith(bench_suite.PACKAGE)]:
        monkeypatch.delitem(sys.modules, name)
    return root


WRONG_GEMM = textwrap.dedent('''
    """Test only: the real GEMM benchmark with its kernels replaced by wrong ones (square cases)."""
    from . import gemm
    describe = gemm.describe

    def run(ctx, **args):
        def torch_wrong(torch, a, b, out):          # a classic bug: the wrong operand transposed
            return torch.mm(a, b.t(), out=out)

        def numpy_wrong(np, a, b, out):
            return np.matmul(a, b.T, out=out)

        gemm.torch_mm, gemm.numpy_matmul = torch_wrong, numpy_wrong
        return gemm.run(ctx, **args)
''')


def test_a_wrong_kernel_is_reported_as_failed(probe_copy, venv_torch):
    (probe_copy / "bench" / "wrong_gemm.py").write_text(WRONG_GEMM)
    cases = [{"dtype": "fp32", "m": 32, "n": 32, "k": 32}, {"dtype": "bf16", "m": 32, "n": 32, "k": 32}]
    run = Run()
    tasks = [Task("bench.wrong_gemm", {"framework": fw, "device": "cpu", "budget_s": BUDGET, "cases": cs})
             for fw, cs in (("numpy", cases[:1]), ("torch", cases))]
    with Target(venv_torch).session() as session:
        bench.execute(session, run, tasks)
    bench.finish(run)
    assert [r["id"] for r in run.benchmarks] == ["gemm/numpy/cpu/fp32/32x32x32", "gemm/torch/cpu/fp32/32x32x32",
                                                 "gemm/torch/cpu/bf16/32x32x32"]
    for r in run.benchmarks:
        assert r["status"] == "failed" and r["reason"].startswith("wrong result"), r
        assert r["check"]["ok"] is False and r["samples_s"] == [] and r["value"] is None
    assert run.headline["score"] is None


CRASHING = textwrap.dedent('''
    """Test only: measures its first case with the real GEMM benchmark, then the process dies."""
    import os
    from . import gemm
    describe = gemm.describe

    def run(ctx, **args):
        for i, record in enumerate(gemm.run(ctx, **args)):
            if i == 1:
                os.abort()
            yield record
''')


def test_a_crash_keeps_measured_records_and_marks_the_rest(probe_copy, venv_torch):
    (probe_copy / "bench" / "crashing.py").write_text(CRASHING)
    cases = [{"dtype": "fp32", "m": 16 * i, "n": 16, "k": 16} for i in (1, 2, 3)]
    run = Run()
    task = Task("bench.crashing", {"framework": "numpy", "device": "cpu", "budget_s": BUDGET, "cases": cases})
    with Target(venv_torch).session() as session:
        bench.execute(session, run, [task, Task("bench.gemm", dict(task.args, cases=cases[:1]))])
    statuses = [(r["id"], r["status"]) for r in run.benchmarks]
    assert statuses == [("gemm/numpy/cpu/fp32/16x16x16", "ok"), ("gemm/numpy/cpu/fp32/32x16x16", "failed"),
                        ("gemm/numpy/cpu/fp32/48x16x16", "failed"), ("gemm/numpy/cpu/fp32/16x16x16", "ok")]
    assert "SIGABRT" in run.benchmarks[1]["reason"]
    assert run.errors[0]["stage"] == "bench" and run.errors[0]["kind"] == "crash"


def test_rerun_with_an_environment_override(venv_numpy):
    case = {"dtype": "fp32", "m": 64, "n": 64, "k": 64}
    run = Run()
    target = Target(venv_numpy)
    with target.session() as session:
        bench.execute(session, run, [Task("bench.gemm", {"framework": "numpy", "device": "cpu",
                                                         "budget_s": BUDGET, "cases": [case]})])
    original = run.benchmarks[0]
    again = bench.rerun(target, [original], {"OPENBLAS_CORETYPE": None, "OPENBLAS_NUM_THREADS": "1"})
    assert len(again) == 1 and again[0].id == original["id"] and again[0].status == "ok"
    record = again[0].to_record()                                           # an immutable Measurement
    assert record["shape"] == original["shape"] and record["method"] == original["method"]
    assert record["params"]["blas_env"] == {"OPENBLAS_NUM_THREADS": "1"}     # the override reached it
    assert again[0].stats["n"] >= 3 and again[0].value > 0
    assert record["state"]["cpu"]["run_s"] > 0                               # the machine state came with it


def test_gemm_search_finds_a_shape_around_the_measured_ones(venv_numpy):
    """The default mode's search (probes/bench/gemm_search.py) in a real numpy: it starts from the
    squares the task measured, tries shapes around the best within its budget, and the shape it picks
    is then measured by the harness under a stable id; % of best leaves it out, max achievable counts it."""
    cases = [{"dtype": "fp32", "m": s, "n": s, "k": s} for s in (128, 256)] + \
            [{"dtype": "fp32", "search": {"budget_s": 0.6, "grid": [64, 128, 192, 256]}}]
    run = Run(environment={})
    with Target(venv_numpy).session() as session:
        bench.execute(session, run, [Task("bench.gemm", {"framework": "numpy", "device": "cpu", "budget_s": BUDGET,
                                                         "cases": cases}, 300)])
    bench.finish(run)
    searched = run.benchmark("gemm/numpy/cpu/fp32/searched")
    assert searched["status"] == "ok" and searched["role"] == "search", searched.get("reason")
    search = searched["params"]["search"]
    sources = {(t["m"], t["source"]) for t in search["tried"]}
    assert {(128, "measured case"), (256, "measured case")} <= sources          # seeded, not timed again
    assert any(source == "search" for _, source in sources)
    best = max((t for t in search["tried"] if t["gflops"]), key=lambda t: t["gflops"])
    assert searched["shape"] == {"m": best["m"], "n": best["n"], "k": best["k"]}
    assert searched["work"]["flops"] == 2.0 * best["m"] * best["n"] * best["k"] and searched["value"] > 0
    assert searched["pct_of_best"] == pytest.approx(1.0)                        # its own case: not compared
    plain = run.benchmark("gemm/numpy/cpu/fp32/256x256x256")
    assert plain["max_achievable"]["value"] >= max(plain["value"], searched["value"])

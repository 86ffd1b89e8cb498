"""Each cause re-measures a benchmark it really affects (stackprof/affects.py), chosen in analyze: the
cheapest that shows it; and says "not measurable here" when none ran, instead of a re-run that cannot
show the cause. Records are built here; the live runs are in the e2e tests and the diagnosis corpus."""
from __future__ import annotations

from stackprof import affects
from stackprof.analyze import with_affected_benchmarks
from stackprof.model import Run


def rec(rid, op, framework, dtype="fp32", median=1e-2, device="cpu", status="ok"):
    return {"id": rid, "op": op, "framework": framework, "dtype": dtype, "device": device, "status": status,
            "stats": {"median_s": median}}


RECORDS = [
    rec("tf-gemm-fp32", "gemm", "tensorflow"), rec("tf-conv", "conv2d", "tensorflow", median=2e-2),
    rec("tf-gemm-bf16", "gemm", "tensorflow", "bf16", median=5e-3),
    rec("t-gemm-1024", "gemm", "torch", median=8e-3), rec("t-gemm-256", "gemm", "torch", median=2e-4),
    rec("t-softmax", "softmax", "torch", median=3e-2), rec("t-sum", "sum", "torch", median=4e-3),
    rec("np-gemm", "gemm", "numpy", median=6e-3), rec("np-exp", "exp", "numpy", median=5e-3),
    rec("t-dispatch", "dispatch", "torch", median=1e-6),
]


def finding(rule_id, candidates):
    return {"id": rule_id, "experiment": {"env": {"X": None}, "benchmarks": candidates[:1], "candidates": candidates,
                                          "description": "x"}}


def test_tensorflow_onednn_is_proven_on_convolution_and_bf16_not_fp32_gemm():
    run = Run(benchmarks=RECORDS)
    exp = with_affected_benchmarks(finding("D2", ["tf-gemm-fp32", "tf-conv", "tf-gemm-bf16"]), run)["experiment"]
    assert exp["benchmarks"] == ["tf-gemm-bf16"]              # the cheapest affected: bf16 GEMM, not fp32
    only_fp32 = with_affected_benchmarks(finding("D2", ["tf-gemm-fp32"]), run)["experiment"]
    assert only_fp32["benchmarks"] == [] and "convolutions and bf16 GEMM" in only_fp32["not_measurable"]


def test_aten_capability_moves_aten_kernels_not_gemm():
    run = Run(benchmarks=RECORDS)
    exp = with_affected_benchmarks(finding("C8", ["t-gemm-1024", "t-softmax", "t-sum"]), run)["experiment"]
    assert exp["benchmarks"] == ["t-softmax"] and "not GEMM" in exp["affects"]     # a sum runs at memory speed
    cheap_exp = with_affected_benchmarks(finding("C8", ["t-sum", "t-softmax"]), Run(benchmarks=RECORDS + [
        rec("t-exp", "exp", "torch", median=1e-3)]))["experiment"]
    assert cheap_exp["benchmarks"] == ["t-softmax"]          # softmax shows the cap best, even when exp is cheaper


def test_a_thread_cap_needs_a_kernel_large_enough_and_on_a_thread_pool():
    run = Run(benchmarks=RECORDS)
    ids = ["t-gemm-256", "t-gemm-1024", "t-dispatch", "np-exp", "np-gemm"]
    exp = with_affected_benchmarks(finding("B3", ids), run)["experiment"]
    # torch: the 256² GEMM (0.2 ms) is too small to use the pool, dispatch is single-threaded;
    # numpy: its elementwise code is single-threaded, its GEMM is not
    assert exp["benchmarks"] == ["t-gemm-1024", "np-gemm"]


def test_an_isa_choice_is_proven_on_the_smallest_affected_case():
    ids, why = affects.choose("A6", [r for r in RECORDS if r["framework"] == "torch"])
    assert ids == ["t-gemm-256"] and why is None


def test_searched_and_failed_cases_are_never_chosen():
    records = [dict(rec("s", "gemm", "numpy", median=1e-4), role="search"), rec("f", "gemm", "numpy", status="failed"),
               rec("ok", "gemm", "numpy")]
    assert affects.choose("A6", records)[0] == ["ok"]


def test_every_cause_with_a_row_is_a_registered_rule():
    from stackprof.rules import RULES
    assert set(affects.AFFECTS) <= set(RULES)


def test_a_gap_that_follows_from_a_library_design_is_a_note_with_thread_counts():
    from stackprof.rules import RULES
    from stackprof.rules.facts import Facts

    def elementwise(framework, seconds, threads):
        return {"id": f"exp/{framework}", "op": "exp", "framework": framework, "device": "cpu", "dtype": "fp32",
                "status": "ok", "op_key": "exp/cpu/fp32", "shape": {"rows": 8192, "cols": 4096}, "variant": None,
                "value": 0.268 / seconds, "direction": "higher", "unit": "GB/s", "stats": {"noisy": False},
                "params": {"num_threads": threads}}
    run = Run(benchmarks=[elementwise("numpy", 0.04, None), elementwise("torch", 0.015, 2)])
    finding = RULES["M1"].check(Facts(run))
    assert finding.kind == "note" and "by design" in finding.title and "1 thread by design" in finding.impact["text"]
    gemm = [dict(r, op="gemm", op_key="gemm/cpu/fp32", id=r["id"].replace("exp", "gemm")) for r in run.benchmarks]
    assert RULES["M1"].check(Facts(Run(benchmarks=gemm))).kind == "defect"      # both GEMMs are threaded


def test_b3_judges_a_torchrun_rank_by_its_share_of_the_cpus():
    from stackprof.rules import RULES
    from stackprof.rules.facts import Facts
    from tests.rules.cases import healthy
    from tests.rules.edit import set_path

    doc = set_path(healthy("torch-healthy"), "environment.env_vars.vars.OMP_NUM_THREADS", "1")
    run = Run.from_dict(doc)
    cpus = Facts(run).effective_cpus()[0]
    assert RULES["B3"].check(Facts(run)) is not None                       # one process, capped: a defect
    ranks = set_path(doc, "environment.env_vars.vars.LOCAL_WORLD_SIZE", str(int(cpus)))
    assert RULES["B3"].check(Facts(Run.from_dict(ranks))) is None          # one thread per rank, CPUs shared

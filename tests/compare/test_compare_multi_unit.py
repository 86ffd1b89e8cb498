"""run_many's scheduling: interleaved A B / B A per task, and one safe folder per label."""
from __future__ import annotations

import pytest

from stackprof.errors import StackprofError
from stackprof.multi import interleave, merge_rounds, output_folders
from stackprof.target import Task


def test_plan_runs_in_passes_alternating_between_targets():
    plan = [Task("bench.gemm", {"n": 256, "budget_s": 0.5}), Task("bench.gemm", {"n": 512}), Task("bench.copy", {})]
    order = interleave([plan, list(plan)], rounds=2)
    assert [(i, t.args.get("n")) for i, t in order] == [
        (0, 256), (1, 256), (1, 512), (0, 512), (0, None), (1, None),     # pass 1: A B, B A, A B
        (1, 256), (0, 256), (0, 512), (1, 512), (1, None), (0, None)]     # pass 2: flipped
    assert [t.args["budget_s"] for _, t in order if "budget_s" in t.args] == [0.25] * 4   # a share each
    assert plan[0].args["budget_s"] == 0.5               # the plan itself is left alone


def test_a_task_planned_by_one_target_only_runs_there_in_place():
    a = [Task("bench.gemm", {"framework": "numpy"}), Task("bench.gemm", {"framework": "torch"})]
    b = [Task("bench.gemm", {"framework": "numpy"})]
    order = interleave([a, b], rounds=1)
    assert [(i, t.args["framework"]) for i, t in order] == [(0, "numpy"), (1, "numpy"), (0, "torch")]


def test_rounds_merge_into_one_record_per_benchmark():
    def rec(bench_id, samples, status="ok", reason=None):
        return {"id": bench_id, "status": status, "reason": reason, "samples_s": samples}
    merged = merge_rounds([rec("g", [1.0, 2.0]), rec("s", [], "skipped", "no torch"), rec("g", [3.0]),
                           rec("s", [], "skipped", "no torch"), rec("f", [5.0]), rec("f", [], "failed", "crash")])
    assert merged[0] == {"id": "g", "status": "ok", "reason": None, "samples_s": [1.0, 2.0, 3.0],
                         "round_sizes": [2, 1], "cpu_wait": [None, None], "state": None}
    assert merged[1]["status"] == "skipped" and "round_sizes" not in merged[1]
    assert merged[2]["samples_s"] == [5.0] and "1 of 2 rounds did not run: crash" in merged[2]["reason"]


def test_merged_rounds_carry_each_rounds_contention_from_its_machine_state():
    def rec(samples, contention, flags=()):
        return {"id": "g", "status": "ok", "samples_s": samples,
                "state": {"cpu": {"contention": contention, "steal_share": 0.0}, "flags": list(flags)}}
    first, second = rec([1.0], 0.02), rec([2.0], 0.3, ["contended"])
    merged = merge_rounds([first, second])[0]
    assert merged["cpu_wait"] == [0.02, 0.3]
    assert merged["state"]["flags"] == ["contended"] and len(merged["state"]["rounds"]) == 2
    assert first["samples_s"] == [1.0] and "round_sizes" not in first       # the inputs are not changed


def test_output_folders_are_safe_and_distinct():
    assert output_folders(["env A", "../../etc", "b/c"]) == ["env_A", "etc", "b_c"]
    with pytest.raises(StackprofError, match="distinct"):
        output_folders(["a b", "a/b"])

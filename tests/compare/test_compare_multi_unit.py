"""run_many's scheduling: interleaved A B / B A per task, and one safe folder per label."""
from __future__ import annotations

import pytest

from stackprof.errors import StackprofError
from stackprof.multi import interleave, output_folders
from stackprof.target import Task


def test_tasks_alternate_between_targets_task_by_task():
    plan = [Task("bench.gemm", {"n": 256}), Task("bench.gemm", {"n": 512}), Task("bench.copy", {})]
    order = interleave([plan, list(plan)])
    assert [(i, t.args.get("n")) for i, t in order] == [(0, 256), (1, 256), (1, 512), (0, 512), (0, None),
                                                          (1, None)]


def test_a_task_planned_by_one_target_only_runs_there_in_place():
    a = [Task("bench.gemm", {"framework": "numpy"}), Task("bench.gemm", {"framework": "torch"})]
    b = [Task("bench.gemm", {"framework": "numpy"})]
    order = interleave([a, b])
    assert [(i, t.args["framework"]) for i, t in order] == [(0, "numpy"), (1, "numpy"), (0, "torch")]


def test_output_folders_are_safe_and_distinct():
    assert output_folders(["env A", "../../etc", "b/c"]) == ["env_A", "etc", "b_c"]
    with pytest.raises(StackprofError, match="distinct"):
        output_folders(["a b", "a/b"])

"""Rule F8's experiment: unset the NCCL transport variables and re-measure the collectives.

Its candidate selection is tested on records made by the collectives probe's own describe() (NCCL
records need a GPU machine to be measured: these carry no measured values, selection only); its
mechanics — verify re-launching the ranks through torchrun with the variables unset, both sides
measured, a verdict reached — run for real with gloo, where NCCL variables cannot matter."""
from __future__ import annotations

import pytest

from stackprof.model import Run
from stackprof.paths import import_probe
from stackprof.rules import RULES
from stackprof.rules.facts import Facts

PACKAGE = "_stackprof_probes_f8"


def _record(backend: str, op: str = "all_reduce", size: int = 1 << 26, nnodes: int = 1) -> dict:
    coll = import_probe("bench.collectives", package=PACKAGE)
    harness = import_probe("harness", package=PACKAGE)
    case = {"op": op, "bytes": size, "dtype": "fp32", "ranks": 8, "backend": backend}
    record = harness.base_record(coll.describe("torch", "cuda" if backend == "nccl" else "cpu", case),
                                 "bench.collectives", {"cases": [case]})
    record["params"]["nnodes"] = nnodes
    return record


def _f8(records: list[dict]):
    run = Run(environment={"env_vars": {"vars": {"NCCL_P2P_DISABLE": "1"}}}, benchmarks=records)
    return RULES["F8"].check(Facts(run))


def test_f8_proposes_nccl_collectives_measured_on_one_node():
    nccl = [_record("nccl", size=s) for s in (1 << 20, 1 << 26)] + [_record("nccl", "all_gather")]
    finding = _f8(nccl + [_record("gloo"), _record("nccl", nnodes=2)])
    candidates = finding.experiment["candidates"]
    assert set(candidates) == {r["id"] for r in nccl}
    assert finding.experiment["env"] == {"NCCL_P2P_DISABLE": None}
    assert "torchrun" in finding.experiment["description"]


def test_f8_has_nothing_to_re_run_on_gloo_only():
    finding = _f8([_record("gloo")])
    assert finding is not None and not finding.experiment["candidates"]


@pytest.mark.slow
def test_verify_re_measures_collectives_through_torchrun_with_the_variables_unset(venv_torch, monkeypatch):
    """The patient's environment sets NCCL_P2P_DISABLE=1; the experiment unsets it. With gloo the
    variable cannot matter; what is tested is that both sides are really re-measured by launched ranks."""
    from stackprof import bench, verify
    from stackprof.target import Target, Task
    monkeypatch.setenv("NCCL_P2P_DISABLE", "1")
    target = Target(venv_torch)
    args = {"framework": "torch", "device": "cpu", "backend": "gloo", "nproc": 2, "budget_s": 0.1, "timeout_s": 30,
            "cases": [{"op": "all_reduce", "bytes": 1 << 20, "dtype": "fp32"}]}
    result = target.run_tasks([Task("bench.collectives", args, 180)])[0]
    assert result.ok and result.records[0]["status"] == "ok", result.error
    assert len(result.records[0]["params"]["per_rank_median_s"]) == 2          # two launched ranks
    run = Run(environment={"env_vars": {"vars": {"NCCL_P2P_DISABLE": "1"}}}, benchmarks=result.records)
    bench.finish(run)
    rid = run.benchmarks[0]["id"]
    run.findings = [{"id": "F8", "severity": "medium", "kind": "defect", "title": "NCCL transports restricted",
                     "evidence": [], "impact": {"kind": "estimated", "ratio": 2.28}, "status": "suspected",
                     "experiment": {"env": {"NCCL_P2P_DISABLE": None}, "benchmarks": [rid],
                                    "description": "NCCL transport variables unset"}}]
    verify.verify(target, run, 240.0)
    verdict = run.findings[0]["verification"]
    assert verdict["status"] in ("no_effect", "inconclusive", "confirmed", "worse"), verdict
    sides = verdict["benchmarks"][0]
    assert sides["id"] == rid and min(sides["n"]) > 0, sides

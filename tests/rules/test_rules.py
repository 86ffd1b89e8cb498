"""Every rule: fires on a minimal edit of a real captured Run, stays silent on the healthy one, never
crashes on missing or mistyped facts; findings have the agreed shape (docs/schema-findings.md)."""
from __future__ import annotations

import re

import pytest

from stackprof.analyze import analyze, rank
from stackprof.model import Run
from stackprof.rules import RULES
from stackprof.rules.facts import Facts
from stackprof.rules.findings import SEVERITIES

from .cases import CASES, HEALTHY, REAL_ON_HEALTHY, with_gpu
from .edit import as_run, fixture

CATALOGUE = ({f"A{i}" for i in range(1, 11)} | {f"B{i}" for i in range(1, 9)} | {f"C{i}" for i in range(1, 14)}
             | {"D1", "D2", "D3", "E1", "E2"} | {f"F{i}" for i in range(1, 11)})
RULE_IDS = sorted(RULES, key=lambda i: (i[0], int(i[1:])))


def check(rule_id: str, doc: dict):
    return RULES[rule_id].check(Facts(as_run(doc)))


def test_at_least_35_catalogue_rules_and_only_known_ids():
    assert len(set(RULES) & CATALOGUE) >= 35
    assert all(i in CATALOGUE or re.fullmatch(r"M\d+", i) for i in RULES)


def test_every_rule_has_a_firing_case():
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_fires_on_minimal_edit(rule_id):
    doc = CASES[rule_id](fixture(HEALTHY))
    finding = check(rule_id, doc)
    assert finding is not None, f"{rule_id} did not fire on its edit"
    assert_shape(finding, as_run(doc))


def healthy() -> dict:
    return fixture(HEALTHY)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_silent_on_healthy_fixture(rule_id):
    doc = REAL_ON_HEALTHY.get(rule_id, lambda d: d)(healthy())
    assert check(rule_id, doc) is None


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_silent_on_healthy_gpu_host(rule_id):
    """The healthy fixture on a well-configured H100 host (NVML facts are fakes: no GPU here)."""
    doc = REAL_ON_HEALTHY.get(rule_id, lambda d: d)(with_gpu(healthy()))
    assert check(rule_id, doc) is None


@pytest.mark.parametrize("rule_id", sorted(REAL_ON_HEALTHY))
def test_real_causes_in_the_healthy_capture_fire(rule_id):
    """What the captured run really shows (see cases.REAL_ON_HEALTHY) is found, from measurements."""
    finding = check(rule_id, healthy())
    assert finding is not None
    assert any("benchmark" in e for e in finding.evidence)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_silent_on_empty_run(rule_id):
    assert RULES[rule_id].check(Facts(Run())) is None


def _mangle(node, how):
    if isinstance(node, dict):
        return {k: _mangle(v, how) for k, v in node.items()}
    if isinstance(node, list):
        return [_mangle(v, how) for v in node]
    if how == "strings":
        return "?" if node is not None else node
    if how == "none":
        return None
    if how == "numbers-as-text":
        return str(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else node
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["strings", "none", "numbers-as-text"])
@pytest.mark.parametrize("fixture_name", [HEALTHY, "torch", "numpy", "bare-probe"])
def test_no_rule_crashes_on_mistyped_facts(fixture_name, how):
    doc = fixture(fixture_name)
    mangled = Run(environment=_mangle(doc["environment"], how), benchmarks=_mangle(doc["benchmarks"], how))
    facts = Facts(mangled)
    for rule in RULES.values():
        rule.check(facts)                     # must not raise


def test_no_rule_crashes_on_wrong_container_types():
    run = Run(environment={"system": "x", "torch": [], "env_vars": {"vars": ["A"]}, "gpus": {"devices": "none"},
                           "native_libs": {"libraries": ["x", None, {"num_threads": "many"}]},
                           "numpy": {"installed": True, "blas": "openblas"}},
              benchmarks=["x", None, {"id": 5}, {"id": "a", "status": "ok", "value": "fast", "stats": "?"}])
    for rule in RULES.values():
        rule.check(Facts(run))


def assert_shape(finding, run: Run):
    assert finding.id in RULES and finding.severity in SEVERITIES
    assert finding.title and finding.fix and finding.references
    assert finding.evidence and all(isinstance(e, dict) and ("fact" in e or "benchmark" in e) for e in finding.evidence)
    assert finding.impact["kind"] in ("measured", "estimated") and finding.impact["text"]
    if finding.impact["kind"] == "estimated":
        assert finding.impact["source"]
    if finding.experiment is not None:
        assert finding.experiment["env"] and finding.experiment["benchmarks"]
        assert all(run.benchmark(i) for i in finding.experiment["benchmarks"])


AB_CAUSES = {"A6", "A7", "B6", "B7", "C4", "C7", "C8", "C9", "D2", "F8", "F10"}


@pytest.mark.parametrize("rule_id", sorted(AB_CAUSES))
def test_two_sided_causes_are_stated_as_measure_both(rule_id):
    assert check(rule_id, CASES[rule_id](fixture(HEALTHY))).ab is True


@pytest.mark.parametrize("name", ["torch", "numpy"])
def test_machine_fixture_fires_a6_with_the_coretype_experiment(name):
    """The captured runs of this machine (OPENBLAS_CORETYPE=Haswell on AVX-512) name the cause and
    carry the experiment that unsets both variables and re-runs numpy's GEMM; the captured
    verification measured it."""
    doc = fixture(name)
    run = as_run(doc)
    finding = RULES["A6"].check(Facts(run))
    assert finding is not None
    assert finding.experiment["env"] == {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}
    assert all(run.benchmark(i)["framework"] == "numpy" and run.benchmark(i)["op"] == "gemm"
               for i in finding.experiment["benchmarks"])
    captured = next(f for f in doc["findings"] if f["id"] == "A6")
    assert captured["verification"]["status"] == "confirmed" and captured["verification"]["ratio"] > 1.05
    assert captured["verification"]["before"]["value"] < captured["verification"]["after"]["value"]


def test_analyze_ranks_measured_first_then_severity():
    findings = [
        {"id": "X1", "severity": "low", "impact": {"kind": "estimated", "ratio": 60}},
        {"id": "X2", "severity": "high", "impact": {"kind": "estimated", "ratio": 1.2}},
        {"id": "X3", "severity": "medium", "impact": {"kind": "measured", "ratio": 1.8}},
        {"id": "X4", "severity": "medium", "impact": {"kind": "measured", "ratio": 1.02}},
        {"id": "X5", "severity": "high", "impact": {"kind": "estimated", "ratio": 10}},
        {"id": "X6", "severity": "critical", "impact": {}},
    ]
    assert [f["id"] for f in rank(findings)] == ["X3", "X6", "X5", "X2", "X4", "X1"]


def test_analyze_ranks_proven_effects_above_observed_ones():
    findings = [
        {"id": "OBSERVED", "severity": "medium", "status": "suspected", "impact": {"kind": "measured", "ratio": 1.6}},
        {"id": "PROVEN", "severity": "medium", "status": "confirmed", "impact": {"kind": "measured", "ratio": 1.5}},
    ]
    assert [f["id"] for f in rank(findings)] == ["PROVEN", "OBSERVED"]


def test_analyze_turns_a_broken_rule_into_an_error_entry(monkeypatch):
    from stackprof.rules.registry import Rule

    def broken(facts):
        raise KeyError("boom")
    monkeypatch.setitem(RULES, "Z9", Rule("Z9", "broken", broken))
    run = as_run(CASES["B3"](fixture(HEALTHY)))
    analyze(run)
    assert any(e["source"] == "rule Z9" and "KeyError" in e["message"] for e in run.errors)
    assert any(f["id"] == "B3" for f in run.findings)          # the other rules still ran

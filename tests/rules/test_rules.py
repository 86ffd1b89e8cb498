"""Every rule: silent on every healthy document (real captures of this machine, GPU hosts built from
documented defaults), fires — with the right kind — when one fact of a healthy document changes, never
crashes on missing or mistyped facts; findings have the agreed shape (docs/schema-findings.md)."""
from __future__ import annotations

import re

import pytest

from stackprof.analyze import analyze, rank
from stackprof.model import Run
from stackprof.rules import RULES
from stackprof.rules.facts import Facts
from stackprof.rules.findings import KINDS, SEVERITIES

from .cases import CASES, CPU, HEALTHY, MEASUREMENT_RULES, broken, healthy
from .edit import as_run, fixture

CATALOGUE = ({f"A{i}" for i in range(1, 11)} | {f"B{i}" for i in range(1, 9)} | {f"C{i}" for i in range(1, 14)}
             | {"D1", "D2", "D3", "E1", "E2"} | {f"F{i}" for i in range(1, 11)})
RULE_IDS = sorted(RULES, key=lambda i: (i[0], int(i[1:])))
JUDGED = [r for r in RULE_IDS if r not in MEASUREMENT_RULES]


def check(rule_id: str, doc: dict):
    return RULES[rule_id].check(Facts(as_run(doc)))


def test_at_least_35_catalogue_rules_and_only_known_ids():
    assert len(set(RULES) & CATALOGUE) >= 35
    # M: measurement rules; I: installation checks outside the catalogue (I1 packages installed twice);
    # P: profile rules (stackprof/rules/p_profile.py); G: distributed runs
    assert all(i in CATALOGUE or re.fullmatch(r"[MIPG]\d+", i) for i in RULES)


def test_every_rule_has_a_firing_case():
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_fires_when_one_fact_changes(rule_id):
    doc = broken(rule_id)
    finding = check(rule_id, doc)
    assert finding is not None, f"{rule_id} did not fire on its edit"
    assert_shape(finding, as_run(doc))
    kind = CASES[rule_id][2]
    if kind is not None:
        assert finding.kind == kind, f"{rule_id} is a {finding.kind}, expected a {kind}"


def is_alarm(finding) -> bool:
    """What a healthy document must never produce: a defect of severity low or higher."""
    return finding is not None and finding.kind == "defect" and finding.severity != "info"


@pytest.mark.parametrize("name", HEALTHY)
@pytest.mark.parametrize("rule_id", JUDGED)
def test_no_false_alarm_on_a_healthy_document(rule_id, name):
    finding = check(rule_id, healthy(name))
    assert not is_alarm(finding), f"{rule_id} on {name}: {finding and (finding.severity, finding.title)}"


@pytest.mark.parametrize("name", HEALTHY)
def test_opportunities_and_notes_never_carry_high_severity(name):
    run = as_run(healthy(name))
    analyze(run)
    for f in run.findings:
        assert f["kind"] in KINDS
        if f["kind"] != "defect":
            assert f["severity"] in ("medium", "low", "info"), f
    kinds = [f["kind"] for f in run.findings]
    assert kinds == sorted(kinds, key=("defect", "opportunity", "note").index)


def test_tf32_off_by_default_is_an_opportunity_on_every_healthy_gpu_host():
    for name in ("gpu-h100-cu126", "gpu-h200-cu128"):
        finding = check("C4", healthy(name))
        assert finding is not None and finding.kind == "opportunity" and finding.severity in ("medium", "low")


def test_older_driver_within_the_major_is_silent_and_an_older_major_is_predicted_not_critical():
    doc = healthy("gpu-h100-cu126")                   # cu126 build on a CUDA 12.4 driver: allowed
    assert check("F6", doc) is None
    doc["environment"]["gpus"]["cuda_driver_version"] = "11.8"
    doc["environment"]["gpus"]["driver_version"] = "520.61.05"
    assert check("F6", doc) is None                   # is_available() True: it runs (forward compatibility)
    doc["environment"]["torch"]["cuda"]["available"] = None
    predicted = check("F6", doc)
    assert predicted.severity == "medium" and "CUDA 12" in predicted.title
    doc["environment"]["torch"]["cuda"]["init_error"] = "UserWarning: CUDA initialization: The NVIDIA driver on " \
        "your system is too old (found version 11080)."
    assert check("F6", doc).severity == "critical"


def test_link_and_clocks_are_not_judged_from_the_idle_snapshot():
    doc = healthy("gpu-h200-cu128")                   # idle snapshot: gen 1 of 5, GpuIdle
    assert doc["environment"]["gpus"]["devices"][0]["pcie"]["gen"] == 1
    for rec in doc["benchmarks"]:
        rec.pop("state", None)                        # no sample under load at all
    note = check("F1", doc)
    assert note is not None and note.kind == "note" and "not judged" in note.title
    doc["environment"]["gpus"]["devices"][0]["throttle_reasons"] = ["hw_slowdown"]
    assert check("F2", doc).kind == "note"


def test_power_capped_clocks_at_the_default_limit_are_not_throttling():
    doc = healthy("gpu-h100-cu126")                   # a GEMM sample with sw_power_cap at 700 of 700 W
    assert any("sw_power_cap" in x["throttle_reasons"] for r in doc["benchmarks"] for x in r.get("state", {}).get("gpu", []))
    assert check("F2", doc) is None and check("F3", doc) is None


def test_a9_two_runtimes_loaded_is_worse_than_the_variable_alone():
    from stackprof.severity import worse
    both = check("A9", broken("A9"))
    alone = fixture(CPU)
    alone["environment"]["env_vars"]["vars"]["KMP_DUPLICATE_LIB_OK"] = "TRUE"   # one runtime loaded
    assert worse(both.severity, check("A9", alone).severity)


def test_b4_is_silent_when_no_pool_shares_a_core():
    doc = broken("B4")                                # 1 core × 2 threads, pools of 2: they share it
    assert check("B4", doc) is not None
    doc["environment"]["torch"]["parallel"]["num_threads"] = 1
    for lib in doc["environment"]["native_libs"]["libraries"]:
        lib["num_threads"] = 1
    assert check("B4", doc) is None


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
@pytest.mark.parametrize("fixture_name", [CPU, "numpy-healthy", "torch", "numpy", "bare-probe"])
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
    assert finding.id in RULES and finding.severity in SEVERITIES and finding.kind in KINDS
    assert finding.title and finding.fix and finding.references
    assert finding.evidence and all(isinstance(e, dict) and ("fact" in e or "benchmark" in e) for e in finding.evidence)
    assert finding.impact["kind"] in ("measured", "estimated") and finding.impact["text"]
    if finding.impact["kind"] == "estimated":
        assert finding.impact["source"]
    if finding.experiment is not None:                  # benchmarks may be none: analyze then says why
        assert finding.experiment["env"] or len(finding.experiment.get("pair") or []) == 2     # a change, or a pair
        assert all(run.benchmark(i) for i in finding.experiment["benchmarks"] + finding.experiment.get("candidates", []))


AB_CAUSES = {"A6", "A7", "B6", "B7", "C4", "C7", "C8", "C9", "D2", "F8", "F10"}


@pytest.mark.parametrize("rule_id", sorted(AB_CAUSES))
def test_two_sided_causes_are_stated_as_measure_both(rule_id):
    assert check(rule_id, broken(rule_id)).ab is True


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

    def raises(facts):
        raise KeyError("boom")
    monkeypatch.setitem(RULES, "Z9", Rule("Z9", "broken", raises))
    run = as_run(broken("B3"))
    analyze(run)
    assert any(e["source"] == "rule Z9" and "KeyError" in e["message"] for e in run.errors)
    assert any(f["id"] == "B3" for f in run.findings)          # the other rules still ran


def test_tensorflow_import_is_not_judged_against_torchs_reference():
    doc = fixture(CPU)
    doc["environment"]["tensorflow"] = {"installed": True, "version": "2.21.0", "import_s": 6.0}
    assert check("C11", doc) is None


def test_a_link_judged_under_load_and_fine_needs_no_note():
    doc = healthy("gpu-h200-cu128")                   # copies sampled at gen 5 x16; idle snapshot at gen 1
    assert check("F1", doc) is None
    doc["environment"]["gpus"]["devices"][0]["throttle_reasons"] = ["hw_slowdown"]   # seen at idle only
    assert check("F2", doc) is None                   # samples under load show none: judged, fine

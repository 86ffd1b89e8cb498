"""The profile rules on profiles built from captured programs: they fire on the cause, stay silent on
healthy programs, and their whole-program estimates are computed as they say."""
from __future__ import annotations

import copy

import pytest

from stackprof.model import Run
from stackprof.profile import session
from stackprof.rules import RULES
from stackprof.rules.facts import Facts
from stackprof.rules.p_profile import PROFILE_RULES, amdahl
from tests.rules.edit import as_run, fixture

from . import builders as b
from .rule_cases import CASES


def check(rule_id, doc):
    return RULES[rule_id].check(Facts(as_run(doc)))


def with_profile(section, doc=None):
    doc = doc or fixture("torch-healthy")
    doc["profile"] = section
    return doc


@pytest.mark.parametrize("name", ["matmul", "pure_python", "sleeper"])
@pytest.mark.parametrize("rule_id", PROFILE_RULES)
def test_silent_on_healthy_programs(rule_id, name):
    doc = fixture("torch-healthy")
    assert check(rule_id, with_profile(b.captured(name, doc["environment"]), doc)) is None


@pytest.mark.parametrize("rule_id", PROFILE_RULES)
def test_each_rule_fires_on_its_case_with_the_agreed_shape(rule_id):
    base, edit, kind = CASES[rule_id]
    finding = check(rule_id, edit(fixture(base)))
    assert finding is not None and finding.kind == kind
    assert finding.evidence and all("fact" in e for e in finding.evidence)
    assert finding.impact["kind"] == "estimated" and finding.impact["source"] and finding.fix


@pytest.mark.parametrize("rule_id", PROFILE_RULES)
def test_silent_without_a_profile_or_with_too_few_samples(rule_id):
    assert RULES[rule_id].check(Facts(Run())) is None
    tiny = with_profile(b.from_lines([b.stack(b.DATA_WAIT, 5), b.stack(b.GOMP_SPIN, 5), b.stack(b.REFBLAS, 5)]))
    assert check(rule_id, tiny) is None


def test_c12_names_the_workers_and_bounds_the_gain():
    finding = check("C12", with_profile(b.captured("dataloader")))
    assert "2 DataLoader worker processes" in finding.title
    waiting = float(finding.title.split("processes ")[1].split("%")[0]) / 100
    assert finding.impact["ratio"] == pytest.approx(1 / (1 - waiting), abs=0.02)
    assert finding.severity in ("medium", "low")           # an opportunity: never high


def test_p1_uses_the_measured_ab_ratio_once_verified():
    base, edit, _ = CASES["P1"]
    doc = edit(fixture(base))
    estimated = check("P1", doc)
    share = doc["profile"]["main_thread"]["categories"][0]
    assert "A6" in estimated.title and "estimate" in estimated.impact["text"]
    # after verify: A6 confirmed at 1.8× on this machine
    a6 = copy.deepcopy(check("A6", doc).__dict__)
    a6.update(status="confirmed", verification={"status": "confirmed", "ratio": 1.8})
    doc["findings"] = [a6]
    measured = check("P1", doc)
    blas = next(c for c in doc["profile"]["main_thread"]["categories"] if c["id"] == "blas")
    work = sum(c["samples"] for c in doc["profile"]["main_thread"]["categories"] if c["id"] != "startup")
    assert measured.impact["ratio"] == pytest.approx(amdahl(blas["samples"] / work, 1.8), abs=1e-3)
    assert "measured here" in measured.impact["text"] and share


def test_p1_is_silent_when_the_ab_refuted_the_cause():
    base, edit, _ = CASES["P1"]
    doc = edit(fixture(base))
    a6 = copy.deepcopy(check("A6", doc).__dict__)
    a6.update(status="not_confirmed", verification={"status": "no_effect", "ratio": 1.0})
    doc["findings"] = [a6]
    assert check("P1", doc) is None


def test_amdahl():
    assert amdahl(0.5, 2.0) == pytest.approx(1 / 0.75)
    assert amdahl(0.0, 10.0) == 1.0


def test_add_findings_merges_profile_findings_into_the_ranked_list():
    base, edit, _ = CASES["C12"]
    run = as_run(edit(fixture(base)))
    run.findings = [{"id": "C12", "title": "stale"}, {"id": "A2", "title": "kept", "severity": "high", "impact": {}}]
    session.add_findings(run)
    ids = [f["id"] for f in run.findings]
    assert ids.count("C12") == 1 and "A2" in ids
    assert next(f for f in run.findings if f["id"] == "C12")["title"] != "stale"

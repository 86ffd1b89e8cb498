"""Environment diff: only what differs, by section, identical facts counted, volatile facts excluded."""
from __future__ import annotations

from stackprof.compare.envdiff import diff_environments
from stackprof.compare.paths import flatten_environment

from .builders import environment, skylake_environment


def _paths(diff: dict) -> dict[str, list]:
    return {e["path"]: e["values"] for s in diff["sections"] for e in s["differing"]}


def test_identical_environments_have_no_differences():
    diff = diff_environments([environment(), environment()])
    assert diff["differing_count"] == 0
    assert diff["identical_count"] == len(flatten_environment(environment())) > 30
    assert diff["same_hardware"]


def test_volatile_facts_are_excluded():
    b = environment()
    b["system"]["cpu"]["cur_mhz"] = 3100.0
    b["system"]["memory"]["available_bytes"] = 1
    b["system"]["cgroup"]["throttling"] = {"nr_periods": 99, "nr_throttled": 9}
    b["torch"] = {"installed": True, "version": "2.13.0", "import_s": 1.7}
    a = environment()
    a["torch"] = {"installed": True, "version": "2.13.0", "import_s": 0.9}
    assert diff_environments([a, b])["differing_count"] == 0


def test_only_differing_facts_by_section():
    diff = diff_environments([environment(), skylake_environment()])
    paths = _paths(diff)
    assert paths == {"env_vars.vars.OPENBLAS_CORETYPE": ["Haswell", None],
                     "native_libs.libraries[blas:openblas].architecture": ["Haswell", "SkylakeX"]}
    entry = next(e for s in diff["sections"] for e in s["differing"] if e["path"].startswith("env_vars"))
    assert entry["present"] == [True, False]
    sections = {s["name"]: s for s in diff["sections"]}
    assert sections["native_libs"]["identical"] >= 5


def test_packages_version_and_installer_one_row_each():
    b = environment()
    b["packages"]["distributions"][0].update(version="1.26.4", installer="conda",
                                             conda={"channel": "conda-forge", "build": "py311_0"})
    del b["packages"]["distributions"][2]
    paths = _paths(diff_environments([environment(), b]))
    assert paths["packages[numpy]"] == ["2.4.6 (pip)", "1.26.4 (conda) conda conda-forge/py311_0"]
    assert paths["packages[requests]"] == ["2.32.3 (pip)", None]


def test_two_copies_of_a_library_line_up_by_api():
    b = environment()
    second = dict(b["native_libs"]["libraries"][0], prefix="libopenblas", version="0.3.23.dev")
    b["native_libs"]["libraries"].append(second)
    paths = _paths(diff_environments([environment(), b]))
    assert "native_libs.libraries[blas:openblas#2].version" in paths
    assert not any(p.startswith("native_libs.libraries[blas:openblas].") for p in paths)


def test_hardware_differences_mark_different_machines():
    b = environment()
    b["system"]["cpu"]["model"] = "Intel Xeon Platinum 8480+"
    b["system"]["cpu"]["vendor"] = "GenuineIntel"
    diff = diff_environments([environment(), b])
    assert not diff["same_hardware"]
    assert set(diff["hardware_differences"]) == {"system.cpu.model", "system.cpu.vendor"}


def test_three_way_diff_keeps_one_value_per_run():
    c = environment()
    c["env_vars"]["vars"]["OPENBLAS_CORETYPE"] = "Prescott"
    paths = _paths(diff_environments([environment(), skylake_environment(), c]))
    assert paths["env_vars.vars.OPENBLAS_CORETYPE"] == ["Haswell", None, "Prescott"]

"""Firing cases of the distributed-run rules (G1–G3) for tests/rules: the healthy captured Run plus a
``dist`` section captured from real `stackprof dist` runs on this machine (tests/dist/data, each file
says how it was made)."""
from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
BASE = "torch-healthy"          # tests/rules/cases.py's CPU capture


def captured(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))["dist"]


def _with(doc: dict, dist: dict) -> dict:
    doc["dist"] = dist
    return doc


def _other_torch_on_rank_1(doc: dict) -> dict:
    """The killed-rank capture's two ranks share one environment and no straggler was named in it (a
    capture in which one was — two processes on one CPU can differ — would have G1 cite the fact
    instead); rank 1 is given another torch wheel (the N-way diff entry stackprof/dist/envdiff.py
    writes for it)."""
    dist = captured("dist-killed-rank")
    dist["env_diff"]["differing"].append({
        "path": "packages[torch]", "section": "packages", "hardware": False, "scope": "rank", "expected": False,
        "relevant": True, "distinct": 2,
        "values": [{"value": "2.13.0+cpu (pip)", "present": True, "ranks": [0], "nodes": [0]},
                   {"value": "2.12.0+cpu (pip)", "present": True, "ranks": [1], "nodes": [0]}]})
    return _with(doc, dist)


CASES = {   # rule id -> (healthy document, the edit that makes it fire, the kind it must report)
    "G1": (BASE, lambda d: _with(d, captured("dist-two-nodes-omp1")), "defect"),
    "G2": (BASE, _other_torch_on_rank_1, "defect"),
    "G3": (BASE, lambda d: _with(d, captured("dist-killed-rank")), "note"),
}

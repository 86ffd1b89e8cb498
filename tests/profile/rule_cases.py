"""Firing cases of the profile rules (C12, P1…P6) for tests/rules: the healthy captured Run plus a
``profile`` section built by the real attribution code, from captured py-spy output where this
machine can produce it (tests/profile/data, see builders.py) and from captured frame names otherwise.
"""
from __future__ import annotations

from tests.profile import builders as b
from tests.rules.edit import library, set_path


def _with(doc: dict, section: dict) -> dict:
    doc["profile"] = section
    return doc


def _p1(doc: dict) -> dict:
    """numpy GEMMs (captured) on an OpenBLAS that A6 flags: its Haswell kernels on this AVX-512 CPU, in the
    facts and in the kernel names of the frames (the capture's SKYLAKEX suffix renamed)."""
    set_path(doc, f"environment.native_libs.libraries[{library(doc, 'openblas')}].architecture", "Haswell")
    text = (b.DATA / "matmul.collapsedstack.txt").read_text(encoding="utf-8").replace("_SKYLAKEX", "_HASWELL")
    return _with(doc, b.from_lines(text.splitlines(), doc["environment"]))


def _p2(doc: dict) -> dict:
    """40% of the time in libgomp's barrier, with torch's pool at 8 threads on this 2-CPU machine."""
    set_path(doc, "environment.torch.parallel.num_threads", 8)
    return _with(doc, b.from_lines([b.stack(b.GOMP_SPIN, 40), b.stack(b.KERNEL, 60)]))


BASE = "torch-healthy"          # tests/rules/cases.py's CPU capture
CASES = {   # rule id -> (healthy document, the edit that makes it fire, the kind it must report)
    "C12": (BASE, lambda d: _with(d, b.captured("dataloader")), "opportunity"),
    "P1": (BASE, _p1, "defect"),
    "P2": (BASE, _p2, "defect"),
    "P3": (BASE, lambda d: _with(d, b.from_lines([b.stack(b.DISPATCH, 60), b.stack(b.KERNEL, 20),
                                                  b.stack("x (y.py:1)", 20)])), "opportunity"),
    "P4": (BASE, lambda d: _with(d, b.from_lines([b.stack(b.REFBLAS, 50), b.stack("x (y.py:1)", 50)])), "defect"),
    "P5": (BASE, lambda d: _with(d, b.captured("gil_threads")), "opportunity"),
    "P6": (BASE, lambda d: _with(d, b.from_lines([b.stack(b.CUDA_SYNC, 50), b.stack(b.CUDA_LAUNCH, 20),
                                                  b.stack("x (y.py:1)", 30)])), "opportunity"),
}

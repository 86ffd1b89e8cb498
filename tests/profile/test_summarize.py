"""The Run's profile section, built from captured py-spy output by the real code."""
from __future__ import annotations

import json

from stackprof.profile.attribute import add_up
from stackprof.profile.collapsed import parse_line
from stackprof.profile.summarize import FLAME_MAX_NODES, build
from tests.rules.edit import fixture

from . import builders as b


def test_section_shape_and_numbers_agree():
    sec = b.captured("matmul")
    cats = sec["categories"]
    assert sum(c["samples"] for c in cats) == sec["samples"]["total"]
    assert abs(sum(c["share"] for c in cats) - 1) < 0.01
    assert sec["rate"]["asked_hz"] == 100 and sec["rate"]["intervals"] == sec["main_thread"]["samples"]
    assert sec["rate"]["achieved_hz"] == round(sec["rate"]["intervals"] / 2.2, 1)
    assert sec["top_frames"]["self"][0]["samples"] >= sec["top_frames"]["self"][-1]["samples"]
    assert sec["flame"]["root"][1] == sec["samples"]["total"]
    json.dumps(sec, allow_nan=False)                       # a valid part of the Run document


def test_blas_is_named_from_frames_and_joined_with_the_probe_facts():
    env = fixture("torch-healthy")["environment"]          # the same venv's native_libs (threadpoolctl)
    blas = b.captured("matmul", env)["blas"]
    assert blas["library"] == "OpenBLAS" and blas["kernel_in_frames"] == "SKYLAKEX"
    assert blas["file"].startswith("libscipy_openblas")
    assert blas["kernel_selected"] == "SkylakeX" and blas["version"] == "0.3.31.188.0"
    assert blas["source"].startswith("frame names + environment native_libs.libraries[")
    assert b.captured("matmul")["blas"]["source"] == "frame names"      # no facts: frames only


def test_dataloader_processes_have_roles_and_the_main_thread_is_the_program():
    sec = b.captured("dataloader")
    roles = sorted(p["role"] for p in sec["processes"])
    assert roles == ["DataLoader worker", "DataLoader worker", "main"]
    assert sec["main_thread"]["name"] == "MainThread" and sec["main_thread"]["pid"] == sec["pid"]


def test_few_samples_are_said_and_kept():
    sec = b.from_lines([b.stack("f (a.py:1)", 3)])
    assert sec["samples"]["total"] == 3
    assert any(w.startswith("only 3 samples") for w in sec["warnings"])


def test_no_samples_at_all_still_gives_a_section():
    sec = build(b.recording(None, 99), add_up([], 99), {})
    assert sec["samples"]["total"] == 0 and sec["categories"] == [] and sec["main_thread"] is None
    assert any(w.startswith("only 0 samples") for w in sec["warnings"])


def test_flame_tree_is_bounded_for_a_long_varied_profile():
    """A long 8-thread profile (24,000 samples, 12,000 distinct stacks up to 40 deep) stays within the node cap."""
    lines = []
    for t in range(8):
        for i in range(1500):
            frames = ";".join(f"fn_{t}_{i % 97}_{d} (mod{d}.py:{i % 13})" for d in range(i % 40))
            lines.append(f"thread ({100 + t}): T{t};main (m.py:1);{frames or 'leaf (m.py:2)'} 2")
    stacks = [parse_line(x) for x in lines]
    sec = build(b.recording(None, 100, wall_s=60.0), add_up(stacks, 100), {})

    def count(node):
        return 1 + sum(count(c) for c in node[4])
    assert count(sec["flame"]["root"]) <= FLAME_MAX_NODES + 1
    assert sec["flame"]["folded_samples"] >= 0 and sec["samples"]["total"] == 24000

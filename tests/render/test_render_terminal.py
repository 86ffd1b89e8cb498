"""The terminal summary."""
from __future__ import annotations

from render_builders import broken_env_run, full_run, probe_only_run, with_strings
from render_safety import terminal_problems

from stackprof.render import render


def test_summary_content_without_colour():
    text = render(full_run(), "terminal", color=False)
    assert not terminal_problems(text)
    assert text.startswith("stackprof — torch-env")
    assert "Headline: 89%" in text
    for label in ("OS", "CPU", "Memory", "GPU", "Python", "torch", "numpy", "Loaded BLAS / OpenMP"):
        assert f"\n  {label} " in text
    assert "1. [HIGH] A5" in text and "measured: 130.2 → 179.7 GFLOP/s" in text
    assert "fix: unset OPENBLAS_CORETYPE" in text
    assert "Benchmarks (23 ok, 1 skipped, 1 failed)" in text
    assert "skipped (1): no CUDA device — gemm/torch/cuda:0/fp16/4096x4096x4096" in text
    assert "failed: conv2d/torch/cpu/fp32/8x64x56 — RuntimeError: mkldnn convolution failed" in text
    assert "Errors (1)" in text and "libcudart.so.12" in text
    assert max(len(line) for line in text.splitlines()) <= 150


def test_colour_only_when_asked():
    coloured = render(full_run(), "terminal", color=True)
    assert "\x1b[" in coloured and not terminal_problems(coloured, color=True)
    assert "\x1b[" not in render(full_run(), "terminal", color=False)
    # default: ask stdout, which under pytest's capture is not a terminal
    assert "\x1b[" not in render(full_run(), "terminal")


def test_probe_only_and_broken():
    text = render(probe_only_run(), "terminal", color=False)
    assert "Benchmarks" not in text and "Findings" not in text and "Environment" in text
    broken = render(broken_env_run(), "terminal", color=False)
    assert "torch (probe failed)" in broken and "timeout after 120 s" in broken


def test_escape_sequences_in_values_cannot_reach_the_terminal():
    planted = "\x1b]0;pwned\x07\x1b[2J\rover\u202eevil"
    for color in (False, True):
        text = render(with_strings(full_run(), planted), "terminal", color=color)
        assert not terminal_problems(text, color=color)
        assert "\\x1b]0;pwned\\x07\\x1b[2J" in text

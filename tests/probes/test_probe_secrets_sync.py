"""The probe's copy of the secret rules (probes/facts/_secrets.py) and stackprof.redact agree."""
from __future__ import annotations

import string

from hypothesis import given, settings, strategies as st

from stackprof import redact

from probe_modules import load_probe

probe = load_probe("facts._secrets")

SECRETS = [
    "ghp_" + "Ab3" * 12, "github_pat_" + "x1Y2" * 8, "hf_" + "aB9" * 10, "sk-" + "Zz0" * 9,
    "xoxb-1234567890-abcdef", "AKIAABCDEFGHIJKLMNOP", "glpat-" + "q1W2e3R4" * 3,
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4",
    "-----BEGIN RSA PRIVATE KEY-----", "password=hunter2", "api_key: abc",
    "https://user:pa55@example.com/repo.git", "a9F3kLm2Qx7Zp4Rt8Vw1Yb6Nc5Hd0Jg",
    "3f9a2b7c4d5e6f708192a3b4c5d6e7f8", "prefix q7Hk2mX9pL4vR8tN3wZ6yB1cD5fG end",
]
NOT_SECRETS = [
    "4", "Haswell", "granularity=fine,compact,1,0", "expandable_segments:True,max_split_size_mb:128",
    "--xla_force_host_platform_device_count=8 --xla_gpu_enable_latency_hiding_scheduler=true",
    "/home/x/venv/lib/python3.11/site-packages/torch/lib:/usr/local/cuda-12.4/lib64",
    "libtcmalloc_minimal.so.4.5.16:/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "8.0;8.6;9.0+PTX",
    "GPU-12345678-1234-1234-1234-123456789abc", "dirty_decay_ms:1000,muzzy_decay_ms:0", ":4096:8",
]


def test_same_pattern_text():
    for name in ("SECRET_PATTERNS", "UUID_PATTERN", "WORD_PATTERN", "CHUNK_SPLIT_PATTERN", "PLAIN_CHUNK_PATTERN"):
        assert getattr(probe, name) == getattr(redact, name), name


def test_known_secrets_and_non_secrets():
    for value in SECRETS:
        assert probe.looks_secret(value), value
        assert redact.looks_secret(value, strict=True), value
    for value in NOT_SECRETS:
        assert not probe.looks_secret(value), value
        assert not redact.looks_secret(value, strict=True), value


ALPHABET = string.ascii_letters + string.digits + "_-+=.:/,;@ "


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=80))
def test_same_verdict_on_any_text(value):
    assert probe.looks_secret(value) == redact.looks_secret(value, strict=True)

"""Planted secrets never reach any output of the real `stackprof probe` (JSON, Markdown, terminal),
with or without identity redaction; only allow-listed variables are recorded at all."""
from __future__ import annotations

import json
import secrets
import string

import pytest

pytestmark = pytest.mark.slow


def random_word(n: int) -> str:
    # letters and digits mixed, like an API token without a provider prefix
    alphabet = string.ascii_letters + string.digits
    while True:
        word = "".join(secrets.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
            return word


@pytest.fixture
def planted():
    return {
        "HF_TOKEN": "hf_" + random_word(34),
        "GITHUB_TOKEN": "ghp_" + random_word(36),
        "OMP_STACKPROF_TEST_TOKENLIKE": random_word(32),          # allow-listed name, token-like value
        "CUDA_STACKPROF_TEST_URL": f"https://user:{random_word(12)}@example.com/x",
        "NCCL_STACKPROF_TEST_PASSWORD": random_word(8),           # a credential name under an allowed prefix
        "STACKPROF_TEST_UNLISTED": random_word(8),                # not performance-relevant: never read
    }


def test_planted_secrets_never_appear(venv_bare, stackprof_cli, planted, tmp_path):
    env = dict(planted, OMP_NUM_THREADS="3")
    proc = stackprof_cli("probe", "--python", venv_bare, "-o", tmp_path, env=env)        # terminal + files
    assert proc.returncode == 0, proc.stderr
    md = stackprof_cli("probe", "--python", venv_bare, "--format", "md", env=env)
    raw = stackprof_cli("probe", "--python", venv_bare, "--format", "json", "--no-redact", env=env)
    assert md.returncode == 0 and raw.returncode == 0
    outputs = {
        "terminal": proc.stdout + proc.stderr,
        "run.json": (tmp_path / "run.json").read_text(),
        "summary.md": (tmp_path / "summary.md").read_text(),
        "--format md": md.stdout + md.stderr,
        "--format json --no-redact": raw.stdout + raw.stderr,
    }
    for where, text in outputs.items():
        assert text.strip(), where
        for name, value in planted.items():
            assert value not in text, f"{name}'s value leaked into {where}"
            secret_part = value.split(":")[-1].split("@")[0]
            assert secret_part not in text, f"part of {name} leaked into {where}"
    env_vars = json.loads(outputs["run.json"])["environment"]["env_vars"]
    assert env_vars["vars"]["OMP_NUM_THREADS"] == "3"                    # the real setting is kept
    assert set(env_vars["dropped_secret"]) == {"OMP_STACKPROF_TEST_TOKENLIKE", "CUDA_STACKPROF_TEST_URL",
                                               "NCCL_STACKPROF_TEST_PASSWORD"}
    assert not {"HF_TOKEN", "GITHUB_TOKEN", "STACKPROF_TEST_UNLISTED"} & set(env_vars["vars"])
    assert "HF_TOKEN" not in outputs["run.json"] and "STACKPROF_TEST_UNLISTED" not in outputs["run.json"]


def test_identity_is_redacted_by_default(venv_bare, stackprof_cli, tmp_path):
    proc = stackprof_cli("probe", "--python", venv_bare, "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "run.json").read_text()
    run = json.loads(text)
    import getpass
    import socket
    from pathlib import Path
    home = str(Path.home())
    if home not in ("/", "/root"):
        assert home + "/" not in text
    assert run["environment"]["python"]["executable"].startswith("~/") or not str(venv_bare).startswith(home)
    host = socket.gethostname()
    if len(host) >= 3 and host != "localhost":
        assert host not in text
    user = getpass.getuser()
    if user != "root" and len(user) >= 3:
        assert f"/{user}/" not in text


def test_redactor_identity_rules():
    from stackprof.redact import Redactor
    r = Redactor(home="/home/alice", user="alice", host="node7.cluster.example.com")
    cases = {
        "/home/alice/venv/bin/python": "~/venv/bin/python",
        "/home/bob/envs/x/bin/python": "/home/<user>/envs/x/bin/python",     # someone else's home
        "file:///Users/carol/src/pkg": "file:///Users/<user>/src/pkg",
        "built on node7 (node7.cluster.example.com)": "built on <host> (<host>)",
        "GPU-0a1b2c3d-1111-2222-3333-444455556666": "GPU-<redacted>",
        "/opt/home/shared/lib": "/opt/home/shared/lib",                   # not a home directory
    }
    for raw, expected in cases.items():
        assert r.text(raw) == expected
    assert Redactor(identity=False, home="/home/alice").text("/home/alice/x") == "/home/alice/x"

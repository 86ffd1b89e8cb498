"""A broken environment is the normal input: a framework that crashes the interpreter, raises, or
hangs on import becomes an errors[] entry while every other section is still reported. Real
interpreters, real (hand-written) packages, the real CLI."""
from __future__ import annotations

import json
import time

import pytest

from stackprof.collect import FACT_PROBES, TIMEOUT_SCALE_ENV, probe_timeouts
from stackprof.errors import StackprofError

from fake_envs import add_package, bare_venv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory):
    python = bare_venv(tmp_path_factory.mktemp("broken") / "venv")
    add_package(python, "numpy", "9.9.9", code="import os\nos.abort()\n", installer="conda")
    add_package(python, "tensorflow", "2.99.0", installer="uv", requested=True,
                code="raise RuntimeError('this TensorFlow binary needs AVX512_VNNI\\nsecond line')\n")
    add_package(python, "jax", "0.9.9", code="import time\ntime.sleep(300)\n",
                direct_url={"url": "file:///srv/src/jax", "dir_info": {"editable": True}})
    return python


def test_each_failure_is_one_error_and_the_rest_is_reported(broken_env, stackprof_cli, tmp_path):
    started = time.monotonic()
    proc = stackprof_cli("probe", "--python", broken_env, "--probe-timeout", "4", "-o", tmp_path)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    run = json.loads((tmp_path / "run.json").read_text())
    env, errors = run["environment"], run["errors"]
    by_source = {e["source"]: e for e in errors}

    # numpy: the interpreter died (SIGABRT) while importing it
    assert env["numpy"]["status"] == "error" and "SIGABRT" in env["numpy"]["error"]
    assert by_source["facts.numpy"]["kind"] == "crash"
    # tensorflow: raised on import -> import_error + errors[] entry, version from its metadata
    tf = env["tensorflow"]
    assert tf["installed"] is True and tf["version"] == "2.99.0"
    assert tf["import_error"] == "RuntimeError: this TensorFlow binary needs AVX512_VNNI second line"
    assert by_source["facts.tensorflow"]["kind"] == "exception"
    # jax: hung past the 4 s limit -> stopped, one error
    assert env["jax"]["status"] == "error" and by_source["facts.jax"]["kind"] == "timeout"
    assert "4 s" in by_source["facts.jax"]["message"]
    assert elapsed < 60

    assert len(errors) == 3 and all("\n" not in e["message"] for e in errors)
    # everything else is still there, gathered by fresh agents after each failure
    assert env["system"]["cpu"]["logical_cpus"] >= 1
    assert env["python"]["env_kind"] == "venv"
    assert env["torch"] == {"installed": False}
    assert env["native_libs"]["libraries"] == [] and env["native_libs"]["frameworks_loaded"] == []
    dists = {d["name"]: d for d in env["packages"]["distributions"]}
    assert {n: d["installer"] for n, d in dists.items()} == {"numpy": "conda", "tensorflow": "uv", "jax": "pip"}
    assert dists["jax"]["editable"] is True and dists["jax"]["direct_url"] == "file:///srv/src/jax"
    assert dists["tensorflow"]["requested"] is True and dists["numpy"]["requested"] is False
    assert (tmp_path / "summary.md").read_text().strip()


def test_timeouts_are_configurable(monkeypatch):
    defaults = {section: t for _, section, t in FACT_PROBES}
    monkeypatch.delenv(TIMEOUT_SCALE_ENV, raising=False)
    assert probe_timeouts() == defaults
    assert set(probe_timeouts(2.5).values()) == {2.5}
    monkeypatch.setenv(TIMEOUT_SCALE_ENV, "0.5")
    assert probe_timeouts() == {s: t * 0.5 for s, t in defaults.items()}
    for bad in ("0", "-1", "fast", "nan"):
        monkeypatch.setenv(TIMEOUT_SCALE_ENV, bad)
        with pytest.raises(StackprofError, match=TIMEOUT_SCALE_ENV):
            probe_timeouts()


@pytest.mark.parametrize("args, env, expected", [
    (["--probe-timeout", "0"], {}, "--probe-timeout must be positive"),
    ([], {TIMEOUT_SCALE_ENV: "soon"}, "STACKPROF_PROBE_TIMEOUT_SCALE must be a positive number"),
])
def test_bad_timeout_settings_exit_2_with_one_line(stackprof_cli, args, env, expected):
    proc = stackprof_cli("probe", *args, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(lines) == 1 and lines[0].startswith("stackprof: error: ") and expected in lines[0]

"""`stackprof profile` on real programs with the real py-spy: the breakdown matches what each program does,
the Run round-trips through `stackprof report`, and every failure is one clear line with the profile kept.
Short programs (about 2 s of work) keep the whole file under a minute on 2 cores."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackprof.model import load_run

from .builders import PROGRAMS

pytestmark = pytest.mark.slow
VENV_PY = str(Path(sys.executable).parent / "python")


def profile(tmp_path, *args, python=VENV_PY, program=None, env=None, timeout=240, name="out"):
    """`stackprof profile -o OUT ARGS [-- PYTHON PROGRAM ARGS]` in a subprocess."""
    out = tmp_path / name
    cmd = [sys.executable, "-m", "stackprof", "profile", "-o", str(out), *args]
    if program:
        cmd += ["--", python, str(PROGRAMS / program[0]), *program[1:]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
    return proc, out


def main_shares(prof: dict) -> dict:
    cats = {c["id"]: c["samples"] for c in prof["main_thread"]["categories"] if c["id"] != "startup"}
    return {k: v / sum(cats.values()) for k, v in cats.items()}


@pytest.fixture(scope="module")
def matmul_run(tmp_path_factory):
    proc, out = profile(tmp_path_factory.mktemp("matmul"), program=("matmul.py", "3"))
    assert proc.returncode == 0, proc.stderr
    return out


def test_blas_program_is_mostly_the_named_blas_library_with_its_kernel(matmul_run):
    run = load_run(matmul_run / "run.json")
    prof = run.profile
    blas = prof["blas"]
    assert blas["library"] == "OpenBLAS" and blas["kernel_in_frames"]          # e.g. SKYLAKEX on AVX-512
    probe = next(lib for lib in run.environment["native_libs"]["libraries"] if lib.get("internal_api") == "openblas")
    assert blas["kernel_selected"] == probe["architecture"]                     # joined with the probe's facts
    assert blas["kernel_in_frames"].lower() == str(probe["architecture"]).lower()
    shares = main_shares(prof)
    sync = next((d["samples"] for c in prof["main_thread"]["categories"] if c["id"] == "threads_sync"
                 for d in c["details"] if d["name"] == "OpenBLAS thread pool"), 0)
    work = sum(c["samples"] for c in prof["main_thread"]["categories"] if c["id"] != "startup")
    assert shares.get("blas", 0) + sync / work > 0.5          # its kernels + its own pool's sync
    assert shares.get("blas", 0) > shares.get("python", 0)
    assert prof["exit_status"] == 0 and prof["native"]["used"] is True


def test_outputs_and_round_trip_through_stackprof_report(matmul_run, tmp_path):
    for name in ("report.html", "report.md", "run.json", "profile.collapsedstack.txt"):
        assert (matmul_run / name).stat().st_size > 0
    raw = (matmul_run / "profile.collapsedstack.txt").read_text(encoding="utf-8")
    assert "dgemm_kernel" in raw and str(Path.home()) + "/" not in raw            # redacted like the rest
    original = json.loads((matmul_run / "run.json").read_text(encoding="utf-8"))
    for source in ("run.json", "report.html"):
        proc = subprocess.run([sys.executable, "-m", "stackprof", "report", str(matmul_run / source),
                               "--format", "json"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["profile"] == original["profile"]
    html = tmp_path / "again.html"
    subprocess.run([sys.executable, "-m", "stackprof", "report", str(matmul_run / "run.json"), "-o", str(html)],
                   check=True, capture_output=True, timeout=60)
    assert 'id="profile-flame-data"' in html.read_text(encoding="utf-8")


def test_pure_python_is_interpreter_time(tmp_path):
    proc, out = profile(tmp_path, "--no-probe", program=("pure_python.py", "2"))
    assert proc.returncode == 0, proc.stderr
    assert main_shares(load_run(out / "run.json").profile)["python"] > 0.8
    assert "Python interpreter" in proc.stdout


def test_sleeping_program_is_idle(tmp_path):
    proc, out = profile(tmp_path, "--no-probe", program=("sleeper.py", "2"))
    assert proc.returncode == 0, proc.stderr
    assert main_shares(load_run(out / "run.json").profile)["idle"] > 0.8


def test_dataloader_work_is_in_the_worker_processes(tmp_path, venv_torch):
    proc, out = profile(tmp_path, "--subprocesses", "--no-probe", python=str(venv_torch),
                        program=("dataloader.py", "3"))
    assert proc.returncode == 0, proc.stderr
    run = load_run(out / "run.json")
    workers = [p for p in run.profile["processes"] if p["role"] == "DataLoader worker"]
    assert len(workers) == 2
    for worker in workers:
        busy = {c: n for c, n in worker["categories"].items() if c not in ("idle", "gil")}
        assert busy and busy.get("data_loading", 0) / sum(busy.values()) > 0.7
    main = main_shares(run.profile)
    assert main.get("data_loading", 0) > max(main.get(c, 0) for c in ("blas", "onednn", "framework"))
    assert any(f["id"] == "C12" for f in run.findings)            # the model waits for data


def test_a_failing_program_keeps_its_profile_and_exit_status(tmp_path):
    proc, out = profile(tmp_path, "--no-probe", program=("fails.py", "1"))
    assert proc.returncode == 3
    assert "exited with status 3" in proc.stderr
    prof = load_run(out / "run.json").profile
    assert prof["exit_status"] == 3 and prof["samples"]["total"] > 10
    assert (out / "report.html").exists()


def test_a_program_shorter_than_a_few_samples_says_so(tmp_path):
    proc, out = profile(tmp_path, "--no-probe", program=("sleeper.py", "0.2"))
    assert proc.returncode == 0, proc.stderr
    run = load_run(out / "run.json")
    total = run.profile["samples"]["total"]
    assert total < 10
    said = f"only {total} samples" if total else "no samples: the program ended before py-spy took a sample"
    assert any(w.startswith(said) for w in run.profile["warnings"])      # (py-spy attaching took > 0.2 s)
    assert (out / "report.html").exists()


def test_attach_to_a_running_pid(tmp_path):
    sleeper = subprocess.Popen([VENV_PY, str(PROGRAMS / "sleeper.py"), "30"])
    try:
        time.sleep(0.5)
        proc, out = profile(tmp_path, "--pid", str(sleeper.pid), "--duration", "2", "--no-probe")
        assert proc.returncode == 0, proc.stderr
        prof = load_run(out / "run.json").profile
        assert prof["mode"] == "attach" and prof["pid"] == sleeper.pid and prof["exit_status"] is None
        assert main_shares(prof)["idle"] > 0.8
        assert sleeper.poll() is None                        # an attached process is never stopped
    finally:
        sleeper.kill()
        sleeper.wait()


def test_duration_stops_a_launched_program(tmp_path):
    started = time.monotonic()
    proc, out = profile(tmp_path, "--duration", "2", "--no-probe", program=("sleeper.py", "60"))
    assert time.monotonic() - started < 30
    prof = load_run(out / "run.json").profile
    assert prof["stopped_after_duration"] is True and prof["exit_status"] != 0
    assert any("--duration" in w for w in prof["warnings"])
    assert proc.returncode == 128 + signal.SIGINT or proc.returncode == 1


def test_ctrl_c_keeps_and_renders_the_profile_so_far(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "stackprof", "profile", "-o", str(out), "--no-probe", "--",
           VENV_PY, str(PROGRAMS / "pure_python.py"), "60"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGINT)                     # what a terminal sends on Ctrl-C: the whole group
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    prof = load_run(out / "run.json").profile
    assert prof["interrupted"] is True and prof["samples"]["total"] > 30        # ≈ 3 s at 25 Hz
    assert (out / "report.html").exists() and "wrote" in stdout


def test_missing_pyspy_is_one_clear_line(tmp_path):
    proc, out = profile(tmp_path, "--no-probe", program=("sleeper.py", "1"), env={"STACKPROF_PYSPY": "/nonexistent/py-spy"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["stackprof: error: py-spy not found at $STACKPROF_PYSPY=/nonexistent/py-spy"]


def test_pid_that_does_not_exist(tmp_path):
    proc, _ = profile(tmp_path, "--pid", "4194303", "--no-probe")
    assert proc.returncode == 2 and "no process with PID 4194303" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_usage_errors(tmp_path):
    proc, _ = profile(tmp_path)
    assert proc.returncode == 2 and "give a command after --" in proc.stderr
    proc, _ = profile(tmp_path, "--nonblocking", "--native", program=("sleeper.py", "1"))
    assert proc.returncode == 2 and "--nonblocking cannot collect native frames" in proc.stderr
    proc, _ = profile(tmp_path, "--no-probe", "--", "/nonexistent/program")
    assert proc.returncode == 2 and "command not found: /nonexistent/program" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to switch user")
def test_attaching_without_permission_says_what_is_needed(tmp_path):
    """As an unprivileged user, attach to a root process: the message names CAP_SYS_PTRACE and launching."""
    target = subprocess.Popen([VENV_PY, str(PROGRAMS / "sleeper.py"), "20"])
    try:
        tmp_path.chmod(0o777)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
               sys.executable, "-m", "stackprof", "profile", "--pid", str(target.pid), "--no-probe",
               "-o", str(tmp_path / "out")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
                              env=dict(os.environ, HOME=str(tmp_path)))
        assert proc.returncode == 2, proc.stderr
        assert "CAP_SYS_PTRACE" in proc.stderr and "Launching the program instead needs none" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    finally:
        target.kill()
        target.wait()


def test_run_profile_puts_diagnosis_and_profile_in_one_run(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "stackprof", "run", "--quick", "--only", "gemm", "--no-verify",
                           "-o", str(out), "--profile", "--", VENV_PY, str(PROGRAMS / "matmul.py"), "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    run = load_run(out / "run.json")
    assert any(b["status"] == "ok" for b in run.benchmarks)
    assert run.profile["samples"]["total"] > 25 and run.profile["blas"]["library"] == "OpenBLAS"
    assert (out / "profile.collapsedstack.txt").exists() and "Profile:" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "stackprof", "run", "--profile"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--profile needs the program" in proc.stderr


def test_native_frames_unavailable_falls_back_to_python_frames_and_says_so(tmp_path):
    """Stands in for a platform py-spy cannot unwind natively (macOS, some CPUs): this wrapper refuses
    --native with py-spy's own message and runs the real py-spy otherwise."""
    real = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    wrapper = tmp_path / "py-spy"
    wrapper.write_text("#!/bin/sh\nfor a in \"$@\"; do if [ \"$a\" = --native ]; then echo 'Collecting stack "
                       "traces from native extensions (`--native`) is not supported on your platform.'; exit 1; fi; "
                       f"done\nexec {real} \"$@\"\n", encoding="utf-8")
    wrapper.chmod(0o755)
    proc, out = profile(tmp_path, "--no-probe", program=("pure_python.py", "2"), env={"STACKPROF_PYSPY": str(wrapper)})
    assert proc.returncode == 0, proc.stderr
    prof = load_run(out / "run.json").profile
    assert prof["native"]["used"] is False and "not supported on your platform" in prof["native"]["note"]
    assert any(w.startswith("native frames off") for w in prof["warnings"])
    assert prof["samples"]["total"] > 50 and "--native" not in prof["tool"]["args"]


def test_secrets_on_the_command_line_never_reach_the_outputs(tmp_path):
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    proc, out = profile(tmp_path, "--no-probe", "--subprocesses", program=("sleeper.py", "1", f"--token={token}"))
    assert proc.returncode == 0, proc.stderr
    for name in ("run.json", "report.html", "report.md", "profile.collapsedstack.txt"):
        text = (out / name).read_text(encoding="utf-8")
        assert token not in text, name
    assert "sleeper.py" in (out / "run.json").read_text(encoding="utf-8")


def test_a_program_too_short_for_any_sample_says_so_and_keeps_the_report(tmp_path):
    proc, out = profile(tmp_path, "--no-probe", "--", VENV_PY, "-c", "pass")
    assert proc.returncode == 0, proc.stderr
    prof = load_run(out / "run.json").profile
    assert prof["samples"]["total"] == 0
    assert any(w.startswith("no samples: the program ended before py-spy took a sample") for w in prof["warnings"])
    assert (out / "report.html").exists()


def test_a_command_that_is_not_python_is_an_error_with_the_reason(tmp_path):
    proc, out = profile(tmp_path, "--no-probe", "--", "sleep", "3")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("stackprof: error: py-spy recorded nothing: Failed to find python version")
    assert "--subprocesses" in last and "Traceback" not in proc.stderr
    run = load_run(out / "run.json")                     # the partial result is written anyway
    assert any(e["stage"] == "profile" for e in run.errors)

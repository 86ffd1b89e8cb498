"""`stackprof probe --python` on real virtual environments (bare, numpy only, torch + numpy +
threadpoolctl): the facts an issue report needs, as structured fields."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from stackprof.target import Target, Task

from fake_envs import add_conda_record, add_package, bare_venv

pytestmark = pytest.mark.slow

SECTIONS = {"system", "python", "env_vars", "packages", "numpy", "torch", "tensorflow", "jax", "native_libs", "gpus"}


def probe_json(stackprof_cli, python, env=None) -> dict:
    proc = stackprof_cli("probe", "--python", python, "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def torch_run(venv_torch):
    proc = subprocess.run([sys.executable, "-m", "stackprof", "probe", "--python", str(venv_torch), "--format",
                           "json"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def blas(libs, api="openblas"):
    found = [lib for lib in libs if lib["internal_api"] == api]
    assert len(found) == 1, libs
    return found[0]


def test_torch_env_build_facts(torch_run):
    env = torch_run["environment"]
    assert set(env) == SECTIONS and torch_run["errors"] == []
    torch = env["torch"]
    assert torch["installed"] is True and torch["version"] == "2.13.0+cpu" and torch["local_version"] == "cpu"
    settings = torch["config"]["build_settings"]
    assert settings["BLAS_INFO"] == "mkl" and settings["LAPACK_INFO"] == "mkl" and settings["USE_MKLDNN"] == "ON"
    assert re.fullmatch(r"[0-9a-f]{40}", torch["git_version"])
    assert torch["config"]["mkl_version"] and torch["config"]["mkldnn_version"]
    # CPU capability: what ATen dispatches to, consistent with the CPU's flags
    expected = "AVX512" if env["system"]["cpu"]["flags"]["avx512f"] else "AVX2"
    assert torch["cpu_capability"] == torch["config"]["cpu_capability"] == expected
    # OMP_NUM_THREADS=1 from the environment reaches torch's pools
    assert torch["parallel"]["num_threads"] == 1 and torch["parallel"]["omp_max_threads"] == 1
    assert torch["parallel"]["backend"] == "OpenMP"
    assert torch["cuda"]["built_version"] is None and torch["cuda"]["available"] is False
    assert torch["backends"]["float32_matmul_precision"] == "highest"
    assert torch["import_s"] > 0


def test_torch_env_loaded_blas_and_openmp(torch_run):
    env = torch_run["environment"]
    native = env["native_libs"]
    assert native["source"] == "threadpoolctl" and set(native["frameworks_loaded"]) >= {"numpy", "torch"}
    openblas = blas(native["libraries"])
    assert openblas["version"] == env["numpy"]["blas"]["version"]          # loaded == built against
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.\d+)*", openblas["version"])
    assert openblas["architecture"]                                         # the OpenBLAS kernel core
    if os.environ.get("OPENBLAS_CORETYPE"):
        assert openblas["architecture"].lower() == os.environ["OPENBLAS_CORETYPE"].lower()
    assert openblas["num_threads"] == 1 and openblas["threading_layer"] == "pthreads"
    assert "numpy" in openblas["filepath"]
    assert native["openmp_runtimes"] == ["libgomp"] and native["multiple_openmp"] is False
    # numpy's own section shows the same library as loaded by its import
    assert blas(env["numpy"]["runtime_blas"])["architecture"] == openblas["architecture"]
    assert env["numpy"]["simd"]["baseline"] and env["numpy"]["version"]


def test_torch_env_packages_and_vars(torch_run):
    env = torch_run["environment"]
    dists = {d["name"]: d for d in env["packages"]["distributions"]}
    assert {"torch", "numpy", "threadpoolctl"} <= set(dists)
    assert env["packages"]["count"] == len(dists) >= 5
    assert all(d["installer"] == "pip" for d in dists.values())           # every package's installer
    assert all(d["location_kind"] == "site-packages" and d["editable"] is False for d in dists.values())
    assert dists["torch"]["local_version"] == "cpu" and dists["torch"]["requested"] is True
    assert env["packages"]["installers"] == {"pip": len(dists)}
    variables = env["env_vars"]["vars"]
    assert variables["OMP_NUM_THREADS"] == "1" and variables["MKL_NUM_THREADS"] == "1"
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            assert variables[name] == os.environ[name]
    assert "PATH" not in variables and "HOME" not in variables
    assert env["python"]["env_kind"] == "venv" and env["python"]["version"]


def test_torch_env_system(torch_run):
    system = torch_run["environment"]["system"]
    assert system["affinity"]["count"] == len(os.sched_getaffinity(0)) and system["os_cpu_count"] == os.cpu_count()
    cpu = system["cpu"]
    assert cpu["vendor"] and cpu["model"] and cpu["logical_cpus"] == os.cpu_count()
    assert cpu["physical_cores"] * cpu["threads_per_core"] == cpu["logical_cpus"]
    assert cpu["isa_level"] in ("avx512", "avx2", "avx", "sse4_2", "neon", "sve")
    assert system["memory"]["total_bytes"] > system["memory"]["available_bytes"] > 0
    assert system["thp"]["enabled"] in ("always", "madvise", "never", None)
    assert system["cgroup"]["version"] in (1, 2, None)
    gpus = torch_run["environment"]["gpus"]
    assert gpus["available"] is False and gpus["reason"]                   # no GPU on this machine


def test_numpy_only_env_uses_the_fallback(venv_numpy, stackprof_cli):
    run = probe_json(stackprof_cli, venv_numpy)
    env = run["environment"]
    assert run["errors"] == []
    assert env["torch"] == {"installed": False} and env["tensorflow"] == {"installed": False}
    native = env["native_libs"]
    assert native["source"] == "fallback" and native["frameworks_loaded"] == ["numpy"]
    openblas = blas(native["libraries"])
    assert openblas["version"] == env["numpy"]["blas"]["version"]
    assert openblas["architecture"] and openblas["threading_layer"] == "pthreads"
    assert openblas["num_threads"] >= 1 and openblas["config"].startswith("OpenBLAS ")


def test_fallback_agrees_with_threadpoolctl(venv_torch):
    results = Target(venv_torch).run_tasks([
        Task("facts.numpy"), Task("facts.torch"),
        Task("facts.native_libs", {}), Task("facts.native_libs", {"fallback": True})])
    assert all(r.ok for r in results), [r.error for r in results]
    ours, theirs = results[3].data, results[2].data
    assert ours["source"] == "fallback" and theirs["source"] == "threadpoolctl"
    keys = ("user_api", "internal_api", "prefix", "filepath", "version", "num_threads", "threading_layer",
            "architecture")

    def view(libs):
        return sorted((tuple(lib.get(k) for k in keys) for lib in libs), key=str)
    # threadpoolctl has no threading_layer/architecture for OpenMP libraries; we report None too
    assert view(ours["libraries"]) == view(theirs["libraries"])


def test_bare_env(venv_bare, stackprof_cli):
    run = probe_json(stackprof_cli, venv_bare)
    env = run["environment"]
    assert run["errors"] == []
    assert env["numpy"] == {"installed": False} and env["jax"] == {"installed": False}
    assert env["packages"]["count"] == len(env["packages"]["distributions"])
    assert env["python"]["pip_available"] is (env["packages"]["count"] > 0)
    assert env["native_libs"]["libraries"] == []


def test_conda_metadata(tmp_path):
    python = bare_venv(tmp_path / "condaish")
    add_package(python, "torch", "2.99.0", installer="conda")
    add_package(python, "requests", "2.0.0", installer="pip")
    add_conda_record(python, "pytorch", "2.99.0", "py3.11_cpu_0", "https://conda.anaconda.org/pytorch/linux-64",
                     ["lib/python3.11/site-packages/torch-2.99.0.dist-info/METADATA"])
    add_conda_record(python, "mkl", "2023.1.0", "h213fc3f_46344", "https://repo.anaconda.com/pkgs/main/linux-64",
                     ["lib/libmkl_core.so.2"])
    python_facts, packages = (r.data for r in Target(python).run_tasks([Task("facts.python"), Task("facts.packages")]))
    assert python_facts["env_kind"] == "conda"
    dists = {d["name"]: d for d in packages["distributions"]}
    assert dists["torch"]["installer"] == "conda"
    assert dists["torch"]["conda"] == {"channel": "pytorch", "build": "py3.11_cpu_0", "name": "pytorch"}
    assert dists["requests"]["conda"] is None and dists["requests"]["installer"] == "pip"
    assert {"name": "mkl", "version": "2023.1.0", "build": "h213fc3f_46344", "channel": "pkgs/main"} \
        in packages["conda_packages"]

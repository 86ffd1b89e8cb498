"""Real environments for the provenance tests, built once and cached like tests/conftest.py's make_venv
(same cache folder, same lock): one venv holding a C extension compiled here from its sdist
(pip --no-binary :all:), an editable install of a small local project, and numpy installed by uv;
plus a conda-shaped prefix made from real conda-meta records (tests/probes/data/conda-meta/README.md)
with compiled stand-ins for the shared libraries, since conda itself cannot be installed here."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from conftest import VENV_CACHE, make_venv
from fake_envs import bare_venv, site_packages

DATA = Path(__file__).resolve().parent / "data"
SDIST_PACKAGE = "markupsafe==3.0.2"          # one C file (_speedups.c): builds in seconds
UV_PACKAGE = "numpy"
RECIPE = f"sdist:{SDIST_PACKAGE} editable:provdemo uv:{UV_PACKAGE}"


def have_compiler() -> bool:
    return shutil.which("gcc") is not None or shutil.which("cc") is not None


def have_python_headers() -> bool:
    return Path(sysconfig.get_paths()["include"], "Python.h").exists()


def mixed_env() -> Path:
    """python of the cached venv: markupsafe built from its sdist, provdemo editable, numpy by uv."""
    if not (have_compiler() and have_python_headers()):
        pytest.skip("building a C extension from its sdist needs a C compiler and Python.h")
    key = hashlib.sha1((sys.version + RECIPE).encode()).hexdigest()[:10]
    root = VENV_CACHE / f"provenance-mixed-{key}"
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    with open(VENV_CACHE / f"provenance-mixed-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python, marker = root / "bin" / "python", root / ".stackprof-complete"
        if marker.exists() and python.exists():
            return python
        if root.exists():
            shutil.rmtree(root)
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run(pip + ["--no-binary", ":all:", SDIST_PACKAGE], check=True)
        project = root / "src" / "provdemo"           # inside the venv folder: cached with it
        (project / "provdemo").mkdir(parents=True)
        (project / "provdemo" / "__init__.py").write_text("VALUE = 1\n")
        (project / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
            '[project]\nname = "provdemo"\nversion = "0.1"\n')
        subprocess.run(pip + ["-e", str(project)], check=True)
        uv = make_venv("uv-tool", ["uv"]).parent / "uv"
        subprocess.run([str(uv), "pip", "install", "-q", "--python", str(python), UV_PACKAGE], check=True)
        marker.write_text(RECIPE)
        return python


STUB = "int stackprof_provenance_stub(void) { return 1; }\n"


def _cc(args: list[str], cwd: Path) -> None:
    compiler = shutil.which("gcc") or shutil.which("cc")
    subprocess.run([compiler, *args], cwd=cwd, check=True, capture_output=True)


def conda_prefix(root: Path) -> Path:
    """A venv laid out as conda-forge's numpy 1.26.4 + libcblas/libblas 22_linux64_openblas + libopenblas
    0.3.27 and the pytorch channel's CPU torch would be (records from tests/probes/data/conda-meta), plus a
    scipy that `pip install scipy` put into the same environment (a manylinux wheel bundling OpenBLAS).
    The extension module and OpenBLAS are compiled stand-ins with the real names, sonames and RPATH, so
    the loader's rules are applied to real ELF files."""
    if not have_compiler():
        pytest.skip("the conda-shaped prefix compiles stand-in shared libraries: no C compiler")
    python = bare_venv(root)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = site_packages(python)
    meta = root / "conda-meta"
    meta.mkdir()
    for record in sorted((DATA / "conda-meta").glob("*.json")):
        text = record.read_text().replace("python3.11", version).replace("cpython-311", _abi_tag())
        (meta / record.name).write_text(text)
    lib = root / "lib"
    build = root / "build"
    build.mkdir()
    (build / "stub.c").write_text(STUB)
    _cc(["-shared", "-fPIC", "-o", str(lib / "libopenblasp-r0.3.27.so"), "-Wl,-soname,libopenblas.so.0", "stub.c"], build)
    os.symlink("libopenblasp-r0.3.27.so", lib / "libopenblas.so.0")
    os.symlink("libopenblas.so.0", lib / "libopenblas.so")
    # numpy is linked against the generic CBLAS name; blas-feedstock's libcblas points it at OpenBLAS.
    _cc(["-shared", "-fPIC", "-o", str(build / "libcblas.so.3"), "-Wl,-soname,libcblas.so.3", "stub.c"], build)
    core = site / "numpy" / "core"
    core.mkdir(parents=True)
    extension = f"_multiarray_umath.{_abi_tag()}-x86_64-linux-gnu.so"
    _cc(["-shared", "-fPIC", "-o", str(core / extension), "stub.c", "-Wl,--no-as-needed", str(build / "libcblas.so.3"),
         "-Wl,-rpath,$ORIGIN/../../../.."], build)
    for name in ("libcblas", "libblas"):
        os.symlink("libopenblas.so.0", lib / f"{name}.so.3")
        os.symlink("libopenblas.so.0", lib / f"{name}.so")
    (site / "numpy" / "__init__.py").write_text("")
    info = site / "numpy-1.26.4.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.4\n")
    (info / "INSTALLER").write_text("conda\n")
    # conda-forge builds with pip in its build folder: a local-looking tag and a file:// direct_url
    tag = _abi_tag().replace("cpython-", "cp")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nGenerator: meson\nRoot-Is-Purelib: false\n"
                                f"Tag: {tag}-{tag}-linux_x86_64\n")
    (info / "direct_url.json").write_text(json.dumps({"url": "file:///home/conda/feedstock_root/build_artifacts/"
                                                             "numpy_1707225342954/work", "dir_info": {}}))
    (info / "RECORD").write_text(f"numpy/__init__.py,,\nnumpy/core/{extension},,\n")
    (info / "top_level.txt").write_text("numpy\n")
    torch_info = site / "torch-2.3.1.dist-info"
    torch_info.mkdir()
    (torch_info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.3.1\n")
    (torch_info / "INSTALLER").write_text("conda\n")
    scipy_info = site / "scipy-1.13.1.dist-info"          # pip install scipy==1.13.1 into the conda env
    scipy_info.mkdir()
    tag = _abi_tag().replace("cpython-", "cp")
    (scipy_info / "METADATA").write_text("Metadata-Version: 2.1\nName: scipy\nVersion: 1.13.1\n")
    (scipy_info / "INSTALLER").write_text("pip\n")
    (scipy_info / "WHEEL").write_text(f"Wheel-Version: 1.0\nGenerator: meson\nRoot-Is-Purelib: false\n"
                                      f"Tag: {tag}-{tag}-manylinux_2_17_x86_64\nTag: {tag}-{tag}-manylinux2014_x86_64\n")
    (scipy_info / "RECORD").write_text("scipy.libs/libopenblasp-r0-24bff013.3.26.dev.so,,\n"
                                       "scipy.libs/libgfortran-040039e1.so.5.0.0,,\n")
    shutil.rmtree(build)
    return python


def _abi_tag() -> str:
    return f"cpython-{sys.version_info[0]}{sys.version_info[1]}"

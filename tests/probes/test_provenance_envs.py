"""Build provenance on real environments: Debian's python3-numpy (apt) probed through /usr/bin/python3,
a venv of index wheels (torch 2.13.0 CPU + numpy), a venv with a C extension compiled here from its
sdist, an editable install and numpy installed by uv, and a conda-shaped prefix made from real
conda-meta records. Each gets the expected provenance, the report's line says it, the rules that use
provenance name it, and compare attributes a provenance difference to the kernels it can move.

Expected values come from the tools the probe does not use (dpkg-query, dpkg -S, update-alternatives,
ldconfig -p, the files pip/uv wrote), never from the probe itself."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stackprof import provenance as words
from stackprof.analyze import analyze
from stackprof.compare.attribution import attribute
from stackprof.compare.envdiff import diff_environments
from stackprof.model import Run
from stackprof.render import markdown
from stackprof.target import Target, Task

from fake_envs import add_package, bare_venv, site_packages
from provenance_envs import conda_prefix, mixed_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def probe(python, env=None) -> dict:
    proc = subprocess.run([sys.executable, "-m", "stackprof", "probe", "--python", str(python), "--format", "json"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=dict(os.environ, **(env or {})))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def dist(run: dict, name: str) -> dict:
    return words.distributions(run["environment"])[name]


def line(run: dict, name: str) -> str:
    return dict(words.framework_lines(run["environment"]))[name]


def findings(run: dict) -> dict:
    doc = Run.from_dict(dict(run)) if "schema" in run else Run(environment=run["environment"])
    analyze(doc)
    return {f["id"]: f for f in doc.findings}


def out(*cmd) -> str:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=True).stdout.strip()


# ---- Debian's python3-numpy ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def debian_run():
    if shutil.which("apt-get") is None or not Path("/var/lib/dpkg/status").exists() or not Path("/usr/bin/python3").exists():
        pytest.skip("apt is unavailable: not a Debian/Ubuntu machine")
    status = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "python3-numpy"], capture_output=True, text=True)
    if "install ok installed" not in status.stdout:
        if os.geteuid() != 0:
            pytest.skip("python3-numpy is not installed and installing it with apt needs root")
        install = ["apt-get", "install", "-y", "-q", "python3-numpy"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
            subprocess.run(install, check=True, capture_output=True)
    return probe("/usr/bin/python3")


def libblas_oracle() -> dict:
    """Where libblas.so.3 resolves for a 64-bit x86 program, per ldconfig, update-alternatives and dpkg."""
    listed = out("ldconfig", "-p")
    path = next(m.group(1) for m in re.finditer(r"libblas\.so\.3 \(libc6,x86-64\) => (\S+)", listed))
    real = os.path.realpath(path)
    owner = None
    for spelling in (real, real.replace("/usr/lib/", "/lib/", 1)):
        proc = subprocess.run(["dpkg", "-S", spelling], capture_output=True, text=True)
        if proc.returncode == 0:
            owner = proc.stdout.split(":")[0].strip()
            break
    return {"real": real, "owner": owner,
            "version": out("dpkg-query", "-W", "-f", "${Version}", owner) if owner else None,
            "via_alternatives": any("/etc/alternatives/" in h for h in _hops(path))}


def _hops(path):
    hops, current = [], path
    while os.path.islink(current):
        current = os.path.join(os.path.dirname(current), os.readlink(current))
        hops.append(current)
    return hops


def test_debian_numpy_is_the_distribution_package(debian_run):
    numpy = dist(debian_run, "numpy")
    version = out("dpkg-query", "-W", "-f", "${Version}", "python3-numpy")
    prov = numpy["provenance"]
    assert prov["kind"] == "distribution" and numpy["installer"] is None
    assert prov["owner"]["manager"] == "dpkg" and prov["owner"]["package"] == "python3-numpy"
    assert prov["owner"]["version"] == version
    build = debian_run["environment"]["packages"]["builds"]["numpy"]
    assert build["provenance"] == "distribution" and build["bundled"] == []     # Debian links, never bundles
    blas = next(link for link in build["links"] if link["needed"] == "libblas.so.3")
    oracle = libblas_oracle()
    assert blas["real_path"] == oracle["real"] and blas["owner"]["package"] == oracle["owner"]
    assert blas["owner"]["version"] == oracle["version"] and blas["origin"] == "system"
    assert bool(blas["alternative"]) == oracle["via_alternatives"]
    expected = {"libblas3": "reference BLAS (Netlib)"}.get(oracle["owner"], None)
    if expected:
        assert blas["library"] == expected
    # what the process really loaded (native_libs, /proc/self/maps) is the file the link resolved to
    loaded = [lib["filepath"] for lib in debian_run["environment"]["native_libs"]["libraries"]]
    assert oracle["real"] in loaded
    text = line(debian_run, "numpy")
    assert text.startswith(f"numpy {numpy['version']} — Debian package python3-numpy {version}; links libblas.so.3 → ")
    assert ("/etc/alternatives" in text) == oracle["via_alternatives"] and "[loaded]" in text
    assert f"({oracle['owner']} {oracle['version']})" in text
    report = markdown.render(Run.from_dict(dict(debian_run)))
    assert "Environment: provenance" in report and f"Debian package python3-numpy {version}" in report


def test_links_say_loaded_when_the_framework_is_already_imported(debian_run):
    """Same agent process, numpy imported first: each link is checked against /proc/self/maps."""
    numpy, packages = Target("/usr/bin/python3").run_tasks([Task("facts.numpy"), Task("facts.packages")])
    assert numpy.ok and packages.ok
    links = {link["needed"]: link for link in packages.data["builds"]["numpy"]["links"]}
    assert links["libblas.so.3"]["loaded"] is True and links["liblapack.so.3"]["loaded"] is True
    maps = {l["filepath"] for l in numpy.data["runtime_blas"]}
    assert links["libblas.so.3"]["real_path"] in maps


def test_a1_names_debians_package_and_the_blas_it_resolves_to(debian_run):
    found = findings(debian_run)
    oracle = libblas_oracle()
    if oracle["owner"] != "libblas3":                  # this machine points libblas.so.3 at an optimized BLAS
        assert "A1" not in found
        return
    a1 = found["A1"]
    assert "python3-numpy" in a1["title"] and "reference BLAS" in a1["title"] and "libblas3" in a1["title"]
    assert any(e.get("fact", "").startswith("packages.builds.numpy.links") for e in a1["evidence"])
    assert "libopenblas0-pthread" in a1["fix"] or "update-alternatives --set" in a1["fix"]
    assert "I1" not in found                           # python3-cryptography's two metadata folders: one install
    assert "cryptography" in debian_run["environment"]["packages"]["duplicate_metadata"]


# ---- index wheels ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheels_run(venv_torch):
    return probe(venv_torch, env={"OMP_NUM_THREADS": "1"})


def test_index_wheels_and_what_they_bundle(wheels_run, venv_torch):
    env = wheels_run["environment"]
    site = next(Path(venv_torch).parent.parent.glob("lib/python*/site-packages"))
    torch_tag = re.search(r"^Tag: \S+-\S+-(\S+)$", next(site.glob("torch-*.dist-info")).joinpath("WHEEL").read_text(), re.M)
    torch = dist(wheels_run, "torch")["provenance"]
    assert torch["kind"] == "wheel" and torch["source"] == "index" and torch["platform"] == torch_tag.group(1)
    assert torch["vendor"]["id"] == "pytorch-cpu" and torch["vendor"]["accelerator"] == "cpu"
    assert all(d["provenance"]["kind"] == "wheel" for d in env["packages"]["distributions"])
    bundled = {b["library"] for b in env["packages"]["builds"]["torch"]["bundled"]}
    assert "GNU OpenMP (libgomp)" in bundled and (site / "torch" / "lib" / "libgomp.so.1").exists()
    assert env["packages"]["builds"]["torch"]["links"] == [] and env["packages"]["builds"]["torch"]["missing"] == []
    assert line(wheels_run, "torch").startswith(
        f"torch 2.13.0+cpu — binary wheel from an index ({torch_tag.group(1)}), PyTorch CPU-only build "
        "(download.pytorch.org/whl/cpu), installed by pip, bundles GNU OpenMP (libgomp)")
    openblas = next(lib for lib in env["native_libs"]["libraries"] if lib["internal_api"] == "openblas")
    assert f"bundles OpenBLAS {openblas['version']}" in line(wheels_run, "numpy")   # version of the loaded copy
    found = findings(wheels_run)
    assert not {"A1", "I1", "C9", "A9"} & set(found)


# ---- built here from an sdist, editable, uv ------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed_python():
    return mixed_env()


@pytest.fixture(scope="module")
def mixed_run(mixed_python):
    return probe(mixed_python)


def test_sdist_build_editable_and_uv(mixed_run, mixed_python):
    python = Path(mixed_python)
    site = next(python.parent.parent.glob("lib/python*/site-packages"))
    markupsafe = dist(mixed_run, "markupsafe")
    wheel_file = next(site.glob("[Mm]arkup[Ss]afe-*.dist-info")) / "WHEEL"
    assert re.search(r"^Tag: \S+-linux_x86_64$", wheel_file.read_text(), re.M)       # what pip's build wrote
    assert markupsafe["installer"] == "pip" and markupsafe["direct_url"] is None
    prov = markupsafe["provenance"]
    assert (prov["kind"], prov["source"], prov["platform"]) == ("local-build", "sdist", "linux_x86_64")
    assert words.phrase(markupsafe) == "wheel built on this machine from an sdist (linux_x86_64), installed by pip"
    editable = dist(mixed_run, "provdemo")
    assert editable["editable"] and editable["provenance"]["kind"] == "editable"
    assert words.phrase(editable) == "editable install from a local source folder, installed by pip"
    numpy = dist(mixed_run, "numpy")
    assert (next(site.glob("numpy-*.dist-info")) / "INSTALLER").read_text().strip() == "uv"
    assert numpy["installer"] == "uv" and numpy["provenance"]["kind"] == "wheel"
    text = line(mixed_run, "numpy")
    assert re.match(rf"numpy {re.escape(numpy['version'])} — binary wheel from an index \(manylinux\S+\), "
                    r"installed by uv, bundles OpenBLAS", text), text
    report = markdown.render(Run.from_dict(dict(mixed_run)))
    assert "wheel built on this machine from an sdist (linux_x86_64)" in report and "installed by uv" in report


# ---- conda -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def conda_packages(tmp_path_factory):
    python = conda_prefix(tmp_path_factory.mktemp("conda") / "env")
    result = Target(python).run_tasks([Task("facts.packages")])[0]
    assert result.ok, result.error
    return result.data


def test_conda_records_channel_build_and_the_blas_behind_libcblas(conda_packages):
    dists = {d["name"]: d for d in conda_packages["distributions"]}
    numpy = dists["numpy"]["provenance"]
    # conda-forge builds with pip (linux tag, file:// direct_url): the conda record still decides
    assert numpy["kind"] == "conda" and numpy["platform"] == "linux_x86_64"
    assert numpy["owner"] == {"manager": "conda", "package": "numpy", "version": "1.26.4", "build": "py311h64a7726_0",
                              "channel": "conda-forge", "channel_family": "conda-forge"}
    torch = dists["torch"]["provenance"]
    assert torch["owner"]["package"] == "pytorch" and torch["owner"]["channel_family"] == "pytorch"
    assert dists["scipy"]["provenance"]["kind"] == "wheel"
    link = conda_packages["builds"]["numpy"]["links"][0]
    assert (link["needed"], link["library"], link["version"], link["origin"]) == ("libcblas.so.3", "OpenBLAS", "0.3.27", "conda")
    assert link["owner"]["package"] == "libcblas" and link["owner"]["build"] == "22_linux64_openblas"
    lines = dict(words.framework_lines({"packages": conda_packages}))
    assert lines["numpy"] == ("numpy 1.26.4 — conda package numpy py311h64a7726_0 from conda-forge; links "
                              "libcblas.so.3 → OpenBLAS 0.3.27 (conda libcblas 3.9.0 22_linux64_openblas)")
    assert lines["torch"] == "torch 2.3.1 — conda package pytorch py3.11_cpu_0 from pytorch"
    assert lines["scipy"].startswith("scipy 1.13.1 — binary wheel from an index (manylinux_2_17_x86_64), installed by pip, "
                                     "bundles OpenBLAS")


def test_a9_and_c9_use_conda_vs_pip_provenance(conda_packages):
    """The conda environment above with two OpenMP runtimes loaded and the BLAS_INFO conda-forge's macOS
    torch was once built with (conda-forge/pytorch-cpu-feedstock#403): C9 and A9 name the channels."""
    env = {"packages": conda_packages, "system": {"os": {"arch": "x86_64", "name": "Linux"}},
           "torch": {"installed": True, "version": "2.3.1", "config": {"build_settings": {"BLAS_INFO": "open"}}},
           "native_libs": {"openmp_runtimes": ["libgomp", "libiomp5"], "multiple_openmp": True, "libraries": []}}
    found = findings({"environment": env, "benchmarks": []})
    c9, a9 = found["C9"], found["A9"]
    assert c9["title"].startswith("PyTorch from conda (pytorch) uses BLAS_INFO=open")
    mix = "scipy (pip) next to numpy, torch (conda)"
    assert any(e.get("value") == f"native stack from two sources: {mix}" for e in c9["evidence"])
    assert any(e.get("value") == "conda package pytorch py3.11_cpu_0 from pytorch" for e in c9["evidence"])
    assert mix in a9["fix"] and any(mix in str(e.get("value")) for e in a9["evidence"])


# ---- the same package twice on sys.path ----------------------------------------------------------------------

def test_i1_names_the_copy_that_wins_and_who_installed_each(tmp_path):
    python = bare_venv(tmp_path / "venv")
    add_package(python, "numpy", "2.4.6", code="", installer="pip")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "numpy").mkdir()
    (earlier / "numpy" / "__init__.py").write_text("")
    info = earlier / "numpy-1.26.4.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.4\n")
    (info / "INSTALLER").write_text("uv\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_x86_64\n")
    result = Target(python).run_tasks([Task("facts.packages")], env_overrides={"PYTHONPATH": str(earlier)})[0]
    packages = result.data
    assert packages["shadowed"] == ["numpy"] and packages["duplicate_metadata"] == []
    record = packages["shadowing"][0]
    assert [c["version"] for c in record["copies"]] == ["1.26.4", "2.4.6"] and record["import_wins"] == 0
    assert [c["installer"] for c in record["copies"]] == ["uv", "pip"]
    i1 = findings({"environment": {"packages": packages}, "benchmarks": []})["I1"]
    assert i1["kind"] == "defect" and i1["severity"] == "low"
    assert "numpy 1.26.4 in another folder (wheel) wins over 2.4.6 in site-packages" in i1["title"]
    assert "pip uninstall" in i1["fix"]
    assert str(site_packages(python)) in json.dumps(packages["shadowing"])


# ---- compare: provenance is a diffed fact, attributed to the kernels it moves ------------------------------

def test_compare_diffs_provenance_and_attributes_it_to_numpy_kernels(debian_run, mixed_run):
    envs = [debian_run["environment"], mixed_run["environment"]]
    diff = diff_environments(envs)
    entry = next(e for s in diff["sections"] for e in s["differing"] if e["path"] == "packages[numpy].provenance")
    assert entry["values"][0].startswith("Debian package python3-numpy")
    assert entry["values"][1].startswith("binary wheel from an index")
    bench = {"id": "gemm/numpy/cpu/fp64/1024x1024x1024", "verdict": "slower", "op": "gemm", "framework": "numpy",
             "device": "cpu"}
    attribute([bench], diff, Run(), Run(), 0, 1)
    facts = {f["path"]: f for f in bench["attribution"]["facts"]}
    first = bench["attribution"]["facts"][0]         # where the build came from explains first
    assert first["path"] == "packages[numpy].provenance" and first["group"] == "numpy_provenance"
    assert any(p.startswith("packages.builds.numpy.links[blas:") for p in facts)  # Debian's link, absent in the wheel
    other = {"id": "gemm/torch/cpu/fp32/1024x1024x1024", "verdict": "slower", "op": "gemm", "framework": "torch",
             "device": "cpu"}
    attribute([other], diff, Run(), Run(), 0, 1)
    assert "packages[numpy].provenance" not in {f["path"] for f in other["attribution"]["facts"]}


# ---- C1 / D3 / E1 name the build on a GPU host --------------------------------------------------------------
# No GPU here: the host facts say one NVIDIA GPU (as stackprof.nvml reports one); the builds are real.

GPU_HOST = {"available": True, "count": 1, "devices": [{"index": 0, "name": "NVIDIA H100 80GB HBM3"}]}


def test_c1_names_the_cpu_only_index_build(wheels_run):
    env = dict(wheels_run["environment"], gpus=GPU_HOST)
    c1 = findings({"environment": env})["C1"]
    assert c1["title"].startswith("PyTorch 2.13.0+cpu is a CPU-only build (binary wheel from an index (manylinux")
    assert "PyTorch CPU-only build (download.pytorch.org/whl/cpu)" in c1["title"]
    assert any(e.get("fact") == "packages.distributions[torch].provenance" for e in c1["evidence"])
    assert "download.pytorch.org/whl/cu" in c1["fix"]


def test_e1_names_the_jaxlib_build_and_the_missing_cuda_plugin():
    from conftest import make_venv
    python = make_venv("jax", ["jax[cpu]==0.10.2"])      # the venv tests/bench/test_bench_jax.py uses
    packages = Target(python).run_tasks([Task("facts.packages")])[0].data
    jaxlib = next(d for d in packages["distributions"] if d["name"] == "jaxlib")
    assert jaxlib["provenance"]["kind"] == "wheel" and "jaxlib" in packages["builds"]
    env = {"packages": packages, "gpus": GPU_HOST, "jax": {"installed": True, "version": "0.10.2", "backend": "cpu"}}
    e1 = findings({"environment": env})["E1"]
    assert e1["title"] == ("JAX runs on the CPU on a machine with NVIDIA GPUs (jaxlib: " + words.phrase(jaxlib)
                           + "; no jax-cuda*/jax-rocm* CUDA wheels installed)")


def test_d3_names_tensorflow_cpu(tmp_path):
    """TensorFlow's CPU-only package, as `pip install tensorflow-cpu` records it (dist-info written by the
    test: the real package is a 250 MB download)."""
    python = bare_venv(tmp_path / "venv")
    info = add_package(python, "tensorflow-cpu", "2.21.0", installer="pip", requested=True)
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_x86_64\n")
    packages = Target(python).run_tasks([Task("facts.packages")])[0].data
    env = {"packages": packages, "gpus": GPU_HOST,
           "tensorflow": {"installed": True, "version": "2.21.0", "devices": [{"name": "/physical_device:CPU:0"}]}}
    d3 = findings({"environment": env})["D3"]
    assert "(tensorflow-cpu: binary wheel from an index (manylinux_2_17_x86_64), Google CPU-only TensorFlow" in d3["title"]
    assert "no nvidia* CUDA wheels installed" in d3["title"]


def test_a1_names_a_local_build(mixed_run):
    """numpy compiled here from its sdist against the reference BLAS (what `pip install --no-binary numpy`
    gives where only libblas-dev is installed): the real local-build record of this venv's sdist build,
    given to numpy, and numpy's build config naming the generic "blas"."""
    env = json.loads(json.dumps(mixed_run["environment"]))
    local = dist({"environment": env}, "markupsafe")["provenance"]
    dist({"environment": env}, "numpy")["provenance"] = local
    env["numpy"]["blas"] = {"name": "blas", "found": True}
    a1 = findings({"environment": env})["A1"]
    assert a1["title"].startswith(f"numpy {env['numpy']['version']}, wheel built on this machine from an sdist (linux_x86_64)")
    assert "--only-binary=:all:" in a1["fix"]


def test_a1_is_silent_when_alternatives_point_at_openblas(debian_run):
    """`apt-get install libopenblas0-pthread` makes libblas.so.3 resolve to OpenBLAS while numpy's build
    config still says "blas": the link (as the probe reports that layout) decides, not the name."""
    env = json.loads(json.dumps(debian_run["environment"]))
    link = next(l for l in env["packages"]["builds"]["numpy"]["links"] if l["needed"] == "libblas.so.3")
    link.update(real_path="/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3", library="OpenBLAS (pthreads)",
                owner={"manager": "dpkg", "package": "libopenblas0-pthread", "version": "0.3.21+ds-4"})
    assert env["numpy"]["blas"]["name"] == "blas"
    assert "A1" not in findings({"environment": env})

"""The file readers behind build provenance, each checked against the tool it replaces on this real
machine: readelf for the ELF dynamic section, ldconfig -p for the loader cache, the dynamic loader
itself for RPATH/RUNPATH/LD_LIBRARY_PATH order, dpkg -S / dpkg-query / update-alternatives for Debian's
database. Skipped only where that tool is absent (another OS)."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from probe_modules import load_probe

elf = load_probe("facts._elf")
linkage = load_probe("facts._linkage")
dpkg_mod = load_probe("facts._dpkg")
wheel = load_probe("facts._wheel")
vendor = load_probe("facts._vendor")
libraries = load_probe("facts._libraries")
provenance = load_probe("facts._provenance")

CC = shutil.which("gcc") or shutil.which("cc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler to build test libraries")


def compile_so(out: Path, *flags: str) -> Path:
    src = out.parent / "stub.c"
    src.write_text("int stackprof_stub(void) { return 7; }\n")
    subprocess.run([CC, "-shared", "-fPIC", "-o", str(out), str(src), *flags], check=True, capture_output=True)
    return out


def readelf_dynamic(path: Path) -> dict:
    text = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    out = {"needed": re.findall(r"\(NEEDED\).*\[(.*)\]", text)}
    for tag, key in (("SONAME", "soname"), ("RPATH", "rpath"), ("RUNPATH", "runpath")):
        found = re.search(r"\(%s\).*\[(.*)\]" % tag, text)
        out[key] = found.group(1) if found else None
    return out


# ---- ELF ---------------------------------------------------------------------------------------------

@needs_cc
@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) not installed")
def test_elf_dynamic_section_agrees_with_readelf(tmp_path):
    files = [compile_so(tmp_path / "libprovx.so.1", "-Wl,-soname,libprovx.so.1", "-lm", "-Wl,--no-as-needed",
                        "-Wl,-rpath,$ORIGIN/../lib:/opt/x", "-Wl,--enable-new-dtags"),
             compile_so(tmp_path / "libprovy.so", "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN")]
    files += [Path(p) for p in ("/usr/lib/python3/dist-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
                                os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6")) if os.path.exists(p)]
    for path in files:
        ours = elf.read(str(path))
        assert ours is not None, path
        assert {k: ours[k] for k in ("needed", "soname", "rpath", "runpath")} == readelf_dynamic(path), path
    assert elf.read(str(files[0]))["runpath"] == "$ORIGIN/../lib:/opt/x"
    assert elf.read(str(files[1]))["rpath"] == "$ORIGIN" and elf.read(str(files[1]))["runpath"] is None


def test_elf_reader_refuses_what_is_not_elf(tmp_path):
    (tmp_path / "text.so").write_text("not a shared object")
    (tmp_path / "short.so").write_bytes(b"\x7fELF\x02")
    assert elf.read(str(tmp_path / "text.so")) is None
    assert elf.read(str(tmp_path / "short.so")) is None
    assert elf.read(str(tmp_path / "absent.so")) is None


# ---- the loader's search ------------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/etc/ld.so.cache").exists() or shutil.which("ldconfig") is None,
                    reason="no glibc loader cache here")
def test_ld_cache_agrees_with_ldconfig():
    ours = linkage.read_ld_cache()
    listed = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    theirs: dict[str, set] = {}
    for line in listed.splitlines()[1:]:
        found = re.match(r"\s*(\S+) \(.*\) => (\S+)", line)
        if found:
            theirs.setdefault(found.group(1), set()).add(found.group(2))
    assert theirs and {k: set(v) for k, v in ours.items()} == theirs


LOADED = ("import ctypes, sys\nctypes.CDLL(sys.argv[1])\n"
          "print([l.split()[-1] for l in open('/proc/self/maps') if 'libprovdep' in l][0])\n")


@needs_cc
@pytest.mark.parametrize("dtags", ["--enable-new-dtags", "--disable-new-dtags"])
def test_resolver_finds_what_the_dynamic_loader_loads(tmp_path, dtags):
    """Two copies of one library, one where the extension's RPATH/RUNPATH points and one on
    LD_LIBRARY_PATH: glibc takes DT_RPATH before LD_LIBRARY_PATH and LD_LIBRARY_PATH before DT_RUNPATH.
    The real loader (a subprocess loading the file, /proc/self/maps) is the judge."""
    for folder in ("rpath_dir", "env_dir"):
        (tmp_path / folder).mkdir()
        compile_so(tmp_path / folder / "libprovdep.so.1", "-Wl,-soname,libprovdep.so.1")
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    ext = compile_so(tmp_path / "pkg" / "sub" / "ext.so", "-Wl,--no-as-needed", str(tmp_path / "rpath_dir" / "libprovdep.so.1"),
                     f"-Wl,{dtags}", "-Wl,-rpath,$ORIGIN/../../rpath_dir")
    env = {"LD_LIBRARY_PATH": str(tmp_path / "env_dir")}
    loaded = subprocess.run([sys.executable, "-c", LOADED, str(ext)], capture_output=True, text=True, check=True,
                            env=dict(os.environ, **env)).stdout.strip()
    found, how = linkage.Resolver(env=env).find("libprovdep.so.1", str(ext))
    assert os.path.realpath(found) == os.path.realpath(loaded)
    assert how == ("rpath" if dtags == "--disable-new-dtags" else "LD_LIBRARY_PATH")
    found, how = linkage.Resolver(env={}).find("libprovdep.so.1", str(ext))
    assert os.path.realpath(found) == str(tmp_path / "rpath_dir" / "libprovdep.so.1")
    assert linkage.Resolver(env={}).find("libprovdep-absent.so.1", str(ext)) == (None, "not found")


def test_symlink_chain_reports_every_hop(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "libz.so.3.11.0").write_bytes(b"x")
    os.symlink("libz.so.3.11.0", tmp_path / "real" / "libz.so.3")
    os.symlink(str(tmp_path / "real" / "libz.so.3"), tmp_path / "alt")
    os.symlink(str(tmp_path / "alt"), tmp_path / "libz.so.3")
    hops = linkage.chain(str(tmp_path / "libz.so.3"))
    assert hops == [str(tmp_path / "libz.so.3"), str(tmp_path / "alt"), str(tmp_path / "real" / "libz.so.3"),
                    str(tmp_path / "real" / "libz.so.3.11.0")]
    assert linkage.alternative_name(["/usr/lib/x/libblas.so.3", "/etc/alternatives/libblas.so.3-x86_64-linux-gnu",
                                     "/usr/lib/x/blas/libblas.so.3"]) == "libblas.so.3-x86_64-linux-gnu"


# ---- Debian's database -----------------------------------------------------------------------------

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None or not Path("/var/lib/dpkg/status").exists(),
                                reason="not a dpkg-based system")


@needs_dpkg
def test_dpkg_owners_and_versions_agree_with_dpkg():
    paths = [os.path.realpath(shutil.which("ls")), "/usr/bin/dpkg", os.path.realpath("/etc/ld.so.conf") + ".absent"]
    db = dpkg_mod.Dpkg()
    owners = db.owners(paths, guesses=["coreutils"])
    for path in paths:
        # usrmerge: dpkg lists /bin/ls while the file is reached as /usr/bin/ls; dpkg -S answers only
        # for the name it lists, so ask it for both spellings, as the probe does
        for spelling in dpkg_mod._variants(path):
            proc = subprocess.run(["dpkg", "-S", spelling], capture_output=True, text=True)
            if proc.returncode == 0:
                break
        if proc.returncode != 0:                     # dpkg knows no owner: neither do we
            assert owners[path] is None, path
            continue
        package = proc.stdout.split(":")[0].strip()
        assert owners[path] and owners[path].split(":")[0] == package, (path, owners[path], proc.stdout)
        version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True,
                                 text=True, check=True).stdout
        assert db.package(owners[path])["version"] == version


@needs_dpkg
@pytest.mark.skipif(shutil.which("update-alternatives") is None, reason="no update-alternatives")
def test_alternatives_record_agrees_with_update_alternatives():
    names = sorted(os.listdir("/var/lib/dpkg/alternatives"))[:40]
    assert names, "a Debian system has alternatives (editor, pager…)"
    db = dpkg_mod.Dpkg()
    for name in names:
        text = subprocess.run(["update-alternatives", "--query", name], capture_output=True, text=True).stdout
        if not text:
            continue
        ours = db.alternative(name)
        mode = re.search(r"^Status: (\S+)", text, re.M).group(1)
        theirs = [{"path": p, "priority": int(q)} for p, q in
                  re.findall(r"^Alternative: (\S+)\nPriority: (-?\d+)", text, re.M)]
        assert ours["mode"] == mode and sorted(ours["choices"], key=str) == sorted(theirs, key=str), name


# ---- wheels, versions, vendors ----------------------------------------------------------------------

def test_wheel_tags_and_what_they_say():
    text = "Wheel-Version: 1.0\nGenerator: meson\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_27_x86_64\n" \
           "Tag: cp311-cp311-manylinux_2_28_x86_64\n"
    assert wheel.tags(text) == ["cp311-cp311-manylinux_2_27_x86_64", "cp311-cp311-manylinux_2_28_x86_64"]
    assert wheel.platform(wheel.tags(text)) == "manylinux_2_27_x86_64" and wheel.generator(text) == "meson"
    cases = {"manylinux2014_x86_64": "portable", "musllinux_1_2_aarch64": "portable", "linux_x86_64": "local",
             "linux_aarch64": "local", "any": "pure", "macosx_14_0_arm64": "unknown", "win_amd64": "unknown",
             None: "unknown"}
    assert {p: wheel.portability(p) for p in cases} == cases


def test_direct_url_kinds_follow_pep_610():
    # the examples of PEP 610 ("Recording the Direct URL Origin of installed distributions")
    assert wheel.direct_source({"url": "https://github.com/pypa/pip.git",
                                "vcs_info": {"vcs": "git", "commit_id": "7921be1537eac1e97bc40179a57f0349c2aee67d"}}) == "vcs"
    assert wheel.direct_source({"url": "https://github.com/pypa/pip/archive/1.3.1.zip",
                                "archive_info": {"hash": "sha256=2dc6b5a470a1bde68946f263f1af1515a2574a150a30d6ce02c6ff742fcc0db8"}}) == "sdist"
    assert wheel.direct_source({"url": "file:///home/user/project", "dir_info": {"editable": True}}) == "editable"
    assert wheel.direct_source({"url": "file:///home/user/project", "dir_info": {}}) == "directory"
    assert wheel.direct_source({"url": "file:///tmp/numpy-2.0.0-cp311-cp311-linux_x86_64.whl", "archive_info": {}}) \
        == "wheel-file"
    assert wheel.direct_source(None) is None


def test_native_files_of_a_real_record_match_a_csv_reading(venv_torch):
    site = next(Path(venv_torch).parent.parent.glob("lib/python*/site-packages"))
    record = next(site.glob("torch-*.dist-info")) / "RECORD"
    text = record.read_text()
    theirs = [row[0] for row in csv.reader(io.StringIO(text)) if row and wheel.NATIVE.search(row[0])]
    assert wheel.native_files(text) == theirs and any(p.endswith("libgomp.so.1") for p in theirs)


def test_vendor_table_rows_match_their_documented_versions():
    examples = {  # (distribution, version as its source spells it) -> row id
        ("torch", "2.3.0a0+6ddf5cf85e.nv24.04"): "nvidia",       # NGC 24.04 (pytorch/pytorch#123955)
        ("tensorflow", "2.14.0+nv23.11"): "nvidia-tf",
        ("torch", "2.4.0a0+git1234abc"): "source-git",             # tools/generate_torch_version.py
        ("torch", "2.13.0+cpu"): "pytorch-cpu", ("torchvision", "0.18.0+cpu.cxx11.abi"): "pytorch-cpu",
        ("torch", "2.5.1+cu121"): "pytorch-cuda", ("torch", "2.4.1+rocm6.1"): "pytorch-rocm",
        ("torch", "2.5.0+xpu"): "pytorch-xpu", ("intel-extension-for-pytorch", "2.3.110+xpu"): "intel-extension",
        ("jaxlib", "0.4.13+cuda12.cudnn89"): "jaxlib-cuda", ("torch", "2.11.0+computecanada"): "computecanada",
        ("tensorflow-cpu", "2.16.1"): "tensorflow-cpu", ("tensorflow-macos", "2.16.2"): "apple",
    }
    for (name, version), row in examples.items():
        found = vendor.match(name, version)
        assert found and found["id"] == row, (name, version, found)
    assert vendor.match("torch", "2.5.1+cu121")["build"] == "CUDA 12.1 build (download.pytorch.org/whl/cu121)"
    assert vendor.match("jaxlib", "0.4.13+cuda12.cudnn89")["build"].startswith("CUDA 12 / cuDNN 8.9")
    for name, version in (("numpy", "2.4.6"), ("torch", "2.13.0"), ("numpy", "1:1.24.2"), ("scipy", "1.13.1+cpu")):
        assert vendor.match(name, version) is None, (name, version)


def test_library_names_and_implementations():
    assert libraries.classify("libscipy_openblas64_-32a4b2a6.so") == ("blas", "OpenBLAS")
    assert libraries.classify("libblas.so.3") == ("blas", None) and libraries.classify("libjpeg.so.8") is None
    assert libraries.classify("libomp.so") == ("openmp", "LLVM OpenMP (libomp)")
    assert libraries.classify("libcudnn.so.9") == ("cuda", "cuDNN")
    assert libraries.version_from_name("libopenblas64_p-r0.3.23-293-gc2f4bdbb.so") == "0.3.23"
    assert libraries.version_from_name("libcudnn.so.9.1.0") == "9.1.0"
    assert libraries.version_from_name("libgomp.so.1") is None
    assert libraries.version_from_name("libquadmath-96973f99-934c22de.so.0.0.0") is None
    impl = libraries.implementation
    assert impl("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0") == "reference BLAS (Netlib)"
    assert impl("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3") == "OpenBLAS (pthreads)"
    assert impl("/env/lib/libopenblasp-r0.3.27.so") == "OpenBLAS"
    assert impl("/env/lib/libcblas.so.3", None, "5_h92ddd45_netlib") == "reference BLAS (Netlib)"
    assert impl("/usr/lib64/libblas.so.3", {"package": "flexiblas"}) == "FlexiBLAS"


def test_conda_channel_families():
    family = provenance.channel_family
    assert family("conda-forge") == "conda-forge" and family("pkgs/main") == "defaults"
    assert family("nvidia/label/cuda-12.1.0") == "nvidia" and family("pytorch-nightly") == "pytorch"
    assert family("https://software.repos.intel.com/python/conda") == "intel"
    assert family("https://my.mirror/channel") == "other" and family(None) is None


def test_decision_order_on_single_facts():
    def decide(**entry):
        return provenance.decide(dict({"name": "pkg", "version": "1.0", "installer": "pip", "metadata_kind": "dist-info"},
                                      **entry), entry.pop("_wheel", None), entry.pop("_direct", None), None)
    local = "Tag: cp311-cp311-linux_x86_64\n"
    assert decide(_wheel="Tag: cp311-cp311-manylinux_2_28_x86_64\n")["kind"] == "wheel"
    assert decide(_wheel=local)["kind"] == "local-build"
    assert decide(name="torch", version="2.0.0+cpu", _wheel=local)["kind"] == "wheel"     # old PyTorch CPU index
    assert decide(name="torch", version="2.3.0a0+6ddf5cf85e.nv24.04", _wheel=local)["kind"] == "vendor"
    assert decide(installer="conda", _wheel=local)["kind"] == "conda"
    assert decide(installer="rpm")["owner"] == {"manager": "rpm", "package": None, "version": None}
    assert decide(installer=None, metadata_kind="egg-info")["source"] == "setup.py"
    assert decide(installer=None)["kind"] == "unknown" and "no WHEEL file" in decide(installer=None)["why"]
    vcs = {"url": "https://github.com/x/y.git", "vcs_info": {"vcs": "git", "commit_id": "abc1234def"}}
    found = decide(_wheel=local, _direct=vcs)
    assert found["kind"] == "local-build" and found["source"] == "vcs" and found["commit"] == "abc1234def"

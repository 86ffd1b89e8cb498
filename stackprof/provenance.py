"""Build provenance in words: where each distribution came from (one short phrase) and, per framework
build, the one line a user reads first — "numpy 1.24.2 — Debian package python3-numpy 1:1.24.2-1;
links libblas.so.3 → /etc/alternatives → reference BLAS (Netlib) (libblas3 3.11.0-2)".

Reads the probe's facts (packages.distributions[].provenance, packages.builds) and joins them with
what the process really loaded (native_libs.libraries) and the framework sections. Pure functions
over the Run's environment dict: used by the renderers, the environment diff and the rules alike.
"""
from __future__ import annotations

import os

KINDS = ("wheel", "local-build", "editable", "conda", "distribution", "vendor", "unknown")
SHOWN_KINDS = ("blas", "lapack", "openmp", "dnn", "cuda", "rocm")      # bundled/linked libraries worth a word
DISTRO_NAMES = {"dpkg": "Debian package", "rpm": "RPM package"}
SOURCE_WORDS = {"sdist": "from an sdist", "vcs": "from a VCS checkout", "directory": "from a local source folder",
                "archive": "from an archive", "checkout": "from a source checkout", "setup.py": "with setup.py install"}


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def distributions(environment: dict) -> dict[str, dict]:
    """name -> the distribution that wins (the first copy on sys.path)."""
    out: dict[str, dict] = {}
    for dist in _list(_dict(_dict(environment).get("packages")).get("distributions")):
        if isinstance(dist, dict) and isinstance(dist.get("name"), str) and not dist.get("shadowed"):
            out.setdefault(dist["name"], dist)
    return out


def builds(environment: dict) -> dict[str, dict]:
    return {k: v for k, v in _dict(_dict(_dict(environment).get("packages")).get("builds")).items()
            if isinstance(v, dict)}


def kind(dist: dict) -> str | None:
    value = _dict(dist.get("provenance")).get("kind")
    return value if value in KINDS else None


def phrase(dist: dict) -> str:
    """Where one distribution came from, in a few words (no name, no version)."""
    prov = _dict(dist.get("provenance"))
    k = prov.get("kind")
    platform = prov.get("platform")
    vendor = _dict(prov.get("vendor"))
    owner = _dict(prov.get("owner"))
    installer = dist.get("installer")
    by = f", installed by {installer}" if installer and k in ("wheel", "local-build", "editable") else ""
    if k == "conda":
        if not owner:
            return "conda package (no conda-meta record)"
        family = owner.get("channel_family")
        channel = owner.get("channel") or "unknown channel"
        where = channel if family in (None, "other") or family == channel else f"{channel} ({family})"
        return f"conda package {owner.get('package') or dist.get('name')} {owner.get('build') or ''} from {where}" \
            .replace("  ", " ")
    if k == "distribution":
        manager = owner.get("manager") or "?"
        if not owner.get("package"):
            return f"distribution package ({manager}), owner unknown"
        return f"{DISTRO_NAMES.get(manager, manager + ' package')} {owner['package']} {owner.get('version') or ''}".strip()
    if k == "editable":
        return "editable install " + SOURCE_WORDS.get(prov.get("source"), "from a local source folder") + by
    if k == "vendor":
        return f"vendor build: {vendor.get('build') or prov.get('why') or '?'}"
    if k == "local-build":
        if vendor.get("origin") == "source":
            return f"{vendor.get('vendor')} {vendor.get('build')}{by}"
        words = SOURCE_WORDS.get(prov.get("source"), "from source")
        commit = prov.get("commit")
        tag = f" ({platform})" if platform else ""
        return f"wheel built on this machine {words}{' ' + commit[:10] if commit else ''}{tag}{by}" \
            if prov.get("source") != "setup.py" else f"built on this machine {words} (egg-info){by}"
    if k == "wheel":
        if platform == "any":
            text = "pure-Python wheel"
        elif prov.get("source") == "wheel-file":
            text = f"binary wheel installed from a file ({platform})"
        else:
            text = f"binary wheel from an index ({platform})" if platform else "binary wheel from an index"
        if vendor:
            text += f", {vendor.get('vendor')} {vendor.get('build')}"
        return text + by
    why = prov.get("why")
    return "unknown origin" + (f": {why}" if why else "")


def framework_lines(environment: dict) -> list[tuple[str, str]]:
    """One (name, line) per framework build the probe examined, in a stable order."""
    env = _dict(environment)
    dists = distributions(env)
    out = []
    for name, build in sorted(builds(env).items()):
        dist = dists.get(name) or {"name": name, "version": build.get("version")}
        out.append((name, line(name, dist, build, env)))
    return out


def line(name: str, dist: dict, build: dict, environment: dict) -> str:
    parts = [phrase(dist)]
    parts += _accelerator(name, dist, environment)
    bundled = _bundled(build, environment) + _static(name, environment)
    if bundled:
        parts.append("bundles " + ", ".join(bundled))
    shown = [link for link in _list(build.get("links")) if isinstance(link, dict) and link.get("kind") in SHOWN_KINDS]
    shown.sort(key=lambda link: SHOWN_KINDS.index(link["kind"]))
    links = [link_text(link, environment) for link in shown]
    text = f"{name} {dist.get('version') or build.get('version') or '?'} — " + ", ".join(p for p in parts if p)
    if links:
        text += "; links " + ", ".join(links)
    missing = [m for m in _list(build.get("missing")) if isinstance(m, str)]
    if missing:
        text += "; cannot find " + ", ".join(missing[:4])
    return text


def _accelerator(name: str, dist: dict, environment: dict) -> list[str]:
    """What the build targets when the framework section says it and the vendor table did not."""
    vendor = _dict(_dict(dist.get("provenance")).get("vendor"))
    if name != "torch" or vendor.get("accelerator"):
        return []
    torch = _dict(_dict(environment).get("torch"))
    cuda = _dict(torch.get("cuda"))
    if "built_version" not in cuda:
        return []
    if cuda.get("built_version"):
        return [f"CUDA {cuda['built_version']} build"]
    if torch.get("hip_version"):
        return [f"ROCm {torch['hip_version']} build"]
    return ["CPU-only build"]


def _bundled(build: dict, environment: dict) -> list[str]:
    out = []
    for item in _list(build.get("bundled")):
        if not isinstance(item, dict) or item.get("kind") not in SHOWN_KINDS:
            continue
        loaded = _loaded_library(environment, [item.get("file") or ""], suffix=True)
        version = item.get("version") or (loaded or {}).get("version")
        text = str(item.get("library") or item.get("file"))
        out.append(f"{text} {version}" if version else text)
    return list(dict.fromkeys(out))


def _static(name: str, environment: dict) -> list[str]:
    """Libraries linked into the framework's own binaries, which no file listing shows: PyTorch's
    MKL and oneDNN (torch.__config__.show())."""
    if name != "torch":
        return []
    config = _dict(_dict(_dict(environment).get("torch")).get("config"))
    out = []
    if config.get("mkl_version"):
        out.append(f"Intel MKL {config['mkl_version']} (static)")
    if config.get("mkldnn_version"):
        out.append(f"oneDNN {config['mkldnn_version']} (static)")
    return out


def link_text(link: dict, environment: dict) -> str:
    """"libblas.so.3 → /etc/alternatives → reference BLAS (Netlib) (libblas3 3.11.0-2) [loaded]"."""
    via = [p for p in _list(link.get("via")) if isinstance(p, str)]
    hops = [link.get("needed") or "?"]
    if any(p.startswith("/etc/alternatives/") for p in via):
        hops.append("/etc/alternatives")
    owner = _dict(link.get("owner"))
    label = link.get("library") or os.path.basename(str(link.get("real_path") or "?"))
    version = link.get("version")
    if version and not str(owner.get("version") or "").split(":", 1)[-1].startswith(str(version)):
        label = f"{label} {version}"              # OpenBLAS 0.3.27 behind conda's libcblas 3.9.0
    detail = ""
    if owner.get("package"):
        manager = owner.get("manager")
        detail = f"{owner['package']} {owner.get('version') or ''}".strip()
        if manager == "conda":
            detail = f"conda {detail} {owner.get('build') or ''}".strip()
        elif manager == "python":
            detail = f"wheel {detail}"
    alternative = _dict(link.get("alternative"))
    if alternative.get("mode") == "manual":
        detail = (detail + ", " if detail else "") + "chosen manually"
    hops.append(label + (f" ({detail})" if detail else ""))
    text = " → ".join(hops)
    loaded = _loaded_library(environment, [link.get("path"), link.get("real_path")] + via)
    if loaded is not None:
        text += " [loaded]"
    return text


def _loaded_library(environment: dict, paths: list, suffix: bool = False) -> dict | None:
    """The native_libs record of a file the process really loaded, matched by path (or by the end of
    the path for a bundled file, whose site folder the build record does not repeat)."""
    wanted = [str(p) for p in paths if p]
    for lib in _list(_dict(_dict(environment).get("native_libs")).get("libraries")):
        path = str(_dict(lib).get("filepath") or "")
        if not path:
            continue
        if any(path == w or (suffix and path.endswith("/" + w)) for w in wanted):
            return lib
    return None


def link_of(build: dict, kinds=("blas",)) -> dict | None:
    """The first link of one of these kinds (the BLAS a framework resolves to)."""
    for link in _list(build.get("links")):
        if isinstance(link, dict) and link.get("kind") in kinds:
            return link
    return None

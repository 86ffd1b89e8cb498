"""What a framework build carries and what it links to, for the few distributions whose native code
decides speed (numpy, scipy, torch, jaxlib, tensorflow*): the native libraries it bundles (its
RECORD, or its folders when it has none) versus the libraries its extension modules resolve to
outside it, each with the symlink chain (through /etc/alternatives), the real file, the package that
owns it and the implementation behind a generic libblas.so.3. When the framework is already
imported in this process, each link also says whether that file is mapped (/proc/self/maps)."""
import os
import re
import sys

from . import _libraries, _linkage, _native, _wheel

FRAMEWORKS = re.compile(r"(numpy|scipy|torch|jaxlib|tensorflow(-\w+)?|intel-tensorflow|tf-nightly|"
                        r"jax-cuda\d+-plugin|jax-cuda\d+-pjrt)\Z")
# The C and C++ runtime every native file needs: never a provenance question.
BASE = re.compile(r"(libc|libm|libdl|libpthread|librt|libutil|libresolv|libnsl|libstdc\+\+|libgcc_s|libatomic|"
                  r"ld-linux[\w.-]*|ld64|libz)\.so")
MAX_FILES = 400


def matters(name):
    return bool(FRAMEWORKS.match(name or ""))


def examine(dist, location, resolver, owners):
    """The build record of one framework distribution, with owner questions queued on `owners`
    (finish() reads the answers after owners.resolve())."""
    top_levels = [t.strip() for t in (dist.read_text("top_level.txt") or "").split() if t.strip()]
    record = dist.read_text("RECORD")
    relative = _wheel.native_files(record) if record else _wheel.walk_native(location, top_levels or [])
    files = [os.path.normpath(os.path.join(location, r)) for r in relative]
    own = set(os.path.realpath(f) for f in files)
    bundled = []
    for rel in relative:
        found = _libraries.classify(rel)
        if found and not _wheel.is_extension(rel):
            bundled.append({"name": "%s:%s" % (found[0], os.path.basename(rel)), "file": rel, "kind": found[0],
                            "library": found[1] or os.path.basename(rel),
                            "version": _libraries.version_from_name(rel)})
    links, missing, cache = {}, [], {}
    for path in files[:MAX_FILES]:
        info = resolver.elf(path)
        for needed in (info or {}).get("needed") or []:
            if BASE.match(needed):
                continue
            key = (needed, os.path.dirname(path), info.get("runpath"), info.get("rpath"))
            if key not in cache:
                cache[key] = resolver.find(needed, path)
            found, how = cache[key]
            if found is None:
                if needed not in missing:
                    missing.append(needed)
                continue
            real = os.path.realpath(found)
            if real in own:
                continue
            kind, label = _libraries.classify(needed) or _libraries.classify(real) or (None, None)
            if kind not in _libraries.NOTABLE:
                continue                        # libjpeg, libz…: not a question of speed
            if real not in links:
                links[real] = _link(needed, found, how, real, kind, label, owners)
            links[real]["users"] += 1
    return {"files": len(files), "elf_read": min(len(files), MAX_FILES), "bundled": bundled,
            "links": list(links.values()),
            "missing": missing[:20], "_tops": top_levels}


def _link(needed, found, how, real, kind, label, owners):
    hops = _linkage.chain(found)
    owners.want(real, _libraries.guesses(real, needed))
    for hop in hops[1:-1]:
        owners.want(hop)
    return {"name": "%s:%s" % (kind, needed), "needed": needed, "path": found, "found_by": how,
            "real_path": real,
            "via": [h for h in hops[1:-1] if h != real], "alternative": _linkage.alternative_name(hops),
            "kind": kind, "library": label, "version": _libraries.version_from_name(real), "owner": None,
            "origin": None, "loaded": None, "users": 0, "_hops": hops}


def finish(build, owners, dpkg, framework_modules):
    """Fill owners, implementations, alternatives and run-time loading once owners are resolved."""
    mapped = None
    if any(m in sys.modules for m in framework_modules):
        mapped = set(os.path.realpath(p) for p in (_native.mapped_paths() or []))
    for link in build["links"]:
        hops = link.pop("_hops")
        owner = owners.of(link["real_path"], hops)
        link["owner"] = owner
        link["origin"] = _origin(link["real_path"], owner)
        if link["kind"] in ("blas", "lapack"):
            link["library"] = _libraries.implementation(link["real_path"], owner, (owner or {}).get("build")) \
                or link["library"] or "unknown implementation (%s)" % link["needed"]
        if link["alternative"]:
            link["alternative"] = dpkg.alternative(link["alternative"]) or {"name": link["alternative"]}
        if mapped is not None:
            link["loaded"] = link["real_path"] in mapped
        if not link["version"] and owner and owner.get("manager") == "python":
            link["version"] = owner["version"]     # nvidia-cudnn-cu12 9.1.0.70 for libcudnn.so.9
    build.pop("_tops", None)
    return build


def _origin(real, owner):
    """system | conda | python-package | other."""
    manager = (owner or {}).get("manager")
    if manager in ("dpkg", "rpm"):
        return "system"
    if manager == "conda":
        return "conda"
    if manager == "python":
        return "python-package"
    if re.match(r"/(usr/)?(lib|lib64)/", real):
        return "system"
    return "other"

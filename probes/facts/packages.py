"""Every installed distribution with how it got there, read from metadata on disk (never pip/conda):
dist-info INSTALLER / REQUESTED / direct_url.json / WHEEL, conda-meta/*.json, dpkg's database, the
folder it lives in; a provenance per distribution (_provenance.py) and, for the frameworks whose
native code decides speed, what the build bundles and links to (_builds.py). Costly reads (dpkg's
lists, RECORD files, ELF headers) happen only for the distributions that need them."""
import glob
import importlib.util
import json
import os
import re
import site
import sys

from . import _builds, _dpkg, _linkage, _owners, _provenance
from ._framework import one_line

try:
    import importlib.metadata as metadata
except ImportError:  # pragma: no cover - Python < 3.8 is refused by the runner
    metadata = None


def canonical(name):
    return re.sub(r"[-_.]+", "-", name or "").lower()


def collect(ctx):
    errors = []
    conda = _conda_records(errors)
    by_dist_dir = {}
    for record in conda:
        for dist_dir in record["_dist_dirs"]:
            by_dist_dir[dist_dir] = record
    user_site = _user_site()
    dists, seen, locations = [], set(), {}
    for dist in metadata.distributions():
        try:
            entry = _describe(dist, user_site, by_dist_dir)
        except Exception as exc:  # one unreadable dist-info must not lose the list
            errors.append("packages: %s: %s: %s" % (getattr(dist, "_path", "?"), type(exc).__name__, exc))
            continue
        if entry["name"] in seen:
            entry["shadowed"] = True            # an earlier sys.path entry has the same distribution
        seen.add(entry["name"])
        entry["_dist"] = dist
        path = entry["_location"]
        if path:
            loc = locations.setdefault(path, {"path": path, "kind": entry["location_kind"], "count": 0})
            loc["count"] += 1
        dists.append(entry)
    builds = _provenance_and_builds(dists, conda, errors)
    shadowing, duplicates = _shadowing(dists)
    for d in dists:
        if d.get("shadowed") and d["name"] in duplicates:
            del d["shadowed"]                   # two metadata folders of one install, not a second copy
    dists.sort(key=lambda d: (d["name"], bool(d.get("shadowed"))))
    installers = {}
    for d in dists:
        key = d["installer"] or "unknown"
        installers[key] = installers.get(key, 0) + 1
    for d in dists:
        for key in [k for k in d if k.startswith("_")]:
            del d[key]
    facts = {
        "count": len(dists),
        "distributions": dists,
        "installers": installers,
        "shadowed": sorted(s["name"] for s in shadowing),
        "shadowing": shadowing,
        "duplicate_metadata": sorted(duplicates),
        "locations": list(locations.values()),
        "conda_packages": [dict((k, r[k]) for k in ("name", "version", "build", "channel")) for r in conda],
        "builds": builds,
    }
    if errors:
        facts["errors"] = errors
    return facts


def _provenance_and_builds(dists, conda, errors):
    """A provenance on every distribution; a build record for each framework. The OS package
    database is asked once, for all of them together."""
    dpkg = _dpkg.Dpkg()
    dists_at = {}
    for d in dists:
        if d["_location"]:
            dists_at.setdefault(d["_location"], []).append((d["name"], d["_dist"]))
    prefix = sys.prefix if conda else None
    owners = _owners.Owners(dpkg, [dict(r, files=r["_files"]) for r in conda], prefix, dists_at)
    asked = set()
    for d in dists:
        if d["_path"] and _provenance.needs_owner(d) and _system_location(d["_location"], conda):
            asked.add(d["_path"])
            owners.want(d["_path"], _python_guesses(d))
    resolver, builds, pending = _linkage.Resolver(), {}, []
    for d in dists:
        if d.get("shadowed") or not _builds.matters(d["name"]) or not d["_location"]:
            continue
        try:
            pending.append((d, _builds.examine(d["_dist"], d["_location"], resolver, owners)))
        except Exception as exc:
            errors.append("packages: build of %s: %s" % (d["name"], one_line(exc)))
    try:
        owners.resolve()
    except Exception as exc:
        errors.append("packages: package database: %s" % one_line(exc))
    for d in dists:
        try:
            owner = owners.system(d["_path"]) if d["_path"] in asked else None
            d["provenance"] = _provenance.decide(d, d["_dist"].read_text("WHEEL"), d["_direct"], owner)
        except Exception as exc:
            errors.append("packages: provenance of %s: %s" % (d["name"], one_line(exc)))
            d["provenance"] = {"kind": "unknown", "why": one_line(exc)}
    for d, build in pending:
        try:
            tops = build.get("_tops") or [d["name"]]
            build = _builds.finish(build, owners, dpkg, tops)
            builds[d["name"]] = dict({"version": d["version"], "provenance": d["provenance"]["kind"]}, **build)
        except Exception as exc:
            errors.append("packages: build of %s: %s" % (d["name"], one_line(exc)))
    return builds


def _python_guesses(entry):
    """Debian/Ubuntu name their Python packages python3-<module>: python3-yaml for PyYAML,
    python3-gi for PyGObject, python3-lazr.uri for lazr-uri."""
    name = entry["name"]
    tops = [t.strip().lower() for t in (entry["_dist"].read_text("top_level.txt") or "").split() if t.strip()]
    out = ["python3-" + name, "python3-" + name.replace("-", ".")]
    if name.startswith("py") and len(name) > 2:
        out.append("python3-" + name[2:].lstrip("-"))
    out.extend("python3-" + t.lstrip("_") for t in tops[:3])
    return out


def _system_location(location, conda):
    """Only folders outside a virtual environment or conda prefix can hold OS-package files."""
    if not location:
        return False
    if conda or sys.prefix != getattr(sys, "base_prefix", sys.prefix):
        inside = os.path.realpath(location).startswith(os.path.realpath(sys.prefix) + os.sep)
        return not inside
    return True


def _shadowing(dists):
    """Names installed more than once: copies in different folders (the first on sys.path wins,
    and `import` finds the module of one of them), and metadata written twice in one folder."""
    groups = {}
    for d in dists:
        groups.setdefault(d["name"], []).append(d)
    shadowing, duplicates = [], set()
    for name, copies in sorted(groups.items()):
        if len(copies) < 2:
            continue
        if len(set(c["_location"] for c in copies)) < 2:
            duplicates.add(name)
            continue
        imported = _import_origin(copies[0])
        shadowing.append({
            "name": name,
            "copies": [{"version": c["version"], "location": c["_location"], "location_kind": c["location_kind"],
                        "installer": c["installer"], "provenance": (c.get("provenance") or {}).get("kind"),
                        "metadata_kind": c["metadata_kind"]} for c in copies],
            "metadata_wins": 0,
            "import_wins": next((i for i, c in enumerate(copies)
                                 if imported and c["_location"]
                                 and imported.startswith(os.path.realpath(c["_location"]) + os.sep)),
                                None),
        })
    return shadowing, duplicates


def _import_origin(entry):
    """The file `import <top-level>` would load (found without importing it), or None."""
    tops = [t.strip() for t in (entry["_dist"].read_text("top_level.txt") or "").split() if t.strip()]
    for top in tops or [entry["name"].replace("-", "_")]:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            return os.path.realpath(spec.origin) if spec.origin.startswith("/") else spec.origin
        if spec is not None and spec.submodule_search_locations:
            return os.path.realpath(list(spec.submodule_search_locations)[0])
    return None


def _describe(dist, user_site, conda_by_dir):
    path = getattr(dist, "_path", None)
    path = str(path) if path is not None else None
    name = dist.metadata["Name"] or (os.path.basename(path).split("-")[0] if path else "")
    version = dist.version or ""
    public, _, local = version.partition("+")
    installer = (dist.read_text("INSTALLER") or "").strip() or None
    raw_direct = _json(dist.read_text("direct_url.json"))
    direct = _direct_url(raw_direct)
    is_dist_info = bool(path and path.endswith(".dist-info"))
    record = conda_by_dir.get(os.path.basename(path)) if path else None
    location = os.path.dirname(path) if path else None
    return {
        "name": canonical(name),
        "version": version,
        "installer": installer,
        "local_version": local or None,
        "location_kind": _location_kind(location, user_site),
        "editable": bool(direct and direct["editable"]) or bool(path and path.endswith(".egg-info")
                                                              and not _in_site_dir(location)),
        "direct_url": direct["url"] if direct else None,
        "vcs": direct["vcs"] if direct else None,
        "requested": (dist.read_text("REQUESTED") is not None) if is_dist_info else None,
        "metadata_kind": "dist-info" if is_dist_info else ("egg-info" if path and ".egg-info" in path else None),
        "conda": {"channel": record["channel"], "build": record["build"], "name": record["name"]} if record else None,
        "_location": location,
        "_path": path,
        "_direct": raw_direct,
    }


def _json(text):
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _direct_url(data):
    if not data:
        return None
    info = data.get("dir_info") or {}
    vcs = data.get("vcs_info") or {}
    return {"url": data.get("url"), "editable": bool(info.get("editable")),
            "vcs": ("%s@%s" % (vcs.get("vcs"), vcs.get("commit_id"))) if vcs else None}


def _user_site():
    try:
        return os.path.realpath(site.getusersitepackages())
    except Exception:
        return None


def _location_kind(location, user_site):
    if not location:
        return "other"
    if user_site and os.path.realpath(location) == user_site:
        return "user-site"
    base = os.path.basename(location)
    if base in ("site-packages", "dist-packages"):
        return base
    return "other"


def _in_site_dir(location):
    return bool(location) and os.path.basename(location) in ("site-packages", "dist-packages")


def _conda_records(errors):
    """conda-meta/*.json of this prefix: name, version, build string, channel, and the dist-info
    folders each package installed (maps e.g. conda 'pytorch' to the 'torch' distribution)."""
    records = []
    for path in sorted(glob.glob(os.path.join(sys.prefix, "conda-meta", "*.json"))):
        try:
            with open(path) as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            errors.append("packages: conda-meta %s: %s" % (os.path.basename(path), exc))
            continue
        dist_dirs = set()
        for f in data.get("files") or []:
            for part in f.split("/"):
                if part.endswith(".dist-info") or part.endswith(".egg-info"):
                    dist_dirs.add(part)
        records.append({"name": data.get("name"), "version": data.get("version"),
                        "build": data.get("build"), "channel": _channel(data.get("channel")),
                        "_dist_dirs": sorted(dist_dirs), "_files": data.get("files") or []})
    return records


def _channel(url):
    """'https://conda.anaconda.org/conda-forge/linux-64' -> 'conda-forge'; 'pkgs/main' stays."""
    if not url:
        return None
    url = url.rstrip("/")
    parts = url.split("/")
    if "://" in url and len(parts) >= 2 and re.match(r"(linux|osx|win|noarch)", parts[-1]):
        parts = parts[:-1]
    if "conda.anaconda.org" in url or "repo.anaconda.com" in url:
        return "/".join(parts[3:]) or url
    return "/".join(parts) if "://" in url else url

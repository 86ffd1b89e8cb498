"""Every installed distribution with how it got there, read from metadata on disk (never pip/conda):
dist-info INSTALLER / REQUESTED / direct_url.json, conda-meta/*.json, the folder it lives in."""
import glob
import json
import os
import re
import site
import sys

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
        for dist_dir in record.pop("_dist_dirs"):
            by_dist_dir[dist_dir] = record
    user_site = _user_site()
    dists, seen, shadowed, locations = [], set(), [], {}
    for dist in metadata.distributions():
        try:
            entry = _describe(dist, user_site, by_dist_dir)
        except Exception as exc:  # one unreadable dist-info must not lose the list
            errors.append("packages: %s: %s: %s" % (getattr(dist, "_path", "?"), type(exc).__name__, exc))
            continue
        if entry["name"] in seen:
            entry["shadowed"] = True            # an earlier sys.path entry has the same distribution
            shadowed.append(entry["name"])
        seen.add(entry["name"])
        path = entry.pop("_location")
        if path:
            loc = locations.setdefault(path, {"path": path, "kind": entry["location_kind"], "count": 0})
            loc["count"] += 1
        dists.append(entry)
    dists.sort(key=lambda d: (d["name"], bool(d.get("shadowed"))))
    installers = {}
    for d in dists:
        key = d["installer"] or "unknown"
        installers[key] = installers.get(key, 0) + 1
    facts = {
        "count": len(dists),
        "distributions": dists,
        "installers": installers,
        "shadowed": sorted(set(shadowed)),
        "locations": list(locations.values()),
        "conda_packages": [dict((k, r[k]) for k in ("name", "version", "build", "channel")) for r in conda],
    }
    if errors:
        facts["errors"] = errors
    return facts


def _describe(dist, user_site, conda_by_dir):
    path = getattr(dist, "_path", None)
    path = str(path) if path is not None else None
    name = dist.metadata["Name"] or (os.path.basename(path).split("-")[0] if path else "")
    version = dist.version or ""
    public, _, local = version.partition("+")
    installer = (dist.read_text("INSTALLER") or "").strip() or None
    direct = _direct_url(dist.read_text("direct_url.json"))
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
    }


def _direct_url(text):
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
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
                        "_dist_dirs": sorted(dist_dirs)})
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

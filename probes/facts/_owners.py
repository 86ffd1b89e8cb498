"""Who installed a file: a conda package (conda-meta `files`), a Python distribution (its RECORD),
or the OS package manager (dpkg's lists; rpm only by INSTALLER, its database needs a subprocess or a
format reader the standard library lacks). Queries are collected first and answered in one batch,
so dpkg's lists are read at most once per probe."""
import os
import re

from . import _provenance


class Owners(object):
    def __init__(self, dpkg, conda_records, conda_prefix, dists_at):
        self.dpkg = dpkg
        self._conda = conda_records          # [{"name", "version", "build", "channel", "files": [...]}]
        self._prefix = conda_prefix
        self._conda_sets = None
        self._dists_at = dists_at            # location -> [(canonical name, Distribution)]
        self._queued, self._guesses = [], []
        self._system = {}

    def want(self, path, guesses=()):
        """Queue an OS-package-manager question for `path` (answered by resolve())."""
        self._queued.append(path)
        self._guesses.extend(g for g in guesses if g not in self._guesses)

    def resolve(self):
        if self._queued and self.dpkg.available:
            self._system.update(self.dpkg.owners(self._queued, self._guesses))
        self._queued = []

    def system(self, path):
        """dpkg's record of the package owning `path`, or None."""
        name = self._system.get(path)
        return self.dpkg.package(name) if name else None

    def of(self, path, hops=()):
        """The owner of a library file: conda, a Python distribution, or the OS (any hop of its
        symlink chain may be the owned one: dpkg lists the real file, conda the link)."""
        for hop in list(hops) or [path]:
            found = self._conda_owner(hop) or self._python_owner(hop)
            if found:
                return found
        for hop in list(hops) or [path]:
            found = self.system(hop)
            if found:
                return found
        return None

    def _conda_owner(self, path):
        if not self._conda or not self._prefix or not path.startswith(self._prefix.rstrip("/") + "/"):
            return None
        if self._conda_sets is None:
            self._conda_sets = [(record, set(record.get("files") or [])) for record in self._conda]
        rel = os.path.relpath(path, self._prefix)
        for record, files in self._conda_sets:
            if rel in files:
                return {"manager": "conda", "package": record.get("name"), "version": record.get("version"),
                        "build": record.get("build"), "channel": record.get("channel"),
                        "channel_family": _provenance.channel_family(record.get("channel"))}
        return None

    def _python_owner(self, path):
        for location, dists in self._dists_at.items():
            if not path.startswith(location.rstrip("/") + "/"):
                continue
            rel = os.path.relpath(path, location)
            top = _canonical(rel.split("/", 1)[0].split(".")[0])
            for name, dist in dists:
                if not name.startswith(top):
                    continue
                record = dist.read_text("RECORD") or ""
                if re.search(r"(^|\n)" + re.escape(rel) + ",", record):
                    return {"manager": "python", "package": name, "version": dist.version,
                            "installer": (dist.read_text("INSTALLER") or "").strip() or None}
        return None


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name or "").lower()

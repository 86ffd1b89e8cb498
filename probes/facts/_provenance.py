"""Where one installed distribution came from, decided from files only, in a fixed order of
evidence (the first that applies wins; docs/schema-environment.md, `provenance`):

  conda         a conda-meta record installed it (or its INSTALLER says conda)
  editable      PEP 660 editable install, or a legacy `setup.py develop` egg-info outside site-packages
  distribution  the OS package manager owns its metadata (dpkg's lists, rpm where readable), or its
                INSTALLER names one (rpm, dpkg, debian…) while the owner cannot be read
  vendor        a recognised vendor build made inside a container (NGC, JetPack): _vendor.BUILDS
  local-build   compiled from source: a PyTorch source-checkout version, direct_url.json pointing at an
                sdist / VCS / local folder, a non-portable wheel tag (linux_x86_64), or a legacy
                `setup.py install` egg-info nobody else owns
  wheel         a binary wheel from an index (portable tag, or pure Python), with the vendor's index
                when the version says one (+cpu, +cu126, +rocm6.2…)
  unknown       none of the above, with the reason
"""
from . import _vendor, _wheel

DISTRO_INSTALLERS = ("rpm", "dpkg", "debian", "apt", "portage", "pacman", "apk", "zypper", "dnf", "yum")
# Channel name fragments -> the family users speak of (first match wins: "pkgs/main" is defaults).
CHANNEL_FAMILIES = (
    ("conda-forge", ("conda-forge",)),
    ("defaults", ("pkgs/", "repo.anaconda.com", "defaults")),
    ("nvidia", ("nvidia",)),
    ("pytorch", ("pytorch",)),
    ("intel", ("intel",)),
)


def channel_family(channel):
    """'conda-forge' | 'defaults' | 'nvidia' | 'pytorch' | 'intel' | 'other' | None."""
    if not channel:
        return None
    text = str(channel).lower()
    for family, fragments in CHANNEL_FAMILIES:
        if any(fragment in text for fragment in fragments):
            return family
    return "other"


def needs_owner(entry):
    """Whether the OS package database should be asked about this distribution's metadata."""
    installer = (entry.get("installer") or "").lower()
    return not entry.get("conda") and not entry.get("editable") and (not installer or installer in DISTRO_INSTALLERS)


def decide(entry, wheel_text, direct_url, owner):
    """The provenance record of one distribution (see the module docstring for the order)."""
    name, version = entry.get("name"), entry.get("version") or ""
    installer = (entry.get("installer") or "").lower()
    tag_list = _wheel.tags(wheel_text)
    platform = _wheel.platform(tag_list)
    vendor = _vendor.match(name, version)
    source = _wheel.direct_source(direct_url)
    out = {"kind": "unknown", "platform": platform, "source": None, "vendor": vendor, "owner": None, "why": None}
    conda = entry.get("conda")
    if conda or installer == "conda":
        channel = (conda or {}).get("channel")
        out.update(kind="conda", source="conda", owner={
            "manager": "conda", "package": (conda or {}).get("name"), "version": version,
            "build": (conda or {}).get("build"), "channel": channel, "channel_family": channel_family(channel)}
            if conda else None,
            why="conda-meta record" if conda else "INSTALLER is conda (no conda-meta record found)")
        return out
    if entry.get("editable"):
        legacy = entry.get("metadata_kind") == "egg-info" and source is None
        out.update(kind="editable", source="checkout" if legacy else (source if source != "editable" else "directory"),
                   why="egg-info outside site-packages (setup.py develop)" if legacy
                   else "direct_url.json dir_info.editable")
        return out
    if owner:
        out.update(kind="distribution", source="distribution", owner=owner,
                   why="%s database: %s owns the metadata" % (owner.get("manager"), owner.get("package")))
        return out
    if installer in DISTRO_INSTALLERS:
        out.update(kind="distribution", source="distribution",
                   owner={"manager": installer, "package": None, "version": None},
                   why="INSTALLER is %s; the package database cannot be read without a subprocess" % installer)
        return out
    if vendor and vendor["origin"] == "container":
        out.update(kind="vendor", source="container", why="version %s: %s" % (version, vendor["build"]))
        return out
    if vendor and vendor["origin"] == "source":
        out.update(kind="local-build", source="checkout", why="version %s: %s" % (version, vendor["build"]))
        return out
    if source in ("vcs", "sdist", "directory", "archive"):
        out.update(kind="local-build", source=source, why="direct_url.json: installed from %s %s" % (
            {"vcs": "a VCS checkout", "sdist": "an sdist", "directory": "a local folder",
             "archive": "an archive"}[source], direct_url.get("url") if isinstance(direct_url, dict) else ""))
        if source == "vcs":
            vcs = direct_url.get("vcs_info") or {}
            out["commit"] = vcs.get("commit_id")
        return out
    portability = _wheel.portability(platform)
    if tag_list:
        from_file = source == "wheel-file"
        if portability == "local" and not (vendor and vendor["origin"] == "index"):
            out.update(kind="local-build", source="sdist",
                       why="WHEEL tag %s is not a portable build tag: compiled from source for this machine"
                       % tag_list[0])
            return out
        out.update(kind="wheel", source="wheel-file" if from_file else "index",
                   why="WHEEL tag %s%s" % (tag_list[0], ", installed from a wheel file" if from_file else
                                           (", %s index" % vendor["vendor"] if vendor else "")))
        return out
    if entry.get("metadata_kind") == "egg-info" and not installer:
        out.update(kind="local-build", source="setup.py",
                   why="egg-info without INSTALLER that no package manager owns: setup.py install")
        return out
    out["why"] = "no WHEEL file%s%s" % (", installer %s" % installer if installer else ", no INSTALLER",
                                        ", not in the OS package database" if not installer else "")
    return out

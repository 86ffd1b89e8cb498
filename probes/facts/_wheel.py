"""What an installed wheel says about where it was built: the WHEEL file's tags (a portable
manylinux/musllinux tag comes from a build farm; linux_x86_64 from a machine that compiled it for
itself), direct_url.json (PEP 610: installed from an sdist archive, a VCS checkout, a local folder,
or editable), and the native files its RECORD lists."""
import os
import re

NATIVE = re.compile(r"\.(so(\.\d+)*|dylib|pyd|dll)$")
EXTENSION = re.compile(r"\.(cpython-[^/]*|abi3|pypy[^/]*)\.so$|\.pyd$")


def tags(wheel_text):
    """'Tag:' lines of a WHEEL file, in order."""
    return [line.split(":", 1)[1].strip() for line in (wheel_text or "").splitlines()
            if line.lower().startswith("tag:")]


def platform(tag_list):
    """The platform part of the first tag: 'manylinux_2_28_x86_64', 'linux_x86_64', 'any'…"""
    if not tag_list:
        return None
    parts = tag_list[0].split("-")
    return parts[2] if len(parts) == 3 else None


def portability(platform_tag):
    """'portable' (a build-farm tag pip only installs where it runs), 'local' (a tag only a build
    on some machine produces), 'pure' (any platform), or 'unknown' (macOS/Windows tags are the same
    for both, so the tag cannot tell)."""
    if not platform_tag:
        return "unknown"
    if platform_tag == "any":
        return "pure"
    if re.match(r"(manylinux|musllinux)", platform_tag):
        return "portable"
    if re.match(r"linux_", platform_tag):
        return "local"
    return "unknown"


def generator(wheel_text):
    for line in (wheel_text or "").splitlines():
        if line.lower().startswith("generator:"):
            return line.split(":", 1)[1].strip() or None
    return None


def direct_source(direct_url):
    """The PEP 610 record as a kind: 'editable' | 'vcs' | 'directory' | 'sdist' | 'wheel-file' |
    'archive' | None (installed from an index: pip writes no direct_url.json then)."""
    if not isinstance(direct_url, dict):
        return None
    if (direct_url.get("dir_info") or {}).get("editable"):
        return "editable"
    if direct_url.get("vcs_info"):
        return "vcs"
    if "dir_info" in direct_url:
        return "directory"
    url = str(direct_url.get("url") or "")
    if url.endswith(".whl"):
        return "wheel-file"
    if re.search(r"\.(tar\.gz|tgz|tar\.bz2|tar\.xz|zip)$", url):
        return "sdist"
    return "archive"


_RECORD_NATIVE = re.compile(r'\.(?:so(?:\.\d+)*|dylib|pyd|dll)"?,')


def native_files(record_text):
    """Paths (relative to the site folder) of the native files a RECORD lists. Torch's RECORD has
    16,000 lines: search for the extensions and walk back to each line's start."""
    text = record_text or ""
    out = []
    for found in _RECORD_NATIVE.finditer(text):
        start = text.rfind("\n", 0, found.start()) + 1
        path = text[start:found.end() - 1].strip().strip('"')
        if path and "," not in path and not path.startswith(".."):
            out.append(path)
    return out


def walk_native(location, top_levels, limit=2000):
    """Native files under a distribution's top-level folders when it has no RECORD (egg-info,
    distribution packages): relative to `location`."""
    out = []
    for top in top_levels:
        root = os.path.join(location, top)
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in ("tests", "__pycache__")]
            for name in files:
                if NATIVE.search(name):
                    out.append(os.path.relpath(os.path.join(folder, name), location))
                    if len(out) >= limit:
                        return out
    return out


def is_extension(path):
    return bool(EXTENSION.search(path))

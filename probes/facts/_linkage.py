"""Where the dynamic loader would find each library a native file asks for, worked out from files
(never by loading anything): DT_RPATH/DT_RUNPATH with $ORIGIN, LD_LIBRARY_PATH, /etc/ld.so.cache,
the default folders; then the symlink chain from the found name to the real file, noting a hop
through /etc/alternatives (Debian's update-alternatives, RHEL's alternatives)."""
import os
import struct

from . import _elf

CACHE = "/etc/ld.so.cache"
DEFAULT_DIRS = ("/lib64", "/usr/lib64", "/lib", "/usr/lib")
ALTERNATIVES_DIRS = ("/etc/alternatives",)


class Resolver(object):
    """One per probe: the ld.so.cache is parsed once, ELF headers are read once per file."""

    def __init__(self, cache_path=CACHE, env=None):
        self._cache_path = cache_path
        self._cache = None
        self._elf = {}
        env = os.environ if env is None else env
        self.ld_library_path = [d for d in (env.get("LD_LIBRARY_PATH") or "").split(":") if d]

    def elf(self, path):
        if path not in self._elf:
            self._elf[path] = _elf.read(path)
        return self._elf[path]

    def find(self, needed, requester):
        """(path, how) where `needed` resolves for the ELF file `requester`; (None, 'not found')."""
        if "/" in needed:
            return (needed, "path") if os.path.exists(needed) else (None, "not found")
        info = self.elf(requester) or {}
        origin = os.path.dirname(requester)
        runpath, rpath = info.get("runpath"), info.get("rpath")
        searches = []
        if rpath and not runpath:
            searches.append(("rpath", _expand(rpath, origin)))
        searches.append(("LD_LIBRARY_PATH", self.ld_library_path))
        if runpath:
            searches.append(("runpath", _expand(runpath, origin)))
        for how, folders in searches:
            for folder in folders:
                candidate = os.path.join(folder, needed)
                if self._fits(candidate, info):
                    return candidate, how
        for candidate in self._cached(needed):
            if self._fits(candidate, info):
                return candidate, "ld.so.cache"
        for folder in DEFAULT_DIRS:
            candidate = os.path.join(folder, needed)
            if self._fits(candidate, info):
                return candidate, "default"
        return None, "not found"

    def _fits(self, candidate, requester_info):
        """The loader skips a file of the wrong machine or class (a 32-bit libblas in /usr/lib)."""
        if not os.path.isfile(candidate):
            return False
        if not requester_info.get("machine"):
            return True
        info = self.elf(candidate)
        return bool(info) and info["machine"] == requester_info["machine"] and info["bits"] == requester_info["bits"]

    def _cached(self, soname):
        if self._cache is None:
            self._cache = read_ld_cache(self._cache_path)
        return self._cache.get(soname, [])


def _expand(text, origin):
    out = []
    for folder in text.split(":"):
        folder = folder.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
        if folder:
            out.append(os.path.normpath(folder))
    return out


def read_ld_cache(path=CACHE):
    """{soname: [paths]} from glibc's ld.so.cache (the 'glibc-ld.so.cache1.1' format); {} when
    missing or in another format (musl has none: the default folders still apply)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(16 << 20)
    except OSError:
        return {}
    start = data.find(b"glibc-ld.so.cache1.1")
    if start < 0 or len(data) < start + 48:
        return {}
    order = "<" if struct.unpack_from("<I", data, start + 20)[0] < (1 << 24) else ">"
    nlibs, = struct.unpack_from(order + "I", data, start + 20)
    out = {}
    for i in range(min(nlibs, 1 << 20)):
        at = start + 48 + 24 * i
        if at + 24 > len(data):
            break
        _, key, value = struct.unpack_from(order + "iII", data, at)
        soname, target = _cstr(data, start + key), _cstr(data, start + value)
        if soname and target:
            out.setdefault(soname, []).append(target)
    return out


def _cstr(data, offset):
    end = data.find(b"\0", offset)
    return data[offset:end].decode("utf-8", "replace") if 0 <= offset < end else None


def chain(path, limit=16):
    """Every hop from `path` to the real file: [path, target1, …, real]. Relative link targets are
    resolved against the link's folder, as the kernel does."""
    hops = [path]
    current = path
    for _ in range(limit):
        try:
            target = os.readlink(current)
        except OSError:
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
        hops.append(current)
    real = os.path.realpath(path)
    if hops[-1] != real:                 # a symlinked folder on the way (/lib -> usr/lib)
        hops.append(real)
    return hops


def alternative_name(hops):
    """The update-alternatives link group a chain passes through ('libblas.so.3-x86_64-linux-gnu')."""
    for hop in hops:
        folder, name = os.path.split(hop)
        if folder in ALTERNATIVES_DIRS:
            return name
    return None

"""Small readers for /proc and /sys shared by the fact probes: never raise, return None instead."""
import os


def read_text(path, limit=1 << 20):
    try:
        with open(path, "r", errors="replace") as handle:
            return handle.read(limit)
    except (OSError, ValueError):
        return None


def read_line(path):
    text = read_text(path, 4096)
    return text.strip() if text is not None else None


def read_int(path):
    text = read_line(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def key_values(text, sep=":"):
    """'Key: value' lines -> dict (first occurrence wins)."""
    out = {}
    for line in (text or "").splitlines():
        key, found, value = line.partition(sep)
        if found and key.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def selected(text):
    """'always [madvise] never' -> 'madvise' (the bracketed choice in a sysfs switch)."""
    if not text:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else text.strip()


def cpu_list(text):
    """'0-3,8,10-11' -> [0, 1, 2, 3, 8, 10, 11]; None when there is no list to read."""
    if text is None:
        return None
    cpus = []
    for part in (text or "").strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            cpus.extend(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            return None
    return cpus


def numbered_dirs(path, prefix):
    """Sub-directories named <prefix><int>, sorted by number (cpu0, cpu1, node0 …)."""
    try:
        names = os.listdir(path)
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            found.append((int(name[len(prefix):]), os.path.join(path, name)))
    return [p for _, p in sorted(found)]

"""cgroup v1/v2 CPU quota, memory limit and throttling counters of this process.

The effective limit is the tightest one on the path from the process's cgroup up to the mount
root, so every level is read. os.sched_getaffinity() does not reflect a CPU quota: this does.
"""
import os

from ._files import key_values, read_line, read_text

UNLIMITED = 1 << 60          # v1 writes "no limit" as a huge page-aligned number


def limits(pid="self"):
    """The CPU quota, memory limit and throttling counters of process `pid` ("self": this one)."""
    mounts = _mounts()
    groups = _own_groups(pid)
    if "cgroup2" in mounts and not any(k for k in groups if k != ""):
        return _v2(mounts["cgroup2"], groups.get("", "/"))
    if groups and any(k for k in groups if k != ""):
        return _v1(mounts, groups)
    return {"version": None, "cpu_quota_cores": None, "cpu_period_s": None, "memory_limit_bytes": None,
            "throttling": None, "path": None}


def _mounts():
    """fstype/controller -> mount point: {"cgroup2": "/sys/fs/cgroup", "cpu": "/sys/fs/cgroup/cpu", …}."""
    found = {}
    for line in (read_text("/proc/self/mounts") or "").splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        point, fstype, options = parts[1], parts[2], parts[3].split(",")
        if fstype == "cgroup2":
            found.setdefault("cgroup2", point)
        elif fstype == "cgroup":
            for opt in options:
                found.setdefault(opt, point)
    return found


def _own_groups(pid="self"):
    """/proc/<pid>/cgroup -> {controller: path}; the v2 entry has controller ''."""
    groups = {}
    for line in (read_text("/proc/%s/cgroup" % pid) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                groups[controller] = parts[2]
    return groups


def _levels(mount, path):
    """Directories from the process's cgroup up to the mount root (that exist: in a container the
    host-side path is often not visible and the namespace root is the mount root)."""
    levels = []
    rel = path.strip("/")
    while True:
        candidate = os.path.join(mount, rel) if rel else mount
        if os.path.isdir(candidate):
            levels.append(candidate)
        if not rel:
            return levels
        rel = os.path.dirname(rel)


def _v2(mount, path):
    levels = _levels(mount, path)
    quota, memory, period = None, None, None
    limiting = levels[0] if levels else None      # throttling is counted where the quota is set
    for level in levels:
        parts = (read_line(os.path.join(level, "cpu.max")) or "").split()
        if len(parts) == 2 and parts[0] != "max":
            cores = int(parts[0]) / float(parts[1])
            if quota is None or cores < quota:
                quota, period, limiting = cores, int(parts[1]) / 1e6, level
        mem = read_line(os.path.join(level, "memory.max"))
        if mem and mem != "max" and mem.isdigit():
            memory = int(mem) if memory is None else min(memory, int(mem))
    stat = _stat(limiting, "cpu.stat")
    throttling = None
    if stat and "nr_periods" in stat:
        throttling = {"nr_periods": stat.get("nr_periods"), "nr_throttled": stat.get("nr_throttled"),
                      "throttled_s": _usec(stat.get("throttled_usec"))}
    return {"version": 2, "cpu_quota_cores": quota, "cpu_period_s": period, "memory_limit_bytes": memory,
            "throttling": throttling, "path": path}


def _v1(mounts, groups):
    quota, memory, throttling, period = None, None, None, None
    cpu_mount = mounts.get("cpu")
    cpu_path = groups.get("cpu", "/")
    if cpu_mount:
        levels = _levels(cpu_mount, cpu_path)
        limiting = levels[0] if levels else None    # throttling is counted where the quota is set
        for level in levels:
            q = _int(read_line(os.path.join(level, "cpu.cfs_quota_us")))
            p = _int(read_line(os.path.join(level, "cpu.cfs_period_us")))
            if q and q > 0 and p and (quota is None or q / float(p) < quota):
                quota, period, limiting = q / float(p), p / 1e6, level
        stat = _stat(limiting, "cpu.stat")
        if stat and "nr_periods" in stat:
            throttling = {"nr_periods": stat.get("nr_periods"), "nr_throttled": stat.get("nr_throttled"),
                          "throttled_s": _nsec(stat.get("throttled_time"))}
    mem_mount = mounts.get("memory")
    if mem_mount:
        for level in _levels(mem_mount, groups.get("memory", "/")):
            limit = _int(read_line(os.path.join(level, "memory.limit_in_bytes")))
            if limit and limit < UNLIMITED:
                memory = limit if memory is None else min(memory, limit)
    return {"version": 1, "cpu_quota_cores": quota, "cpu_period_s": period, "memory_limit_bytes": memory,
            "throttling": throttling, "path": cpu_path}


def _stat(level, name):
    if level is None:
        return None
    values = {}
    for key, value in key_values(read_text(os.path.join(level, name)), " ").items():
        number = _int(value)
        if number is not None:
            values[key] = number
    return values


def _int(text):
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _usec(value):
    return value / 1e6 if value is not None else None


def _nsec(value):
    return value / 1e9 if value is not None else None

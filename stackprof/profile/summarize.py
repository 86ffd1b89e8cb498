"""Build the Run's ``profile`` section (docs/schema-profile.md) from a recording, its attributed
samples and the /proc thread times. Pure: no processes, no files other than the raw profile read."""
from __future__ import annotations

import math
import os
from collections import Counter

from stackprof.profile import categories as table
from stackprof.profile.attribute import FlameNode, Totals, add_up
from stackprof.profile.collapsed import read_stacks
from stackprof.profile.record import Recording
from stackprof.profile.threads import ThreadCpu, cpu_seconds

TOP_FRAMES = 25
FEW_SAMPLES = 10               # below this a breakdown says little: the profile says so
FLAME_MIN_SHARE = 0.002        # flame graph nodes under 0.2% of all samples are folded into their parent
FLAME_MAX_NODES = 3000         # keeps a 60 s profile's report well under 2 MB
RAW_NAME = "profile.collapsedstack.txt"   # speedscope opens *.collapsedstack.txt files as they are


def summarize(rec: Recording, environment: dict | None = None, raw_name: str = RAW_NAME) -> dict:
    stacks, unreadable = read_stacks(rec.raw_path) if rec.raw_path else ([], 0)
    totals = add_up(stacks, rec.pid)
    return build(rec, totals, environment or {}, unreadable=unreadable, raw_name=raw_name if rec.raw_path else None)


def build(rec: Recording, totals: Totals, environment: dict, unreadable: int = 0, raw_name: str | None = RAW_NAME) -> dict:
    root = rec.pid
    total = totals.all.samples
    idle = totals.all.categories.get("idle", 0)
    intervals = _intervals(totals, root)
    achieved = intervals / rec.wall_s if rec.wall_s and intervals else None
    per_sample_s = 1 / achieved if achieved else 1 / max(1, _asked_rate(rec))
    cpu = rec.threads or ThreadCpu(False, "not measured")
    section = {
        "tool": {"name": "py-spy", "version": rec.pyspy.get("version"), "args": rec.pyspy.get("args", [])},
        "mode": rec.mode,
        "command": list(rec.command),
        "pid": root,
        "exit_status": rec.exit_status,
        "started_utc": rec.started_utc,
        "duration_s": rec.wall_s,
        "native": {"used": rec.native, "note": rec.native_note},
        "nonblocking": rec.nonblocking,
        "idle_included": "--idle" in rec.pyspy.get("args", []),
        "subprocesses": "--subprocesses" in rec.pyspy.get("args", []),
        "rate": {"asked_hz": _asked_rate(rec), "achieved_hz": _round(achieved, 1), "intervals": intervals,
                 "late_warnings": rec.pyspy.get("late_warnings", 0)},
        "samples": {"total": total, "idle": idle, "busy": total - idle, "python_threads": len(totals.threads),
                    "processes": len(totals.processes), "errors": rec.pyspy.get("errors_reported"),
                    "unreadable_lines": unreadable},
        "seconds_per_sample": _round(per_sample_s, 6),
        "categories": _categories(totals, total, idle),
        "blas": blas_library(totals, environment),
        "main_thread": _main_thread(totals, root),
        "processes": _processes(totals, cpu, root, per_sample_s),
        "threads": _threads(totals, cpu, per_sample_s),
        "native_threads": _native_threads(totals, cpu),
        "top_frames": _top_frames(totals, total),
        "flame": flame(totals.flame, totals.commands, len(totals.processes) > 1),
        "program_rusage": rec.pyspy.get("program_rusage"),
        "sampler_rusage": rec.pyspy.get("rusage"),
        "raw_profile": raw_name,
        "raw_format": "collapsed stacks (py-spy --format raw --threads): 'frame;frame;…;frame COUNT', root first",
        "interrupted": rec.interrupted,
        "stopped_after_duration": rec.stopped_after_duration,
        "too_short": rec.too_short,
        "sources": {
            "samples": f"py-spy {rec.pyspy.get('version', '')} record ({' '.join(rec.pyspy.get('args', [])[1:3])} …): "
                       "threads with a Python thread state only",
            "cpu": (f"/proc/<pid>/task/<tid>/stat utime+stime, polled every {0.2:g} s, for the program and its "
                    "descendants: every thread, native pools included" if cpu.available else cpu.reason),
            "program_rusage": "wait4() of the launched program (its CPU time, with children it waited for)",
        },
        "warnings": [],
        "errors": list(rec.errors),
    }
    section["warnings"] = warnings(rec, section)
    return section


def _round(value, digits):
    return None if value is None else round(value, digits)


def _asked_rate(rec: Recording) -> int:
    args = rec.pyspy.get("args", [])
    try:
        return int(args[args.index("--rate") + 1])
    except (ValueError, IndexError):
        return 100


def _intervals(totals: Totals, root) -> int:
    """Sampling intervals that happened: the most samples any one Python thread got (with --idle every
    live thread is sampled at every interval). The root process's threads first."""
    mine = [b.samples for (pid, _), b in totals.threads.items() if pid == root]
    return max(mine or [b.samples for b in totals.threads.values()] or [0])


def _share(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _categories(totals: Totals, total: int, idle: int) -> list[dict]:
    out = []
    for cid, n in totals.all.categories.most_common():
        out.append({
            "id": cid, "label": table.LABELS.get(cid, cid), "group": table.GROUPS.get(cid, ""), "samples": n,
            "share": _share(n, total), "share_busy": None if cid == "idle" else _share(n, total - idle),
            "details": [{"name": k, "samples": v} for k, v in totals.all.details.get(cid, Counter()).most_common(8)],
            "libraries": [{"name": k, "samples": v} for k, v in totals.all.libraries.get(cid, Counter()).most_common(5)],
            "kernels": [{"name": k, "samples": v} for k, v in totals.all.kernels.get(cid, Counter()).most_common(5)],
        })
    return out


def blas_library(totals: Totals, environment: dict) -> dict | None:
    """The BLAS the samples ran in, named: frames give the library file and kernel suffix; the probe's
    native_libs facts give its version, the kernel it selected and its threads (joined on file name)."""
    libs = totals.all.libraries.get("blas", Counter())
    details = totals.all.details.get("blas", Counter())
    if not details:
        return None
    name, samples = details.most_common(1)[0]
    lib_file = libs.most_common(1)[0][0] if libs else ""
    kernels = totals.all.kernels.get("blas", Counter())
    out = {"library": name, "file": lib_file, "samples": sum(details.values()),
           "kernel_in_frames": kernels.most_common(1)[0][0] if kernels else None,
           "source": "frame names"}
    native = environment.get("native_libs") if isinstance(environment, dict) else None
    for i, lib in enumerate((native or {}).get("libraries") or []):
        if not isinstance(lib, dict) or lib.get("user_api") != "blas":
            continue
        if lib_file and os.path.basename(str(lib.get("filepath") or "")) == lib_file:
            out.update({"internal_api": lib.get("internal_api"), "version": lib.get("version"),
                        "kernel_selected": lib.get("architecture"), "threading_layer": lib.get("threading_layer"),
                        "num_threads": lib.get("num_threads"),
                        "source": f"frame names + environment native_libs.libraries[{i}]"})
            break
    return out


def _main_thread(totals: Totals, root) -> dict | None:
    """The launched program's main thread: its samples are the program's wall time."""
    key = next((k for k in totals.threads if k[0] == root and str(k[1]) == str(root)), None)
    if key is None:
        candidates = [k for k in totals.threads if k[0] == root] or list(totals.threads)
        key = max(candidates, key=lambda k: totals.threads[k].samples, default=None)
    if key is None:
        return None
    bucket = totals.threads[key]
    work = bucket.samples - bucket.categories.get("startup", 0)
    return {"pid": key[0], "tid": key[1], "name": totals.thread_names.get(key, ""),
            "samples": bucket.samples, "work_samples": work,
            "categories": [{"id": c, "samples": n, "share": _share(n, bucket.samples),
                            "share_work": None if c == "startup" else _share(n, work),
                            "details": [{"name": k, "samples": v}
                                        for k, v in bucket.details.get(c, Counter()).most_common(4)]}
                           for c, n in bucket.categories.most_common()]}


def _processes(totals: Totals, cpu: ThreadCpu, root, per_sample_s: float) -> list[dict]:
    pids = set(totals.processes) | set(cpu.processes)
    out = []
    for pid in sorted(pids, key=lambda p: (p != root, p or 0)):
        bucket = totals.processes.get(pid)
        seen = cpu.processes.get(pid)
        threads = [t for (p, _), t in cpu.threads.items() if p == pid]
        python_tids = {str(tid) for (p, tid) in totals.threads if p == pid}
        native = [t for t in threads if str(t.tid) not in python_tids]
        user = sum(cpu_seconds(t, cpu.ticks_per_s)[0] for t in threads)
        system = sum(cpu_seconds(t, cpu.ticks_per_s)[1] for t in threads)
        role = ("DataLoader worker" if pid in totals.workers else
                "main" if pid == root else "child")
        out.append({
            "pid": pid, "parent": totals.parents.get(pid, seen.ppid if seen else None),
            "command": totals.commands.get(pid) or (seen.command if seen else ""), "role": role,
            "samples": bucket.samples if bucket else 0,
            "categories": dict(bucket.categories.most_common()) if bucket else {},
            "cpu_s": round(user + system, 3) if threads else None, "threads_seen": len(threads) or None,
            "native_threads": len(native) if threads else None,
            "native_cpu_s": round(sum(sum(cpu_seconds(t, cpu.ticks_per_s)) for t in native), 3) if threads else None,
            "sampled": bucket is not None,
        })
    return out


def _threads(totals: Totals, cpu: ThreadCpu, per_sample_s: float) -> list[dict]:
    out = []
    seen_keys = set()
    for (pid, tid), bucket in sorted(totals.threads.items(), key=lambda kv: -kv[1].samples):
        proc = _find_thread(cpu, pid, tid)
        seen_keys.add((proc.pid, proc.tid) if proc else None)
        row = {"pid": pid, "tid": tid, "name": totals.thread_names.get((pid, tid), proc.name if proc else ""),
               "python": True, "samples": bucket.samples, "seconds": round(bucket.samples * per_sample_s, 3),
               "top_category": bucket.categories.most_common(1)[0][0] if bucket.categories else None,
               "categories": dict(bucket.categories.most_common())}
        row["cpu"] = _cpu_row(proc, cpu) if proc else None
        out.append(row)
    for (pid, tid), seen in sorted(cpu.threads.items()):
        if (pid, tid) in seen_keys:
            continue
        out.append({"pid": pid, "tid": tid, "name": seen.name, "python": False, "samples": None, "seconds": None,
                    "top_category": None, "categories": {}, "cpu": _cpu_row(seen, cpu)})
    return out


def _find_thread(cpu: ThreadCpu, pid, tid):
    return cpu.threads.get((pid, tid)) if isinstance(tid, int) else None


def _cpu_row(seen, cpu: ThreadCpu) -> dict:
    user, system = cpu_seconds(seen, cpu.ticks_per_s)
    lifetime = max(seen.last_s - seen.first_s, 0.0)
    window = lifetime if not seen.started_in_window else max(seen.last_s, 0.0)
    return {"user_s": round(user, 3), "sys_s": round(system, 3),
            "busy_share": _round((user + system) / window, 3) if window > 0.2 else None,
            "running_share": _share(seen.running, seen.polls), "observed_s": round(window, 3),
            "source": "/proc"}


def _native_threads(totals: Totals, cpu: ThreadCpu) -> dict:
    """Threads py-spy cannot see (no Python thread state): OpenMP/BLAS pools, framework threads."""
    if not cpu.available:
        return {"available": False, "reason": cpu.reason}
    native = [t for key, t in cpu.threads.items() if key not in totals.threads]
    user = sum(cpu_seconds(t, cpu.ticks_per_s)[0] for t in native)
    system = sum(cpu_seconds(t, cpu.ticks_per_s)[1] for t in native)
    busy = [t for t in native if sum(cpu_seconds(t, cpu.ticks_per_s)) > 0.05 * max(cpu.window_s, 1e-9)]
    return {"available": True, "count": len(native), "busy_count": len(busy), "user_s": round(user, 3),
            "sys_s": round(system, 3), "cpu_s": round(user + system, 3), "window_s": round(cpu.window_s, 3),
            "cores_busy": _round((user + system) / cpu.window_s, 2) if cpu.window_s > 0 else None,
            "os_cpu_count": os.cpu_count(),
            "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}


def _top_frames(totals: Totals, total: int) -> dict:
    def rows(counter: Counter) -> list[dict]:
        return [{"frame": k, "samples": n, "share": _share(n, total),
                 "category": totals.frame_category.get(k, Counter()).most_common(1)[0][0]
                 if totals.frame_category.get(k) else None}
                for k, n in counter.most_common(TOP_FRAMES)]
    return {"self": rows(totals.self_frames), "total": rows(totals.total_frames)}


# ---- flame tree --------------------------------------------------------------------------------

def flame(root: FlameNode, commands: dict, keep_process_level: bool) -> dict:
    """A pruned, compact flame tree: names interned; a node is [name, value, self, category, children]."""
    names: dict[str, int] = {}
    cats = [c.id for c in table.REPORTED]
    total = root.value
    min_value = max(1, math.ceil(total * FLAME_MIN_SHARE))
    tops = root.children
    if not keep_process_level and len(tops) == 1 and next(iter(tops)).startswith("process "):
        tops = next(iter(tops.values())).children
    while True:
        count = [0]
        tree = [_emit(label, node, min_value, names, cats, commands, count) for label, node in _sorted(tops, min_value)]
        if count[0] <= FLAME_MAX_NODES:
            break
        names.clear()
        min_value *= 2
    shown = sum(node[1] for node in tree)
    return {"names": list(names), "categories": cats, "labels": [table.LABELS[c] for c in cats], "total": total,
            "min_samples": min_value,
            "root": ["all", total, 0, _dominant(root, cats), tree], "folded_samples": total - shown}


def _sorted(children: dict, min_value: int):
    return sorted(((k, v) for k, v in children.items() if v.value >= min_value), key=lambda kv: -kv[1].value)


def _dominant(node: FlameNode, cats: list[str]) -> int:
    cid = node.dominant() or "native_other"
    return cats.index(cid) if cid in cats else len(cats) - 1


def _emit(label: str, node: FlameNode, min_value: int, names: dict, cats: list, commands: dict, count: list) -> list:
    count[0] += 1
    if label.startswith("process "):
        pid = label.split()[1]
        cmd = commands.get(int(pid)) if pid.isdigit() else ""
        label = f"process {pid}" + (f": {cmd[:120]}" if cmd else "")
    idx = names.setdefault(label, len(names))
    children = [_emit(k, v, min_value, names, cats, commands, count) for k, v in _sorted(node.children, min_value)]
    return [idx, node.value, node.own, _dominant(node, cats), children]


def warnings(rec: Recording, section: dict) -> list[str]:
    out = []
    total = section["samples"]["total"]
    if total < FEW_SAMPLES and rec.errors:
        out.append(f"no profile: {rec.errors[0]}")
    elif rec.too_short:
        out.append(f"no samples: {rec.notes[-1]}; a program this short has nothing to profile")
    elif total < FEW_SAMPLES:
        out.append(f"only {total} samples: the program ran for less than a few sampling intervals "
                   f"({section['duration_s']:g} s at {section['rate']['asked_hz']} Hz); the breakdown below is "
                   "what exists, not a measurement to rely on")
    if not rec.native:
        out.append(f"native frames off ({rec.native_note or 'not asked'}): BLAS, oneDNN, CUDA and framework "
                   "native time show as the Python line that called them (category Python), and GIL waits "
                   "cannot be told apart")
    achieved, asked = section["rate"]["achieved_hz"], section["rate"]["asked_hz"]
    if achieved and asked and achieved < 0.8 * asked and total >= FEW_SAMPLES:
        out.append(f"sampling reached {achieved:g} Hz of the {asked} Hz asked: py-spy fell behind "
                   "(busy machine, or a slow native unwind); shares stay valid, time estimates are coarser")
    sampler = section.get("sampler_rusage") or {}
    cpus = os.cpu_count() or 1
    spent = (sampler.get("user_s") or 0) + (sampler.get("sys_s") or 0)
    if section["duration_s"] and spent > 0.25 * section["duration_s"] and cpus <= 4:
        out.append(f"py-spy itself used {spent:.1f} CPU-seconds ({spent / section['duration_s']:.0%} of a core) on "
                   f"this {cpus}-CPU machine: it competed with the program's threads, which can inflate "
                   "thread-pool waiting")
    errors = section["samples"].get("errors") or 0
    if errors and total and errors > 0.05 * total:
        out.append(f"py-spy could not read {errors} samples (e.g. stacks changing while read)")
    if rec.exit_status not in (None, 0):
        out.append(f"the program exited with status {rec.exit_status}: the profile covers it up to that point")
    if rec.interrupted:
        out.append("interrupted (Ctrl-C): the profile covers the program up to that point")
    if rec.stopped_after_duration:
        out.append("the --duration ended the recording; the launched program was then stopped")
    return out

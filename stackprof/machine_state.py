"""Machine state while a benchmark case runs, read on the host (probes stay stdlib-only and unaware).

One mechanism for every case: the host snapshots when the agent announces a case (its `progress`
event) and again when the case's record arrives, and attaches the difference to the record:

- the CPU quota of the agent's cgroup and its throttling counters (cgroup v1 `cpu.stat`
  nr_periods / nr_throttled / throttled_time, v2 nr_periods / nr_throttled / throttled_usec);
- steal and iowait as shares of all CPU time (/proc/stat);
- the CPU time of the agent and its descendants (/proc/<pid>/task/*/schedstat) and the machine's busy
  time (/proc/stat): what other processes used while the case ran, as a share of the machine's CPUs,
  is `contention`. Run-queue waits are recorded too, but they cannot tell other work from the agent's own
  threads queueing behind each other (a pool larger than the CPUs) or from a CPU quota's throttling;
- for GPU cases, NVML samples taken while the case runs (gpu_sampler.py).

`flags` names what makes a result suspect: "throttled" (the environment's own quota took time: part
of what was measured), "stolen" (the hypervisor ran someone else), "contended" (other work held the
CPUs). The judge leaves contended rounds out; throttling is the environment's own and counts.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from stackprof.judge import CONTENTION_LIMIT
from stackprof.paths import import_probe

STOLEN_LIMIT = 0.05        # steal above 5% of CPU time marks a case "stolen"
MIN_WALL_S = 0.1           # shorter cases: the machine's busy time (10 ms ticks) is too coarse to say


@dataclass(frozen=True)
class Snapshot:
    at: float
    cgroup: dict | None              # {"quota_cores", "period_s", "nr_periods", "nr_throttled", "throttled_s"}
    cpu_times: tuple | None          # /proc/stat "cpu" line: user nice system idle iowait irq softirq steal
    threads: dict | None             # (pid, tid) -> (ns on a CPU, ns runnable waiting): the agent and descendants


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def snapshot(pid: int | None) -> Snapshot:
    threads = None
    if pid:
        threads = {}
        for member in [pid] + _descendants(pid):
            for tid, times in (_schedstat(member) or {}).items():
                threads[(member, tid)] = times
    return Snapshot(time.monotonic(), _cgroup(pid), _proc_stat(), threads)


def delta(before: Snapshot, after: Snapshot) -> dict:
    """The state dict attached to a record (docs/schema-benchmarks.md, `state`)."""
    wall = max(after.at - before.at, 1e-9)
    out: dict = {"wall_s": round(wall, 4)}
    cpu: dict = {}
    throttled_s = 0.0
    if before.cgroup and after.cgroup:
        b, a = before.cgroup, after.cgroup
        cpu["quota_cores"] = a.get("quota_cores")
        if None not in (a.get("nr_periods"), b.get("nr_periods")):
            cpu["periods"] = max(0, a["nr_periods"] - b["nr_periods"])
            cpu["throttled_periods"] = max(0, (a.get("nr_throttled") or 0) - (b.get("nr_throttled") or 0))
            throttled_s = max(0.0, (a.get("throttled_s") or 0.0) - (b.get("throttled_s") or 0.0))
            cpu["throttled_s"] = round(throttled_s, 4)
    busy_s = None
    if before.cpu_times and after.cpu_times and len(before.cpu_times) >= 8:
        d = [max(0, x - y) for x, y in zip(after.cpu_times, before.cpu_times)]
        total = sum(d[:8])
        if total > 0:
            cpu["steal_share"] = round(d[7] / total, 4)
            cpu["iowait_share"] = round(d[4] / total, 4)
            busy_s = (d[0] + d[1] + d[2] + d[5] + d[6]) / CLOCK_TICKS     # user nice system irq softirq
    if before.threads is not None and after.threads is not None:
        ran = waited = 0
        for key, (run_ns, wait_ns) in after.threads.items():
            run0, wait0 = before.threads.get(key, (0, 0))
            ran, waited = ran + max(run_ns - run0, 0), waited + max(wait_ns - wait0, 0)
        if ran + waited > 0:
            cpu["run_s"] = round(ran / 1e9, 4)
            cpu["wait_s"] = round(waited / 1e9, 4)
            cpu["wait_share"] = round(waited / (ran + waited), 4)
        if busy_s is not None and wall >= MIN_WALL_S:      # /proc/stat counts in 10 ms ticks
            others = max(0.0, busy_s - ran / 1e9)
            cpu["others_s"] = round(others, 4)
            cpu["contention"] = round(min(1.0, others / (_cpus() * wall)), 4)
    if cpu:
        out["cpu"] = cpu
    out["flags"] = flags(out)
    return out


def flags(state: dict) -> list[str]:
    cpu = state.get("cpu") or {}
    found = []
    if cpu.get("throttled_periods"):
        found.append("throttled")
    if (cpu.get("steal_share") or 0) > STOLEN_LIMIT:
        found.append("stolen")
    if (cpu.get("contention") or 0) > CONTENTION_LIMIT:    # the judge leaves such rounds out
        found.append("contended")
    gpu = state.get("gpu") or []
    if any(s.get("throttle_reasons") for s in gpu if isinstance(s, dict)):
        found.append("gpu_clock_events")
    return found


def contention(state: dict | None) -> float | None:
    """What the judge reads: the machine's CPU share other work used plus steal (None: unknown)."""
    cpu = (state or {}).get("cpu") or {}
    parts = [cpu.get("contention"), cpu.get("steal_share")]
    known = [p for p in parts if isinstance(p, (int, float))]
    return round(sum(known), 4) if known else None


# ---- readers (Linux; None where unreadable) ----------------------------------------------------

def _cgroup(pid: int | None) -> dict | None:
    try:
        # under a package of its own: the bench host's import_probe (describe) may point elsewhere in tests
        limits = import_probe("facts._cgroup", package="_stackprof_probes_host").limits(pid if pid else "self")
    except Exception:                     # noqa: BLE001 - state is context, never a failure
        return None
    throttling = limits.get("throttling") or {}
    return {"quota_cores": limits.get("cpu_quota_cores"), "period_s": limits.get("cpu_period_s"),
            "nr_periods": throttling.get("nr_periods"), "nr_throttled": throttling.get("nr_throttled"),
            "throttled_s": throttling.get("throttled_s")}


def _cpus() -> int:
    return os.cpu_count() or 1


def _descendants(pid: int) -> list[int]:
    """Processes started by the agent (inductor workers, torchrun ranks): their CPU time is the case's."""
    children: dict[int, list[int]] = {}
    try:
        names = [n for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []
    for name in names:
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def _proc_stat() -> tuple | None:
    try:
        with open("/proc/stat") as f:
            first = f.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    try:
        return tuple(int(v) for v in first[1:9])
    except ValueError:
        return None


def _schedstat(pid: int | None) -> dict | None:
    if not pid:
        return None
    threads = {}
    try:
        names = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in names:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run_ns, wait_ns = (int(v) for v in f.read().split()[:2])
        except (OSError, ValueError):
            continue
        threads[tid] = (run_ns, wait_ns)
    return threads

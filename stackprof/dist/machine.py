"""Raw machine-state snapshots around each per-device case of this rank (per-rank side; standard
library; Python 3.8): the CPU quota and throttling counters of its cgroup, /proc/stat's CPU times and
its own threads' run and run-queue-wait times. The host turns each pair into the record's `state`
with stackprof/machine_state.py (delta: throttled, stolen, contended) — the same computation as
`stackprof bench`, so the judge can leave out rounds in which other work held this rank's CPUs."""
import os
import time

from . import probe_loader


def snapshot():
    return {"at": time.monotonic(), "cgroup": _cgroup(), "cpu_times": _proc_stat(), "threads": _schedstat()}


def _cgroup():
    try:
        limits = probe_loader.load("facts._cgroup").limits("self")
    except Exception:
        return None
    throttling = limits.get("throttling") or {}
    return {"quota_cores": limits.get("cpu_quota_cores"), "period_s": limits.get("cpu_period_s"),
            "nr_periods": throttling.get("nr_periods"), "nr_throttled": throttling.get("nr_throttled"),
            "throttled_s": throttling.get("throttled_s")}


def _proc_stat():
    try:
        with open("/proc/stat") as handle:
            first = handle.readline().split()
        return [int(v) for v in first[1:9]] if first and first[0] == "cpu" else None
    except (OSError, ValueError):
        return None


def _schedstat():
    threads = {}
    try:
        names = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in names:
        try:
            with open("/proc/self/task/%s/schedstat" % tid) as handle:
                run_ns, wait_ns = (int(v) for v in handle.read().split()[:2])
        except (OSError, ValueError):
            continue
        threads[tid] = [run_ns, wait_ns]
    return threads


class CaseWatch(object):
    """Snapshots at each case's start (the probe's progress message) and at its record."""

    def __init__(self):
        self.before = None

    def started(self, _message):
        self.before = snapshot()

    def attach(self, record):
        if self.before is not None:
            record["machine"] = {"before": self.before, "after": snapshot()}
            self.before = None
        return record

"""Per-thread CPU time from /proc/<pid>/task/<tid>/stat, for the profiled process and its descendants.

py-spy only samples threads that carry a Python thread state; OpenMP and BLAS pool threads are
invisible to it. This sampler sees every thread: it polls /proc while the profile records and
keeps, per thread, the CPU time (user and system) spent inside the recording window, how often
it was seen running, and its name. Linux only; elsewhere ``available`` is False with a reason.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

PROC = "/proc"
POLL_S = 0.2          # 5 polls a second: cheap (a few small reads per thread) and enough for 2 s+ profiles


@dataclass
class ThreadSeen:
    pid: int
    tid: int
    name: str
    first_ticks: tuple[int, int]      # (utime, stime) when first seen
    last_ticks: tuple[int, int]
    first_s: float
    last_s: float
    started_in_window: bool           # created after the recording began: all of its CPU time counts
    polls: int = 0
    running: int = 0                  # polls that found it in state R


@dataclass
class ProcessSeen:
    pid: int
    ppid: int
    command: str
    first_s: float
    last_s: float


@dataclass
class ThreadCpu:
    """What the sampler saw; ``threads`` and ``processes`` keyed by tid / pid."""
    available: bool
    reason: str = ""
    ticks_per_s: int = 100
    window_s: float = 0.0
    threads: dict = field(default_factory=dict)
    processes: dict = field(default_factory=dict)


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return None


def parse_stat(text: str) -> dict | None:
    """Fields of /proc/.../stat that matter here; the name (field 2) may contain spaces and ')'."""
    try:
        head, _, rest = text.rpartition(")")
        name = head.split("(", 1)[1]
        fields = rest.split()
        return {"name": name, "state": fields[0], "ppid": int(fields[1]), "utime": int(fields[11]),
                "stime": int(fields[12]), "starttime": int(fields[19])}
    except (IndexError, ValueError):
        return None


def _boot_ticks_now(ticks_per_s: int) -> float:
    """Now, in the clock /proc's starttime uses (ticks since boot)."""
    uptime = _read(f"{PROC}/uptime")
    return float(uptime.split()[0]) * ticks_per_s if uptime else 0.0


class ThreadSampler:
    """``start()`` before the recording, ``stop()`` after it: returns a ThreadCpu."""

    def __init__(self, root_pid: int, *, descendants: bool = True, poll_s: float = POLL_S):
        self.root_pid = root_pid
        self.descendants = descendants
        self.poll_s = poll_s
        try:
            self.ticks_per_s = os.sysconf("SC_CLK_TCK")
        except (AttributeError, ValueError, OSError):
            self.ticks_per_s = 100
        self.available = os.path.isdir(f"{PROC}/{os.getpid()}/task")
        self._threads: dict[tuple[int, int], ThreadSeen] = {}
        self._processes: dict[int, ProcessSeen] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._start_ticks = 0.0

    def start(self) -> "ThreadSampler":
        self._t0 = time.monotonic()
        self._start_ticks = _boot_ticks_now(self.ticks_per_s)
        if self.available:
            self.poll()
            self._thread = threading.Thread(target=self._loop, name="stackprof-proc-sampler", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll()

    def stop(self) -> ThreadCpu:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        window = time.monotonic() - self._t0
        if not self.available:
            return ThreadCpu(False, "no /proc/<pid>/task on this system (not Linux)", self.ticks_per_s, window)
        self.poll()
        return ThreadCpu(True, "", self.ticks_per_s, window, dict(self._threads), dict(self._processes))

    # ---- one poll -------------------------------------------------------------------------------
    def pids(self) -> list[int]:
        if not self.descendants:
            return [self.root_pid]
        parents: dict[int, int] = {}
        try:
            entries = os.listdir(PROC)
        except OSError:
            return [self.root_pid]
        for entry in entries:
            if entry.isdigit():
                stat = _read(f"{PROC}/{entry}/stat")
                parsed = parse_stat(stat) if stat else None
                if parsed:
                    parents[int(entry)] = parsed["ppid"]
        wanted, changed = {self.root_pid}, True
        while changed:
            changed = False
            for pid, ppid in parents.items():
                if ppid in wanted and pid not in wanted:
                    wanted.add(pid)
                    changed = True
        return sorted(wanted)

    def poll(self) -> None:
        now = time.monotonic() - self._t0
        for pid in self.pids():
            try:
                tids = os.listdir(f"{PROC}/{pid}/task")
            except OSError:
                continue
            pstat = parse_stat(_read(f"{PROC}/{pid}/stat") or "")
            if pstat:
                seen = self._processes.get(pid)
                if seen is None:
                    cmd = (_read(f"{PROC}/{pid}/cmdline") or "").replace("\0", " ").strip()
                    self._processes[pid] = ProcessSeen(pid, pstat["ppid"], cmd or pstat["name"], now, now)
                else:
                    seen.last_s = now
            for tid_text in tids:
                stat = parse_stat(_read(f"{PROC}/{pid}/task/{tid_text}/stat") or "")
                if not stat:
                    continue
                tid, ticks = int(tid_text), (stat["utime"], stat["stime"])
                seen_t = self._threads.get((pid, tid))
                if seen_t is None:
                    seen_t = ThreadSeen(pid, tid, stat["name"], ticks, ticks, now, now,
                                        started_in_window=stat["starttime"] >= self._start_ticks - 1)
                    self._threads[(pid, tid)] = seen_t
                seen_t.last_ticks, seen_t.last_s, seen_t.name = ticks, now, stat["name"]
                seen_t.polls += 1
                seen_t.running += stat["state"] == "R"


def cpu_seconds(seen: ThreadSeen, ticks_per_s: int) -> tuple[float, float]:
    """(user, system) CPU seconds of one thread inside the window."""
    base = (0, 0) if seen.started_in_window else seen.first_ticks
    return ((seen.last_ticks[0] - base[0]) / ticks_per_s, (seen.last_ticks[1] - base[1]) / ticks_per_s)

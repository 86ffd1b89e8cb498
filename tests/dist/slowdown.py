"""Make one process tree really slower than its peer, for the straggler tests.

Preferred: a CPU quota in a cgroup of its own (cgroup v1 `cpu` controller: cpu.cfs_quota_us, or v2:
cpu.max), which the slowed rank's own facts then record (system.cgroup.cpu_quota_cores). Where this
machine does not let the tests create a cgroup, a competing CPU-bound process pinned to the same
core as the slowed process (its facts then record the narrower CPU affinity).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


class Slowdown:
    def __init__(self, quota_cores: float = 0.25):
        self.quota = quota_cores
        self.mode: str | None = None
        self.path: Path | None = None
        self.hog: subprocess.Popen | None = None
        self.cpu: int | None = None

    def __enter__(self) -> "Slowdown":
        name = f"stackprof-test-{os.getpid()}-{time.monotonic_ns()}"
        for make in (self._v1, self._v2):
            try:
                if make(name):
                    return self
            except OSError:
                self._remove()
        self._pin_hog()
        return self

    def _v1(self, name: str) -> bool:
        if not (V1 / "cpu.cfs_quota_us").exists() or not os.access(V1, os.W_OK):
            return False
        self.path = V1 / name
        self.path.mkdir()
        (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (self.path / "cpu.cfs_quota_us").write_text(str(int(self.quota * PERIOD_US)))
        self.mode = "cgroup-v1"
        return True

    def _v2(self, name: str) -> bool:
        controllers = V2 / "cgroup.subtree_control"
        if not controllers.exists() or "cpu" not in controllers.read_text().split() or not os.access(V2, os.W_OK):
            return False
        self.path = V2 / name
        self.path.mkdir()
        (self.path / "cpu.max").write_text(f"{int(self.quota * PERIOD_US)} {PERIOD_US}")
        self.mode = "cgroup-v2"
        return True

    def _pin_hog(self) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        self.cpu = cpus[-1]
        self.hog = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                    preexec_fn=lambda: os.sched_setaffinity(0, {self.cpu}))
        self.mode = "pinned-hog"

    def wrap(self, argv: list[str]) -> list[str]:
        """The command run inside the slowdown (its children inherit it)."""
        if self.mode and self.mode.startswith("cgroup"):
            return ["sh", "-c", f'echo $$ > {self.path / "cgroup.procs"} && exec "$@"', "sh", *argv]
        return ["taskset", "-c", str(self.cpu), *argv]

    @property
    def evidence(self) -> str:
        """The fact of the slowed rank that the report should show as differing."""
        return "system.cgroup.cpu_quota_cores" if self.mode.startswith("cgroup") else "system.affinity.count"

    def __exit__(self, *exc) -> None:
        if self.hog is not None:
            self.hog.kill()
            self.hog.wait()
        self._remove()

    def _remove(self) -> None:
        if self.path is None or not self.path.exists():
            return
        procs = self.path / "cgroup.procs"
        for _ in range(50):
            left = [int(p) for p in procs.read_text().split()] if procs.exists() else []
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)

"""Per-thread CPU time from /proc for a real process: a busy thread and an idle one, told apart."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from stackprof.profile.threads import ThreadSampler, cpu_seconds, parse_stat

PROGRAM = """
import threading, time
def busy():
    end = time.perf_counter() + 1.5
    while time.perf_counter() < end:
        pass
t = threading.Thread(target=busy, name="busy"); t.start()
time.sleep(2.0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux")
def test_busy_and_idle_threads_of_a_real_process():
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM])
    sampler = ThreadSampler(proc.pid, poll_s=0.1).start()
    time.sleep(1.8)
    result = sampler.stop()
    proc.wait()
    threads = {tid: seen for (pid, tid), seen in result.threads.items() if pid == proc.pid}
    assert len(threads) == 2
    main, other = threads[proc.pid], next(s for tid, s in threads.items() if tid != proc.pid)
    busy_cpu = sum(cpu_seconds(other, result.ticks_per_s))
    idle_cpu = sum(cpu_seconds(main, result.ticks_per_s)) - sum(main.first_ticks) / result.ticks_per_s
    assert busy_cpu > 0.3                 # a spinning thread: CPU time accrues (shared 2-CPU machine: ≥ 20%)
    assert idle_cpu < busy_cpu / 2        # the sleeping main thread barely uses any
    assert other.running > 0 and result.processes[proc.pid].command.startswith(sys.executable)


def test_stat_line_with_spaces_and_parentheses_in_the_name():
    line = "123 (my (odd) name) S 1 123 123 0 -1 4194560 10 0 0 0 250 30 0 0 20 0 3 0 9999 1 1"
    stat = parse_stat(line)
    assert stat == {"name": "my (odd) name", "state": "S", "ppid": 1, "utime": 250, "stime": 30, "starttime": 9999}
    assert parse_stat("garbage") is None

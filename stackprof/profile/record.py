"""Record a profile with py-spy: launch a command (or attach to a PID), sample it, keep the raw output.

stackprof starts the program itself (so it owns its exit status, its stdout/stderr stay the user's,
and ``--duration`` / Ctrl-C are handled here) and points ``py-spy record --pid`` at it; py-spy writes
collapsed stacks (``--format raw --threads``). While py-spy records, threads.ThreadSampler reads
per-thread CPU time from /proc. Nothing here interprets samples: that is attribute.py's job.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from stackprof.errors import StackprofError
from stackprof.profile import permissions
from stackprof.profile.threads import ThreadCpu, ThreadSampler

# Defaults chosen by measurement (benchmarks/profile_overhead.py, 2-core AMD EPYC VM): py-spy's blocking
# mode pauses the program at every sample — about 1 ms with native frames for a single-threaded program,
# more with more Python threads (each is unwound), 0.65 ms without native frames. At py-spy's 100 Hz that
# is 6–11% of a CPU-bound program's time; at 40 Hz the program still ran 5% slower, above the ≤ 5% goal.
# Native frames (which BLAS, oneDNN, CUDA…) need blocking mode, so with them the default rate is 25 Hz
# (≈ 2.5% paused, 1,500 samples a minute per thread); without them py-spy's non-blocking mode at 100 Hz
# costs ≈ 0%.
DEFAULT_RATE_NATIVE = 25
DEFAULT_RATE = 100
STOP_GRACE_S = 5.0            # SIGINT, then SIGTERM, then SIGKILL, this far apart
PYSPY_ENV = "STACKPROF_PYSPY"


class ProfileError(StackprofError):
    """A profile cannot be recorded at all (py-spy missing, PID absent, no permission…)."""


@dataclass
class Options:
    rate: int | None = None               # None: DEFAULT_RATE_NATIVE with native frames, else DEFAULT_RATE
    duration_s: float | None = None
    native: bool | None = None            # None: where py-spy supports it
    subprocesses: bool = False
    idle: bool = True
    nonblocking: bool | None = None       # None: blocking with native frames (required), else non-blocking


@dataclass
class Recording:
    mode: str                              # launch | attach
    pid: int | None                        # the profiled (root) process
    command: list = field(default_factory=list)
    raw_path: Path | None = None
    exit_status: int | None = None         # the launched program's: negative = killed by that signal
    wall_s: float = 0.0                    # py-spy's recording window
    started_utc: str = ""
    native: bool = False
    native_note: str = ""                  # why native frames are off, when they are
    nonblocking: bool = False
    interrupted: bool = False              # Ctrl-C
    stopped_after_duration: bool = False   # --duration ended it (a launched program still running is stopped)
    too_short: bool = False                # the launched program ended before py-spy's first sample
    pyspy: dict = field(default_factory=dict)     # path, version, args, what py-spy said, rusage
    threads: ThreadCpu | None = None
    notes: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def find_pyspy() -> str:
    """py-spy next to this interpreter (its pip package installs it in the venv's bin), else on PATH.
    $STACKPROF_PYSPY overrides both."""
    override = os.environ.get(PYSPY_ENV)
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise ProfileError(f"py-spy not found at ${PYSPY_ENV}={override}")
    beside = Path(sys.executable).parent / ("py-spy.exe" if os.name == "nt" else "py-spy")
    if beside.is_file():
        return str(beside)
    found = shutil.which("py-spy")
    if found:
        return found
    raise ProfileError("py-spy is not installed: pip install py-spy (it is a dependency of stackprof; "
                       f"looked in {beside.parent} and on PATH)")


def pyspy_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.strip().replace("py-spy ", "") or "unknown"


def native_support() -> tuple[bool, str]:
    """py-spy --native works on Linux x86-64/ARM and Windows x86-64 (py-spy README)."""
    machine = platform.machine().lower()
    if sys.platform.startswith("linux") and machine in ("x86_64", "amd64", "aarch64", "arm64", "armv7l"):
        return True, ""
    if sys.platform == "win32" and machine in ("amd64", "x86_64"):
        return True, ""
    return False, f"py-spy cannot collect native frames on {sys.platform}/{machine}"


def sampling(opts: Options, native: bool) -> tuple[int, bool]:
    """(rate, nonblocking) for this recording: what was asked, else the measured defaults."""
    nonblocking = (not native) if opts.nonblocking is None else (opts.nonblocking and not native)
    rate = opts.rate or (DEFAULT_RATE if nonblocking else DEFAULT_RATE_NATIVE if native else DEFAULT_RATE)
    return rate, nonblocking


def pyspy_args(pyspy: str, pid: int, raw: Path, opts: Options, native: bool) -> list[str]:
    rate, nonblocking = sampling(opts, native)
    args = [pyspy, "record", "--pid", str(pid), "--format", "raw", "--threads", "--output", str(raw),
            "--rate", str(rate)]
    if opts.duration_s:
        args += ["--duration", str(max(1, round(opts.duration_s)))]
    if native:
        args.append("--native")
    if opts.idle:
        args.append("--idle")
    if opts.subprocesses:
        args.append("--subprocesses")
    if nonblocking:
        args.append("--nonblocking")
    return args


_SUMMARY = re.compile(r"Samples: (\d+) Errors: (\d+)")
_NATIVE_UNSUPPORTED = re.compile(r"native", re.I)


def read_log(text: str) -> dict:
    """What py-spy said: its sample and error counts, late-sampling warnings, why it stopped."""
    info: dict = {"messages": []}
    for line in text.splitlines():
        line = line.strip().removeprefix("py-spy>").strip()
        if not line:
            continue
        if (m := _SUMMARY.search(line)):
            info["samples_reported"], info["errors_reported"] = int(m.group(1)), int(m.group(2))
        elif "behind in sampling" in line:
            info["late_warnings"] = info.get("late_warnings", 0) + 1
        elif line.startswith("Stopped sampling because"):
            info["stopped"] = line.removeprefix("Stopped sampling because").strip().rstrip(".")
        elif not line.startswith(("Sampling process", "You can use the flamegraph", "Wrote ")):
            info["messages"].append(line[:300])
    info["messages"] = info["messages"][-8:]
    return info


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Recorder:
    """One recording. ``launch(command)`` or ``attach(pid)``; both return a Recording."""

    def __init__(self, opts: Options, workdir: Path | None = None, say=None):
        self.opts = opts
        self.say = say or (lambda message: None)
        self.pyspy = find_pyspy()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="stackprof-profile-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        supported, why = native_support()
        self.native = supported and opts.native is not False
        if opts.native is False:
            self.native_note = "--no-native or --nonblocking: Python frames only"
        elif not supported:
            self.native_note = f"{'--native asked, but ' if opts.native else ''}{why}: Python frames only"
        else:
            self.native_note = ""

    # ---- entry points -------------------------------------------------------------------------
    def launch(self, command: list[str]) -> Recording:
        rec = self._new("launch", None, command)
        try:
            child = subprocess.Popen(command, preexec_fn=permissions.allow_parent_to_trace
                                     if os.name == "posix" else None)
        except FileNotFoundError:
            raise ProfileError(f"command not found: {command[0]}") from None
        except PermissionError:
            raise ProfileError(f"command is not executable: {command[0]}") from None
        except OSError as exc:
            raise ProfileError(f"cannot start {command[0]}: {exc.strerror or exc}") from None
        rec.pid = child.pid
        self._record(rec, child)
        return rec

    def attach(self, pid: int) -> Recording:
        problem = permissions.pid_problem(pid) or permissions.attach_problem(pid)
        if problem:
            raise ProfileError(problem)
        rec = self._new("attach", pid, [])
        self._record(rec, None)
        return rec

    # ---- the recording ----------------------------------------------------------------------------
    def _new(self, mode: str, pid: int | None, command: list[str]) -> Recording:
        return Recording(mode=mode, pid=pid, command=list(command), native=self.native,
                         native_note=self.native_note, nonblocking=sampling(self.opts, self.native)[1],
                         pyspy={"path": self.pyspy, "version": pyspy_version(self.pyspy)})

    def _record(self, rec: Recording, child: subprocess.Popen | None) -> None:
        raw = self.workdir / "profile.raw.txt"
        log_path = self.workdir / "py-spy.log"
        sampler = ThreadSampler(rec.pid).start()
        rec.started_utc = _utc_now()
        started = time.monotonic()
        args = pyspy_args(self.pyspy, rec.pid, raw, self.opts, rec.native)
        try:
            status = self._run_pyspy(rec, args, log_path, child)
            log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            if status != 0 and not raw.exists() and rec.native and _NATIVE_UNSUPPORTED.search(log) \
                    and (child is None or self._alive(rec, child)):
                # py-spy refused native unwinding here: record again without it, say so.
                rec.native, rec.native_note = False, f"py-spy could not collect native frames ({_last(log)})"
                rec.nonblocking = sampling(self.opts, False)[1]
                self.say(f"native frames unavailable, recording Python frames only: {_last(log)}")
                args = pyspy_args(self.pyspy, rec.pid, raw, self.opts, False)
                status = self._run_pyspy(rec, args, log_path, child)
                log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            rec.wall_s = round(time.monotonic() - started, 3)
            rec.pyspy.update(read_log(log), args=[Path(args[0]).name] + args[1:], exit_status=status)
            if child is not None:
                ended_first = not self._alive(rec, child)
                failed = status != 0 and not (raw.exists() and raw.stat().st_size > 0)
                if failed and not ended_first:
                    # py-spy cannot sample it: the program was started only to be profiled, so stop it now
                    # rather than leave the user waiting for a profile that will not come.
                    self.say(f"py-spy cannot sample the program ({_last(log)}): stopping it")
                    rec.notes.append("the program was stopped: py-spy could not sample it")
                    _stop(child)
                rec.too_short = failed and ended_first and rec.wall_s < 2.0
                self._finish_child(rec, child)
        except KeyboardInterrupt:          # a second Ctrl-C while stopping: keep what exists
            rec.interrupted = True
            if child is not None and self._alive(rec, child):
                child.kill()
        finally:
            rec.threads = sampler.stop()
        if raw.exists() and raw.stat().st_size > 0:
            rec.raw_path = raw
        else:
            why = _last(log_path.read_text(encoding="utf-8", errors="replace")) if log_path.exists() else ""
            if rec.too_short:
                rec.notes.append(f"the program ended before py-spy took a sample (py-spy: {why or 'no output'})")
            else:
                if rec.mode == "launch" and "python version" in why:
                    why += " (is the command a Python program? for a launcher or shell script, add --subprocesses)"
                rec.errors.append(f"py-spy recorded nothing: {why or 'no reason given'}")

    def _run_pyspy(self, rec: Recording, args: list[str], log_path: Path, child) -> int:
        with open(log_path, "wb") as log:
            spy = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                while not self._spy_done(rec, spy):
                    if child is not None and child.returncode is None:
                        self._reap(rec, child)      # a reaped program is gone: py-spy stops on its next sample
                    time.sleep(0.05)
                return spy.returncode
            except KeyboardInterrupt:
                rec.interrupted = True
                self.say("interrupted: stopping the profile, keeping what was recorded")
                if spy.poll() is None:
                    spy.send_signal(signal.SIGINT)      # py-spy writes what it has on SIGINT
                return _wait(spy, 30.0)

    @staticmethod
    def _spy_done(rec: Recording, spy: subprocess.Popen) -> bool:
        """wait4 on py-spy: its own CPU time tells how much the sampler competed with the program."""
        try:
            pid, status, usage = os.wait4(spy.pid, os.WNOHANG)
        except ChildProcessError:
            return spy.poll() is not None
        if pid != spy.pid:
            return False
        spy.returncode = os.waitstatus_to_exitcode(status)
        rec.pyspy["rusage"] = {"user_s": round(usage.ru_utime, 3), "sys_s": round(usage.ru_stime, 3)}
        return True

    def _alive(self, rec: Recording, child: subprocess.Popen) -> bool:
        if child.returncode is None:
            self._reap(rec, child)
        return child.returncode is None

    @staticmethod
    def _reap(rec: Recording, child: subprocess.Popen, block: bool = False) -> None:
        """wait4 rather than Popen.poll: the program's own CPU time (with its reaped children) comes
        with its exit status."""
        try:
            pid, status, usage = os.wait4(child.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            child.poll()
            return
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            rec.pyspy["program_rusage"] = {"user_s": round(usage.ru_utime, 3), "sys_s": round(usage.ru_stime, 3),
                                           "max_rss_kib": usage.ru_maxrss}

    def _finish_child(self, rec: Recording, child: subprocess.Popen) -> None:
        if self._alive(rec, child) and (rec.interrupted or self.opts.duration_s):
            if not rec.interrupted:
                rec.stopped_after_duration = True
                self.say(f"--duration {self.opts.duration_s:g} s reached: stopping the program")
            _stop(child)
        if child.returncode is None:
            self._reap(rec, child, block=True)
        rec.exit_status = child.returncode


def _wait(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
    except KeyboardInterrupt:
        proc.kill()
        return proc.wait()


def _stop(child: subprocess.Popen) -> None:
    """SIGINT (a Python program unwinds and can save), then SIGTERM, then SIGKILL."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(child.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            if _exited(child.pid):
                return
            time.sleep(0.05)


def _exited(pid: int) -> bool:
    """True once the process is a zombie or gone (left for wait4 to reap, with its rusage)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def _last(text: str) -> str:
    """py-spy's reason: its 'Error: …' line (a Rust backtrace may follow it), else its last message."""
    lines = [ln.strip().removeprefix("py-spy>").strip() for ln in text.splitlines()]
    errors = [ln for ln in lines if ln.startswith(("Error:", "Permission Denied"))]
    if errors:
        return errors[-1].removeprefix("Error:").strip()[:300]
    lines = [ln for ln in lines if ln and not ln.startswith(("Sampling process", "You can use the flamegraph",
                                                             "Stack backtrace:")) and not ln[:1].isdigit()]
    return lines[-1][:300] if lines else ""

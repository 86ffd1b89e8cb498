"""The interpreter being diagnosed, and the only place that spawns probe subprocesses.

A Session keeps one agent subprocess warm and runs tasks in it one by one (frameworks are imported
once) as it streams JSON lines. If it hangs past a task's timeout or dies, it is killed, the task in flight
becomes an error entry, and a fresh agent is started for the tasks still to run.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from stackprof.errors import TargetError
from stackprof.paths import probes_dir

MIN_TARGET_PYTHON = (3, 8)
DEFAULT_TIMEOUT_S = 60.0


@dataclass
class Task:
    probe: str                       # e.g. "facts.system", "bench.gemm"
    args: dict = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass
class TaskResult:
    probe: str
    ok: bool
    data: object = None
    records: list = field(default_factory=list)   # streamed items, kept even if the task failed
    error: str | None = None
    kind: str | None = None          # exception | timeout | crash
    elapsed_s: float = 0.0

    def as_error(self) -> dict:
        return {"stage": "probe", "source": self.probe, "kind": self.kind, "message": self.error}


Listener = Callable[[dict], None]


class Target:
    """A Python interpreter to probe, validated on construction."""

    def __init__(self, python: str | os.PathLike, *, validate: bool = True):
        self.requested = str(python)
        self.executable = self._resolve(self.requested)
        self.version: tuple[int, ...] = ()
        self.start_s: float | None = None      # measured agent start (interpreter + agent), last run_tasks
        if validate:
            self.version = self._check_version()

    @staticmethod
    def _resolve(python: str) -> str:
        path = Path(python).expanduser()
        if os.sep not in python and not path.exists():
            found = shutil.which(python)
            if found:
                return found
        if not path.exists():
            raise TargetError(f"Python interpreter not found: {python}")
        if path.is_dir():
            raise TargetError(f"not a Python interpreter (a directory): {python}")
        if not os.access(path, os.X_OK):
            raise TargetError(f"not executable: {python}")
        # Keep venv symlinks as given: resolving them would leave the venv.
        return str(path.absolute())

    def _check_version(self) -> tuple[int, ...]:
        code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
        try:
            out = subprocess.run([self.executable, "-c", code], capture_output=True, text=True,
                                 timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            raise TargetError(f"not a working Python interpreter: {self.requested} ({exc.__class__.__name__}: {exc})") from None
        text = out.stdout.strip()
        try:
            version = tuple(int(p) for p in text.split("."))
        except ValueError:
            version = ()
        if out.returncode != 0 or len(version) != 3:
            reason = (out.stderr.strip().splitlines() or ["no version printed"])[-1]
            raise TargetError(f"not a working Python interpreter: {self.requested} ({reason[:200]})")
        if version < MIN_TARGET_PYTHON:
            raise TargetError(f"{self.requested} is Python {text}; stackprof probes need Python >= 3.8")
        return version

    def run_probe(self, name: str, args: dict | None = None, env_overrides: dict | None = None,
                  timeout: float = DEFAULT_TIMEOUT_S) -> TaskResult:
        return self.run_tasks([Task(name, args or {}, timeout)], env_overrides=env_overrides)[0]

    def run_tasks(self, tasks: Iterable[Task], env_overrides: dict | None = None,
                  listener: Listener | None = None) -> list[TaskResult]:
        """Run tasks in one warm agent (restarted after a hang or crash); one result per task."""
        with self.session(env_overrides, listener) as session:
            results = [session.run(task) for task in tasks]
            self.start_s = session.start_s
            return results

    def session(self, env_overrides: dict | None = None, listener: Listener | None = None) -> "Session":
        return Session(self.executable, _child_env(env_overrides), listener)


def _child_env(overrides: dict | None) -> dict:
    env = dict(os.environ)          # the patient's environment, unchanged unless an experiment says so
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


STARTUP_TIMEOUT_S = 60.0


class Session:
    """A warm agent process in the target. Tasks run one at a time as they are submitted, so a
    framework is imported once; after a hang or crash the agent is killed and the next task
    starts a fresh one."""

    def __init__(self, python: str, env: dict, listener: Listener | None = None):
        self.python, self.env, self.listener = python, env, listener
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue | None = None
        self.stderr_file = None
        self.starts = 0
        self.start_s: float | None = None      # seconds from launch to the agent's hello (last start)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, task: Task) -> TaskResult:
        started = time.monotonic()
        if self.proc is None:
            failure = self._start()
            if failure:
                return TaskResult(task.probe, False, error=failure, kind="crash")
        try:
            self.proc.stdin.write((json.dumps({"probe": task.probe, "args": task.args}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            pass                                   # the read below reports the dead process
        result = TaskResult(task.probe, False)
        deadline = time.monotonic() + task.timeout_s
        while True:
            event = self._next(deadline)
            if event == "timeout":
                result.kind = "timeout"
                result.error = f"probe '{task.probe}' did not finish within {task.timeout_s:.0f} s; it was stopped"
                break
            if event == "eof":
                code = self._reap()
                result.kind = "crash"
                result.error = (f"interpreter exited during probe '{task.probe}' "
                                f"({_describe_exit(code)}){_stderr_tail(self.stderr_file)}")
                break
            kind = event.get("event")
            if self.listener and kind in ("start", "progress", "record", "result"):
                self.listener(event)
            if kind == "start":
                deadline = time.monotonic() + task.timeout_s
            elif kind == "record":
                result.records.append(event.get("data"))
            elif kind == "result":
                result.ok = bool(event.get("ok"))
                result.data = event.get("data")
                result.error = event.get("error")
                result.kind = None if result.ok else "exception"
                result.elapsed_s = float(event.get("elapsed_s") or 0.0)
                return result
        result.elapsed_s = time.monotonic() - started
        self._stop()
        return result

    def _start(self) -> str | None:
        agent = probes_dir() / "agent.py"
        self.stderr_file = tempfile.TemporaryFile(mode="w+b")
        self.starts += 1
        launched = time.monotonic()
        try:
            self.proc = subprocess.Popen([self.python, str(agent)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.stderr_file, env=self.env,
                                         start_new_session=True)
        except OSError as exc:
            self.proc = None
            return f"cannot start interpreter: {exc}"
        self.lines = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        event = self._next(time.monotonic() + STARTUP_TIMEOUT_S)
        if isinstance(event, dict) and event.get("event") == "hello":
            self.start_s = time.monotonic() - launched
            return None
        if event == "timeout":
            reason = f"agent did not start within {STARTUP_TIMEOUT_S:.0f} s"
        else:
            reason = f"agent failed to start ({_describe_exit(self._reap())}){_stderr_tail(self.stderr_file)}"
        self._stop()
        return reason

    def _next(self, deadline: float):
        """The next protocol event, or "timeout" / "eof"."""
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return "timeout"
            if line is None:
                return "eof"
            try:
                event = json.loads(line)
            except ValueError:
                continue                              # not ours; the protocol lines are JSON
            if isinstance(event, dict):
                return event

    def _reap(self) -> int | None:
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None

    def _stop(self) -> None:
        if self.proc is not None:
            _kill(self.proc)
        if self.stderr_file is not None:
            self.stderr_file.close()
        self.proc, self.lines, self.stderr_file = None, None, None

    def pause(self) -> None:
        """Stop the agent and its threads (SIGSTOP to its process group) while another process measures:
        idle BLAS/OpenMP threads may still spin after their last call and would take the CPUs."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signum)
            except OSError:
                pass                          # it just exited: the next task starts a fresh one

    def close(self) -> None:
        self.resume()                         # never leave a stopped process behind
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._stop()


def _pump(stream, lines: queue.Queue) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8", "replace"))
    lines.put(None)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _stderr_tail(stderr_file) -> str:
    try:
        stderr_file.seek(0)
        text = stderr_file.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    tail = " ".join(text[-1:]).strip()
    return f": {tail[:300]}" if tail else ""

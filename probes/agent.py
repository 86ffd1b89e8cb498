"""stackprof probe agent: runs in the TARGET interpreter, executes probe tasks in sequence and
streams one JSON line per event on its original stdout.

Requests (stdin): one JSON task per line, {"probe": "facts.system", "args": {...}}; the agent runs
each as it arrives (so the host can keep one process warm and interleave targets) and exits on EOF.
Events (stdout, one JSON object per line):
  {"event": "hello", "python": [3, 11, 7], "pid": 123}
  {"event": "start", "probe": P}
  {"event": "progress", "probe": P, "message": "..."}
  {"event": "record", "probe": P, "data": {...}}          # streamed items (benchmarks)
  {"event": "result", "probe": P, "ok": true, "data": {...}, "elapsed_s": 0.1}
  {"event": "result", "probe": P, "ok": false, "error": "one line", "traceback": "..."}
  {"event": "done"}
Anything a probe or a native library writes to fd 1 is diverted to stderr so the stream stays clean.
Must parse under Python 3.8 and use only the standard library.
"""
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback

PACKAGE = "_stackprof_probes"
PROBES_DIR = os.path.dirname(os.path.abspath(__file__))


def _detach_own_dir():
    # Running "python agent.py" puts this folder first on sys.path; remove it so that a probe
    # module named like a real package (torch, numpy...) can never shadow the target's.
    while sys.path and os.path.abspath(sys.path[0] or ".") == PROBES_DIR:
        sys.path.pop(0)


def _install_package():
    spec = importlib.util.spec_from_file_location(
        PACKAGE, os.path.join(PROBES_DIR, "__init__.py"),
        submodule_search_locations=[PROBES_DIR])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


class _Stream(object):
    def __init__(self, fd):
        self._out = os.fdopen(fd, "w", buffering=1)

    def send(self, obj):
        self._out.write(json.dumps(obj, default=_json_default, allow_nan=True) + "\n")
        self._out.flush()


def _json_default(value):
    try:
        return str(value)
    except Exception:
        return repr(value)


class Context(object):
    """Handed to every probe: progress reporting, streamed records, the task's arguments."""

    def __init__(self, stream, probe):
        self._stream = stream
        self.probe = probe

    def progress(self, message):
        self._stream.send({"event": "progress", "probe": self.probe, "message": str(message)})

    def record(self, data):
        self._stream.send({"event": "record", "probe": self.probe, "data": data})


def _one_line(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    text = " ".join(text.split())
    return text[:500]


def run_task(stream, task):
    name = task["probe"]
    args = task.get("args") or {}
    stream.send({"event": "start", "probe": name})
    started = time.perf_counter()
    try:
        module = importlib.import_module(PACKAGE + "." + name)
        ctx = Context(stream, name)
        if hasattr(module, "collect"):
            data = module.collect(ctx, **args)
        else:
            count = 0
            for item in module.run(ctx, **args):
                ctx.record(item)
                count += 1
            data = {"records": count}
        stream.send({"event": "result", "probe": name, "ok": True, "data": data,
                     "elapsed_s": time.perf_counter() - started})
    except BaseException as exc:  # a probe must never take the agent down
        if isinstance(exc, KeyboardInterrupt):
            raise
        stream.send({"event": "result", "probe": name, "ok": False, "error": _one_line(exc),
                     "traceback": traceback.format_exc()[-4000:],
                     "elapsed_s": time.perf_counter() - started})


def main():
    _detach_own_dir()
    # Keep the real stdout for the protocol; point fd 1 at stderr for everything else.
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stream = _Stream(protocol_fd)
    stream.send({"event": "hello", "python": list(sys.version_info[:3]), "pid": os.getpid(),
                 "executable": sys.executable})
    _install_package()
    for line in sys.stdin:
        if line.strip():
            run_task(stream, json.loads(line))
    stream.send({"event": "done"})
    # Skip interpreter teardown: nothing is left to do, and torch's alone takes ~0.3 s.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

"""The probes, loaded into this rank the way probes/agent.py loads them in a target (per-rank side):
from their folder beside the package (``_probes`` in a wheel, ``probes/`` in a checkout — the same
search as stackprof/paths.py) under the synthetic package ``_stackprof_probes``, so they can never
shadow one of the environment's packages. Standard library only; Python 3.8 syntax."""
import importlib
import importlib.util
import os
import sys
import time
import traceback

PACKAGE = "_stackprof_probes"
HERE = os.path.dirname(os.path.abspath(__file__))


def probes_dir():
    package = os.path.dirname(HERE)                        # .../stackprof
    for candidate in (os.path.join(package, "_probes"), os.path.join(os.path.dirname(package), "probes")):
        if os.path.isfile(os.path.join(candidate, "agent.py")):
            return candidate
    raise RuntimeError("stackprof's probes folder was not found beside %s" % package)


def stackprof_version():
    """__version__ of the stackprof package this folder belongs to, read without importing it."""
    try:
        with open(os.path.join(os.path.dirname(HERE), "__init__.py")) as handle:
            for line in handle:
                if line.startswith("__version__"):
                    return line.split("=", 1)[1].strip().strip("\"'")
    except OSError:
        pass
    return None


def load(name):
    if PACKAGE not in sys.modules:
        root = probes_dir()
        spec = importlib.util.spec_from_file_location(PACKAGE, os.path.join(root, "__init__.py"),
                                                      submodule_search_locations=[root])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
    return importlib.import_module(PACKAGE + "." + name)


class Context(object):
    """What a probe expects from the agent: progress messages and streamed records."""

    def __init__(self, progress=None, record=None):
        self._progress, self._record = progress, record

    def progress(self, message):
        if self._progress is not None:
            self._progress(str(message))

    def record(self, data):
        if self._record is not None:
            self._record(data)


def collect_facts(probes, progress=None):
    """{section: facts} and errors[]; a probe that fails is an error entry, never a lost rank."""
    environment, errors = {}, []
    for probe, section in probes:
        started = time.perf_counter()
        if progress is not None:
            progress(probe)
        try:
            data = load(probe).collect(Context(progress))
            environment[section] = data
            for message in data.get("errors") or [] if isinstance(data, dict) else []:
                errors.append({"source": probe, "kind": "partial", "message": str(message)[:400]})
        except Exception as exc:
            text = ("%s: %s" % (type(exc).__name__, exc))[:400]
            environment[section] = {"status": "error", "error": text}
            errors.append({"source": probe, "kind": "exception", "message": text,
                           "traceback": traceback.format_exc()[-2000:]})
        environment.setdefault("_timings", {})[section] = round(time.perf_counter() - started, 3)
    timings = environment.pop("_timings", {})
    return {"environment": environment, "errors": errors, "timings": timings}


def run_benchmark(probe, args, on_record, progress=None):
    """Run one benchmark probe's generator, handing each record over as soon as it exists. If the probe
    raises, the cases it did not report come back as failed records (as stackprof bench does), and the
    error is returned as one line (None when all went well)."""
    module = load(probe)
    seen = set()
    try:
        for record in module.run(Context(progress), **args):
            seen.add(record.get("id"))
            on_record(record)
        return None
    except Exception as exc:
        error = ("%s: %s" % (type(exc).__name__, exc))[:400]
    harness = load("harness")
    for case in args.get("cases") or []:
        try:
            record = harness.base_record(module.describe(args["framework"], args["device"], case), probe,
                                         dict(args, cases=[case]))
        except Exception:
            continue
        if record["id"] not in seen:
            record["status"], record["reason"] = "failed", "not measured: %s raised %s" % (probe, error)
            on_record(record)
    return error

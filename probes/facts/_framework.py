"""Importing the framework a probe inspects: once, timed, never fatal.

A framework that is not installed gives {"installed": False} without importing anything; one whose
import raises gives {"installed": True, "import_error": "<one line>"} plus an errors[] entry.
"""
import importlib
import importlib.util
import sys
import time

from . import _native


def one_line(exc):
    text = " ".join(("%s: %s" % (type(exc).__name__, exc)).split())
    return text[:400]


def installed(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def dist_version(dist_name):
    try:
        from importlib import metadata
        return metadata.version(dist_name)
    except Exception:
        return None


class Imported(object):
    """The result of importing one framework: module or error, seconds, libraries it loaded."""

    def __init__(self, name):
        self.name = name
        self.already = name in sys.modules
        before = set(_native.mapped_paths() or [])
        started = time.perf_counter()
        self.module, self.error = None, None
        try:
            self.module = importlib.import_module(name)
        except BaseException as exc:  # SystemExit and friends from a broken package are data too
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.error = one_line(exc)
        self.seconds = None if self.already else round(time.perf_counter() - started, 4)
        after = _native.mapped_paths() or []
        self.new_libraries = [p for p in after if p not in before]

    def failure(self, extra=None):
        facts = {"installed": True, "import_error": self.error, "import_s": self.seconds,
                 "errors": ["%s: import failed: %s" % (self.name, self.error)]}
        facts.update(extra or {})
        return facts

"""Locate the data folders that ship beside the package (probes/, reports/).

In a wheel they live inside the package as ``_probes``/``_reports``; in a checkout
(or an editable install) they are the top-level ``probes/``/``reports/`` folders.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(installed: str, checkout: str) -> Path:
    for candidate in (_PKG / installed, _PKG.parent / checkout):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"stackprof data folder '{checkout}' not found beside {_PKG}")


def probes_dir() -> Path:
    return _find("_probes", "probes")


def reports_dir() -> Path:
    return _find("_reports", "reports")


PROBE_PACKAGE = "_stackprof_probes"      # the name probes/agent.py gives the folder in the target


def import_probe(name: str, root: Path | None = None, package: str = PROBE_PACKAGE):
    """Import probes/<name>.py into THIS process the way the agent does in the target (under a
    synthetic package, so relative imports work and nothing shadows real packages): the host
    reuses the probes' stdlib-only parts (e.g. describe()) instead of writing them twice."""
    if package not in sys.modules:
        root = root or probes_dir()
        spec = importlib.util.spec_from_file_location(package, root / "__init__.py",
                                                      submodule_search_locations=[str(root)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.{name}")

"""Locate the data folders that ship beside the package (probes/, reports/).

In a wheel they live inside the package as ``_probes``/``_reports``; in a checkout
(or an editable install) they are the top-level ``probes/``/``reports/`` folders.
"""
from __future__ import annotations

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

"""Load captured Run fixtures and apply minimal, explicit edits to them (dotted paths, [i] for lists)."""
from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path

from stackprof.model import Run

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@lru_cache(maxsize=None)
def _load(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


def fixture(name: str) -> dict:
    """A fresh copy of tests/fixtures/runs/<name>.json."""
    return json.loads(_load(name))


def as_run(doc: dict) -> Run:
    return Run.from_dict(copy.deepcopy(doc))


def set_path(doc: dict, path: str, value) -> dict:
    """set_path(doc, "environment.torch.cuda.devices[0].capability", "8.0"); missing dicts are created."""
    parts = [(name, int(index) if index else None) for name, index in _PART.findall(path)]
    node = doc
    for (name, index), nxt in zip(parts, parts[1:] + [None]):
        key = name if index is None else index
        last = nxt is None
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and not isinstance(node.get(key), (dict, list)):
                node[key] = [] if nxt[1] is not None else {}
            node = node[key]
    return doc


def env_var(doc: dict, name: str, value) -> dict:
    return set_path(doc, f"environment.env_vars.vars.{name}", value)


def library(doc: dict, internal_api: str) -> int:
    """Index in native_libs.libraries of the first library with this internal_api."""
    libs = doc["environment"]["native_libs"]["libraries"]
    return next(i for i, lib in enumerate(libs) if lib.get("internal_api") == internal_api)

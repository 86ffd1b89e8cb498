"""Renderers: one module per output format, each exposing ``render(run) -> str``."""
from __future__ import annotations

from importlib import import_module

FORMATS = {
    "json": "stackprof.render.json_doc",
    "terminal": "stackprof.render.terminal",
    "md": "stackprof.render.markdown",
}


def render(run, fmt: str) -> str:
    return import_module(FORMATS[fmt]).render(run)

"""Renderers: one module per output format, each exposing ``render(run, **options) -> str``.

html: one self-contained page (html.py also builds other pages on the same shell); md: a GitHub
comment; terminal: a short summary; json: the Run document itself.
"""
from __future__ import annotations

from importlib import import_module

FORMATS = {
    "json": "stackprof.render.json_doc",
    "terminal": "stackprof.render.terminal",
    "md": "stackprof.render.markdown",
    "html": "stackprof.render.html",
}


def render(run, fmt: str, **options) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return import_module(FORMATS[fmt]).render(run, **options)

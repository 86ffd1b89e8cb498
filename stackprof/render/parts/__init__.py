"""Optional report parts: sections that exist only when the Run has the data (a workload profile,
per-rank results of a distributed run, …). One module per part, one registration line in PARTS.

A part module exposes:
    html(run) -> stackprof.render.html.Section | None   (body: escaped Markup built with html.macros())
    figures(run) -> list                                 (plotly figures its html body charts with
                                                          macros().chart(fig); they are only inlined
                                                          for plotly, not drawn again under Charts)
    markdown(run) -> str | None                          (a Markdown block, already escaped with render.fmt's md_*)
    terminal(run) -> str                                 (optional: a plain-text block for the terminal summary;
                                                          "" when absent)
Each returns None when the Run has nothing for it, so a plain Run renders exactly as before.
"""
from __future__ import annotations

from importlib import import_module

PARTS: tuple[str, ...] = (
    "stackprof.render.parts.cold_start",
    "stackprof.render.parts.profile",
    "stackprof.render.parts.dist",
)


def modules():
    return [import_module(name) for name in PARTS]

"""Writing a Comparison: comparison.json, comparison.md and comparison.html in one folder."""
from __future__ import annotations

import json
from pathlib import Path

from stackprof.errors import StackprofError

FILES = {"json": "comparison.json", "md": "comparison.md", "html": "comparison.html"}


def render_comparison(comparison: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(comparison, indent=1, default=str, allow_nan=False) + "\n"
    if fmt == "md":
        from stackprof.render.compare_markdown import render
    elif fmt == "html":
        from stackprof.render.compare_html import render
    elif fmt == "terminal":
        from stackprof.render.compare_terminal import render
    else:
        raise ValueError(f"unknown comparison format {fmt!r}")
    return render(comparison)


def write_comparison(comparison: dict, outdir: str | Path) -> dict[str, Path]:
    """Write the three files (each atomically: never a half-written document); {format: path}."""
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StackprofError(f"cannot create output folder {outdir}: {exc.strerror or exc}") from None
    written = {}
    for fmt, name in FILES.items():
        path = outdir / name
        tmp = path.with_name(name + ".tmp")
        try:
            tmp.write_text(render_comparison(comparison, fmt), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            raise StackprofError(f"cannot write {path}: {exc.strerror or exc}") from None
        written[fmt] = path
    return written

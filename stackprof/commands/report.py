"""stackprof report: re-render a report from a run.json, or from the Run embedded in a report.html."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stackprof.errors import DocumentError
from stackprof.model import Run, load_run
from stackprof.render import render

SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".json": "json", ".txt": "terminal"}
# The Run's fields and the JSON type each must have for the renderers to read them.
FIELD_TYPES = {"environment": dict, "benchmarks": list, "findings": list, "headline": dict, "errors": list,
               "target": dict, "options": dict, "timings": dict, "tool": dict}


@click.command("report")
@click.argument("source", metavar="RUN.json|report.html")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json", "terminal"]), default=None,
              help="Output format. Default: from the -o file's suffix, else terminal.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: stdout).")
def command(source, fmt, output):
    """Re-render a report from the Run document alone (no probing, no measuring)."""
    run = load_run(source)
    check_shape(run, source)
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(Path(output).suffix.lower(), "terminal") if output else "terminal"
    if output:
        text = render(run, fmt, **({"color": False} if fmt == "terminal" else {}))
        path = Path(output)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            raise DocumentError(f"{output}: cannot write ({exc.strerror or exc})") from None
        click.echo(f"wrote {path} ({fmt}, {len(text.encode('utf-8')):,} bytes)", err=True)
    else:
        click.echo(render(run, fmt), nl=False)
        sys.stdout.flush()


def check_shape(run: Run, source: str) -> None:
    """One clear line when a document has the right schema but fields of the wrong type."""
    for name, kind in FIELD_TYPES.items():
        if not isinstance(getattr(run, name), kind):
            raise DocumentError(f"{source}: field '{name}' is not a JSON {'object' if kind is dict else 'array'}")

"""stackprof compare: two or more runs side by side, with the differences explained."""
from __future__ import annotations

import click

from stackprof.commands.options import format_option
from stackprof.compare import compare_runs, load_runs
from stackprof.render.compare_output import render_comparison, write_comparison

DEFAULT_OUTDIR = "stackprof-compare"


@click.command("compare")
@click.argument("documents", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default=DEFAULT_OUTDIR,
              show_default=True, help="Folder for comparison.html, comparison.md and comparison.json.")
@format_option
def command(documents, outdir, fmt):
    """Compare runs: A.json B.json [C.json …] (run.json or report.html files).

    Every run is compared with the first (the baseline): the facts that differ, a verdict per
    benchmark (Mann-Whitney U and a minimum effect size) and the facts that explain each difference.
    """
    if len(documents) < 2:
        raise click.UsageError("compare needs at least two runs: stackprof compare A.json B.json [C.json …]")
    comparison = compare_runs(load_runs(list(documents)))
    written = write_comparison(comparison, outdir)
    click.echo(render_comparison(comparison, fmt), nl=False)
    click.echo("wrote " + ", ".join(str(p) for p in written.values()), err=True)

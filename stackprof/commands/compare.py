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
@click.option("--remeasure", is_flag=True, default=False,
              help="Re-run both sides' common benchmarks here, interleaved, each with the performance environment "
                   "variables its run recorded (needs both interpreters on this machine); the original verdicts are "
                   "kept in the comparison.")
@format_option
def command(documents, outdir, remeasure, fmt):
    """Compare runs: A.json B.json [C.json …] (run.json or report.html files).

    Every run is compared with the first (the baseline): the facts that differ, a verdict per
    benchmark (Mann-Whitney U and a minimum effect size) and the facts that explain each difference.
    """
    if len(documents) < 2:
        raise click.UsageError("compare needs at least two runs: stackprof compare A.json B.json [C.json …]")
    runs = load_runs(list(documents))
    if remeasure:
        from stackprof import remeasure as again
        fresh = again.remeasure(runs, echo=lambda message: click.echo(f"stackprof: {message}", err=True))
        comparison = compare_runs(fresh)
        comparison["remeasured"] = {"from": [r.run_id for r in runs], "original_pairs": again.originals(compare_runs(runs)),
                                    "restored_env": [r.options.get("restored_env") for r in fresh],
                                    "notes": [n for r in fresh for n in r.options.get("restore_notes") or []]}
        said = "; ".join(f"{p['b']} vs {p['a']}: " + ", ".join(f"{n} {v}" for v, n in sorted(p["counts"].items()))
                         for p in comparison["remeasured"]["original_pairs"])
        comparison["notes"].append("Re-measured here with --remeasure: both sides' common benchmarks ran again "
                                   "interleaved, each with the performance variables its run recorded. The runs as "
                                   f"measured apart said: {said}.")
    else:
        comparison = compare_runs(runs)
    written = write_comparison(comparison, outdir)
    click.echo(render_comparison(comparison, fmt), nl=False)
    click.echo("wrote " + ", ".join(str(p) for p in written.values()), err=True)

"""stackprof probe: the environment report (facts only, no benchmarks)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stackprof.commands.options import label_option, outdir_option, python_option, redact_option
from stackprof.pipeline import finalize, labels_for, new_run, targets_for
from stackprof.collect import collect_facts
from stackprof.render import render


@click.command("probe")
@python_option
@label_option
@redact_option
@outdir_option
@click.option("--format", "fmt", type=click.Choice(["terminal", "md", "json"]), default="terminal",
              help="What to print on stdout.")
def command(pythons, labels, no_redact, outdir, fmt):
    """Report how the frameworks in an environment were built and installed."""
    targets = targets_for(pythons)           # validates every interpreter before any work
    names = labels_for(targets, labels)
    for target, label in zip(targets, names):
        run = new_run(label, mode="probe", redact=not no_redact)
        collect_facts(target, run)
        run = finalize(run, redact=not no_redact)
        click.echo(render(run, fmt), nl=False)
        if outdir:
            out = Path(outdir) / (label if len(targets) > 1 else "")
            out.mkdir(parents=True, exist_ok=True)
            run.save(out / "run.json")
            (out / "summary.md").write_text(render(run, "md"), encoding="utf-8")
            click.echo(f"wrote {out / 'run.json'} and {out / 'summary.md'}", err=True)
    sys.stdout.flush()

"""stackprof probe: the environment report (facts only, no benchmarks)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stackprof.commands.options import format_option, label_option, outdir_option, python_option, redact_option
from stackprof.pipeline import finalize, labels_for, new_run, targets_for
from stackprof.collect import CALLING_PROBES, collect_facts, probe_timeouts
from stackprof.render import render


@click.command("probe")
@python_option
@label_option
@redact_option
@outdir_option
@format_option
@click.option("--probe-timeout", "probe_timeout", type=float, default=None, metavar="SECONDS",
              help="Time limit for each fact probe (default: 10-120 s per probe, scaled by "
                   "$STACKPROF_PROBE_TIMEOUT_SCALE).")
@click.option("--kernels", is_flag=True, default=False,
              help="Also run a tiny GEMM per library with its verbose output on, to record which kernel oneDNN and "
                   "oneMKL dispatch (about 0.2-0.6 s; `stackprof run` always does).")
def command(pythons, labels, no_redact, outdir, fmt, probe_timeout, kernels):
    """Report how the frameworks in an environment were built and installed."""
    probe_timeouts(probe_timeout)            # a bad value fails before any work
    targets = targets_for(pythons)           # validates every interpreter before any work
    names = labels_for(targets, labels)
    for target, label in zip(targets, names):
        options = {"probe_timeout_s": probe_timeout} if probe_timeout is not None else {}
        run = new_run(label, mode="probe", redact=not no_redact, **options)
        collect_facts(target, run, timeout_s=probe_timeout, exclude=() if kernels else CALLING_PROBES)
        run = finalize(run, redact=not no_redact)
        text = render(run, fmt)
        click.echo(text, nl=not text.endswith("\n"))
        if outdir:
            out = Path(outdir) / (label if len(targets) > 1 else "")
            out.mkdir(parents=True, exist_ok=True)
            run.save(out / "run.json")
            (out / "summary.md").write_text(render(run, "md"), encoding="utf-8")
            click.echo(f"wrote {out / 'run.json'} and {out / 'summary.md'}", err=True)
    sys.stdout.flush()

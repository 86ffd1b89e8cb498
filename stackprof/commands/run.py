"""stackprof run: probe + bench + analyze + verify + render, for one or several interpreters."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stackprof.commands.options import device_option, label_option, only_option, python_option, redact_option
from stackprof.pipeline import diagnose, finalize, labels_for, new_run, targets_for, write_outputs

DEFAULT_OUTDIR = "stackprof-report"


@click.command("run")
@click.option("--quick", "mode", flag_value="quick",
              help="A small benchmark set: about 15 s on 2 cores, 20-35 s when findings are re-measured; no torch.compile.")
@click.option("--full", "mode", flag_value="full", help="Every benchmark and shape, more repetitions.")
@python_option
@label_option
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default=DEFAULT_OUTDIR,
              show_default=True, help="Directory for report.html, report.md and run.json.")
@click.option("--budget", "budget", type=click.FloatRange(min=1.0), default=None, metavar="SECONDS",
              help="Wall-clock budget for benchmarks plus verification (default: set by the mode).")
@click.option("--no-verify", is_flag=True, default=False, help="Do not re-measure findings by experiment.")
@only_option
@device_option
@redact_option
@click.option("--profile", "profile", is_flag=True, default=False,
              help="Also profile COMMAND (given after --) with py-spy, in the same Run and report "
                   "(the defaults of `stackprof profile`).")
@click.argument("program", nargs=-1, type=click.UNPROCESSED, metavar="[-- COMMAND [ARGS]…]")
def command(mode, pythons, labels, outdir, budget, no_verify, only, device, no_redact, profile, program):
    """Diagnose an environment: facts, benchmarks, ranked findings proven by experiment, and a report."""
    if profile != bool(program):
        raise click.UsageError("--profile needs the program to profile after --, and a program needs --profile")
    if profile and len(pythons) > 1:
        raise click.UsageError("--profile works with one interpreter; profile each environment separately")
    mode = mode or "default"
    from stackprof import bench
    from stackprof.model import Run
    bench.plan(Run(), mode, only, device, budget)   # validates the options before any work
    targets = targets_for(pythons)             # validates every interpreter before any work
    names = labels_for(targets, labels)
    redact = not no_redact

    def echo(message: str) -> None:
        click.echo(f"stackprof: {message}", err=True)

    if len(targets) > 1:
        from stackprof.multi import run_many
        options = {"mode": mode, "budget_s": budget, "redact": redact, "verify": not no_verify, "only": only,
                   "device": device}
        result = run_many(targets, names, options, outdir, echo)
        for label, paths in (result.get("paths") or {}).items():
            for path in (paths.values() if isinstance(paths, dict) else [paths]):
                click.echo(f"{label}: {path}")
        return

    run = new_run(names[0], mode=mode, redact=redact, budget_s=budget, verify=not no_verify, only=only, device=device)
    interrupted = False
    try:
        diagnose(targets[0], run, mode, budget, progress=echo, verify_experiments=not no_verify, only=only,
                 device=device)
    except KeyboardInterrupt:
        interrupted = True
        run.add_error("run", "run", "interrupted: the report holds what was finished", kind="partial")
    recording = None
    if profile and not interrupted:               # probe + bench + diagnose first, then the workload
        from stackprof.commands.profile import profile_run
        recording = profile_run(run, list(program), echo)
        interrupted = bool(recording and recording.interrupted)
    run = finalize(run, redact=redact)
    paths = write_outputs(run, Path(outdir))
    if recording is not None:
        from stackprof.profile import session
        raw = session.keep_raw(recording, Path(outdir), redact)
        paths.update({"raw": raw} if raw else {})
    from stackprof.render import render
    click.echo(render(run, "terminal"), nl=False)       # the profile's block comes with the parts
    click.echo("")
    for fmt in ("html", "md", "json", "raw"):
        if fmt in paths:
            click.echo(f"wrote {paths[fmt]}")
    sys.stdout.flush()
    if interrupted:
        raise KeyboardInterrupt
    if recording is not None and session.exit_code(recording):
        sys.exit(session.exit_code(recording))

"""stackprof profile: where a real program's time goes (py-spy), tied back to the environment's facts."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stackprof.commands.options import label_option, redact_option
from stackprof.profile.record import DEFAULT_RATE, DEFAULT_RATE_NATIVE, Options

DEFAULT_OUTDIR = "stackprof-profile"


def profile_options(fn):
    """The sampling options, shared with `stackprof run --profile`."""
    for option in reversed([
        click.option("--rate", type=click.IntRange(1, 1000), default=None, metavar="HZ",
                     help=f"Samples per second (py-spy --rate). Default: {DEFAULT_RATE_NATIVE} with native frames, "
                          f"{DEFAULT_RATE} without: py-spy pauses the program for each native sample (about 1 ms "
                          "measured), so the default keeps that within 5% of its run time "
                          "(benchmarks/profile_overhead.py)."),
        click.option("--duration", type=click.FloatRange(min=1.0), default=None, metavar="S",
                     help="Stop after S seconds; a launched program still running then is stopped (SIGINT, then "
                          "SIGTERM, then SIGKILL, 5 s apart). Default: until the program ends or Ctrl-C."),
        click.option("--native/--no-native", default=None,
                     help="Native frames (C/C++/Cython: which BLAS and kernel, oneDNN, CUDA, framework code). "
                          "Default: on where py-spy supports them (Linux x86-64/ARM, Windows x86-64). They need "
                          "py-spy's blocking mode, which pauses the program briefly at each sample."),
        click.option("--subprocesses", is_flag=True, default=False,
                     help="Also sample child processes (DataLoader workers, torchrun ranks). Their CPU time is "
                          "measured from /proc either way."),
        click.option("--idle/--no-idle", default=True, show_default=True,
                     help="Keep samples of waiting threads, so a sleeping or waiting program shows as such."),
        click.option("--blocking/--nonblocking", "blocking", default=None,
                     help="py-spy's blocking mode (pause the program per sample: exact stacks, needed for native "
                          "frames) or non-blocking mode (never pause it). Default: blocking with native frames, "
                          "non-blocking without them."),
    ]):
        fn = option(fn)
    return fn


def options_from(rate, duration, native, subprocesses, idle, blocking) -> Options:
    if blocking is False and native:
        raise click.UsageError("--nonblocking cannot collect native frames: drop --native or --nonblocking")
    return Options(rate=rate, duration_s=duration, native=False if blocking is False else native,
                   subprocesses=subprocesses, idle=idle, nonblocking=None if blocking is None else not blocking)


@click.command("profile", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--pid", type=int, default=None, help="Attach to a running process instead of launching COMMAND "
              "(needs CAP_SYS_PTRACE, or kernel.yama.ptrace_scope=0 and the same user).")
@profile_options
@click.option("--python", "python", default=None, metavar="PATH",
              help="Interpreter whose environment to probe (default: the program's own: COMMAND's interpreter, "
                   "its #! line, or the PID's executable).")
@click.option("--no-probe", is_flag=True, default=False, help="Skip the environment probe (facts).")
@label_option
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default=DEFAULT_OUTDIR,
              show_default=True, help="Directory for report.html, report.md, run.json and the raw profile.")
@redact_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]…")
def command(pid, rate, duration, native, subprocesses, idle, blocking, python, no_probe, labels, outdir,
            no_redact, command):
    """Profile a program with py-spy and attribute every sample to what matters for ML speed: Python code,
    the named BLAS library and kernel, oneDNN, framework native code and dispatch, CUDA calls and
    synchronisation, data loading, GIL waits, thread-pool spin, idle — per thread, per process and in
    total — next to the environment's facts and findings. Writes report.html, report.md, run.json and
    profile.collapsedstack.txt. Returns the program's exit status."""
    from stackprof.profile import session

    if (pid is None) == (not command):
        raise click.UsageError("give a command after -- (stackprof profile -- python train.py) or --pid PID")
    opts = options_from(rate, duration, native, subprocesses, idle, blocking)
    redact = not no_redact

    def echo(message: str) -> None:
        click.echo(f"stackprof: {message}", err=True)

    rec = session.record(opts, command=list(command) or None, pid=pid, say=echo)
    interrupted = rec.interrupted
    run = _run_for(rec, command, pid, python, no_probe, labels, redact, echo)
    try:
        paths = _write(run, rec, outdir, redact)
    except KeyboardInterrupt:          # a Ctrl-C while writing: the document first, then stop
        interrupted = True
        paths = {}
    from stackprof.render import render
    click.echo(render(run, "terminal"), nl=False)       # the profile's block comes with the parts
    for name, path in paths.items():
        click.echo(f"wrote {path}")
    sys.stdout.flush()
    if interrupted:
        raise KeyboardInterrupt
    if rec.raw_path is None and not rec.too_short:   # py-spy failed: the outputs say why, so does the status
        echo(f"error: {rec.errors[0] if rec.errors else 'py-spy recorded nothing'}")
        sys.exit(2)
    code = session.exit_code(rec)
    if code:
        echo(f"the program exited with status {rec.exit_status}; the profile is kept")
        sys.exit(code)


def _run_for(rec, command, pid, python, no_probe, labels, redact, echo):
    from stackprof.analyze import analyze
    from stackprof.pipeline import finalize, new_run, run_stage
    from stackprof.profile import session

    label = labels[0] if labels else default_label(list(command), pid)
    run = new_run(label, mode="profile", redact=redact)
    interpreter, how = (python, "--python") if python else session.interpreter_for(list(command) or None, pid)
    if not no_probe:
        if interpreter:
            echo(f"probing {interpreter} ({how})")
            run_stage(run, "probe", _probe, interpreter, run)
        else:
            run.add_error("probe", "profile", f"no environment facts: {how} (use --python PATH)", kind="skipped")
    run_stage(run, "profile", session.attach, run, rec)
    run_stage(run, "analyze", analyze, run)
    run_stage(run, "analyze_profile", session.add_findings, run)   # P1 reads the other rules' findings
    return finalize(run, redact=redact)


def default_label(command: list[str], pid: int | None) -> str:
    """The script or module a Python command runs ('train.py', 'torch.distributed.run'), else the command."""
    if not command:
        return f"pid-{pid}"
    from stackprof.profile.session import PYTHON_NAME
    args = command[1:] if PYTHON_NAME.match(Path(command[0]).name) else []
    while args and args[0].startswith("-") and args[0] not in ("-m", "-c"):
        args = args[1:]
    if args[:1] == ["-m"] and len(args) > 1:
        return args[1]
    if args and args[0] != "-c":
        return Path(args[0]).name
    return Path(command[0]).name


def _probe(interpreter: str, run) -> None:
    from stackprof.collect import collect_facts
    from stackprof.target import Target
    collect_facts(Target(interpreter), run)


def _write(run, rec, outdir, redact) -> dict:
    from stackprof.pipeline import write_outputs
    from stackprof.profile import session
    raw = session.keep_raw(rec, outdir, redact)
    paths = write_outputs(run, Path(outdir))
    if raw:
        paths["raw"] = raw
    return paths


def profile_run(run, command: list[str], say=None):
    """`stackprof run --profile`: after the diagnosis, record the program with the default options and
    put the profile and its findings into the same Run (P1 then reads the verified A/B ratios)."""
    from stackprof.errors import StackprofError
    from stackprof.pipeline import run_stage
    from stackprof.profile import session
    say = say or (lambda message: None)
    say(f"profiling {' '.join(command)}")
    try:
        rec = session.record(Options(), command=command, say=say)
    except StackprofError as exc:       # the diagnosis is kept; the profile's failure is in errors[]
        run.add_error("profile", "py-spy", str(exc))
        return None
    run_stage(run, "profile", session.attach, run, rec)
    run_stage(run, "analyze_profile", session.add_findings, run)
    return rec

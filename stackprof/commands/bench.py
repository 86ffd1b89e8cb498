"""stackprof bench: kernel microbenchmarks against the hardware's peak and the best on this machine."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stackprof import bench
from stackprof.collect import collect_facts
from stackprof.commands.options import (device_option, format_option, label_option, only_option, outdir_option,
                                       python_option, redact_option)
from stackprof.errors import StackprofError
from stackprof.model import Run
from stackprof.pipeline import finalize, labels_for, new_run, targets_for
from stackprof.render import render


@click.command("bench")
@click.option("--quick", is_flag=True, help="A few representative shapes (about 20 s on a small CPU machine).")
@click.option("--full", is_flag=True, help="MAMF-style GEMM shape sweep plus every family's larger shapes.")
@click.option("--budget", type=float, default=None, metavar="SECONDS",
              help="Total measuring time to share between the benchmarks (default: per mode).")
@only_option
@device_option
@python_option
@label_option
@redact_option
@outdir_option
@format_option
def command(quick, full, budget, only, device, pythons, labels, no_redact, outdir, fmt):
    """Measure GEMM, conv, attention, memory bandwidth, transfers, elementwise kernels, dispatch
    overhead and torch.compile in an environment; each result with % of peak and % of best."""
    if quick and full:
        raise StackprofError("--quick and --full exclude each other")
    mode = "quick" if quick else "full" if full else "default"
    bench.plan(Run(), mode, only, device, budget)          # validates the options before any work
    targets = targets_for(pythons)
    names = labels_for(targets, labels)
    for target, label in zip(targets, names):
        run = new_run(label, mode=mode, redact=not no_redact, budget_s=budget, only=only, device=device)
        collect_facts(target, run, only=["system"])
        with ProgressLine(sys.stderr) as progress:
            bench.run_benchmarks(target, run, mode, only, device, budget, progress=progress)
        run = finalize(run, redact=not no_redact)
        click.echo(summary(run) if fmt == "terminal" else render(run, fmt), nl=False)
        if outdir:
            out = Path(outdir) / (label if len(targets) > 1 else "")
            out.mkdir(parents=True, exist_ok=True)
            run.save(out / "run.json")
            click.echo(f"wrote {out / 'run.json'}", err=True)
    sys.stdout.flush()


class ProgressLine:
    """What runs now, on stderr: one line rewritten in place on a terminal, plain lines otherwise."""

    def __init__(self, stream):
        self.stream, self.tty = stream, stream.isatty()
        self.last = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.tty and self.last is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def __call__(self, done: int, total: int, message: str) -> None:
        if not message or message == self.last:
            return
        self.last = message
        line = f"[{done + 1:>3}/{total}] {_printable(message)}"
        self.stream.write(f"\r\x1b[K{line[:150]}" if self.tty else line + "\n")
        self.stream.flush()


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def _pct(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def summary(run) -> str:
    """A compact table of results; skipped and failed cases grouped by reason."""
    lines = [f"stackprof bench — {_printable(run.label)} ({run.options.get('mode')})",
             f"{'benchmark':<58} {'value':>12} {'unit':<8} {'%peak':>6} {'%best':>6}  spread"]
    skipped: dict[tuple[str, str], list[str]] = {}
    for record in run.benchmarks:
        status = record.get("status")
        if status != "ok" or record.get("value") is None:
            skipped.setdefault((status or "?", _printable(record.get("reason") or "")), []).append(record["id"])
            continue
        spread = (record.get("stats") or {}).get("iqr_rel")
        noisy = " noisy" if (record.get("stats") or {}).get("noisy") else ""
        exceeded = "*" if (record.get("peak") or {}).get("exceeded") else ""
        lines.append(f"{_printable(record['id'])[:58]:<58} {record['value']:>12.4g} {record['unit']:<8} "
                     f"{_pct(record.get('pct_of_peak')) + exceeded:>6} {_pct(record.get('pct_of_best')):>6}  "
                     f"{'-' if spread is None else f'{spread:.1%}'}{noisy}")
    for (status, reason), ids in skipped.items():
        head = ids[0] if len(ids) == 1 else f"{len(ids)} benchmarks ({ids[0]}, …)"
        lines.append(f"{status}: {head}: {reason}")
    if any((r.get("peak") or {}).get("exceeded") for r in run.benchmarks):
        lines.append("* above the estimated CPU peak: an input of the estimate (usually the clock) is too low, "
                     "so every % of the CPU peak here is too high")
    headline = run.headline or {}
    lines.append(f"headline: {headline.get('text', 'none')}")
    for err in run.errors:
        lines.append(f"error [{_printable(err.get('source'))}]: {_printable(err.get('message'))}")
    return "\n".join(lines) + "\n"

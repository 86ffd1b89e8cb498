"""stackprof dist: every rank of a torchrun job on this machine, or the merge of a cluster run's folders."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stackprof.commands.options import redact_option
from stackprof.errors import StackprofError

DEFAULT_OUTDIR = "stackprof-dist"
DTYPES = ("bf16", "fp16", "fp32", "fp8")


def _model_options(fn):
    for name, kind, text in reversed((
            ("--model-params", float, "parameters of the model for the what-if (e.g. 7e9)"),
            ("--dtype", click.Choice(DTYPES), "the model's dtype (GEMM is measured at it too; default bf16)"),
            ("--hidden", click.IntRange(min=1), "hidden size"), ("--seq", click.IntRange(min=1), "sequence length"),
            ("--micro-batch", click.IntRange(min=1), "micro-batch size (default 1)"),
            ("--tp", click.IntRange(min=1), "tensor-parallel size"), ("--pp", click.IntRange(min=1), "pipeline stages"),
            ("--dp", click.IntRange(min=1), "data-parallel size (default: ranks / (tp·pp))"),
            ("--layers", click.IntRange(min=1), "layers (default: params / (12·hidden²))"),
            ("--grad-accum", click.IntRange(min=1), "micro-batches per step and rank (default 1)"))):
        fn = click.option(name, type=kind, default=None, help=text)(fn)
    return fn


@click.command("dist")
@click.option("--nproc", type=click.IntRange(min=1), default=None,
              help="Ranks on this machine (default: one per CUDA device, else 2 on the CPU with gloo).")
@click.option("--python", "python", default=None, metavar="PATH",
              help="Interpreter of the training environment (its own torchrun is used). Default: this one.")
@click.option("--quick", "mode", flag_value="quick", help="A few sizes per collective, one GEMM per dtype.")
@click.option("--full", "mode", flag_value="full", help="Collectives from 1 KiB to the memory limit, more shapes.")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default=DEFAULT_OUTDIR, show_default=True,
              help="Folder for the ranks' results, run.json, report.html and report.md.")
@click.option("--merge", "merge_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Merge the rank folders in DIR (from `torchrun … -m stackprof.dist -o DIR`) into a report.")
@click.option("--timeout", type=click.FloatRange(min=1.0), default=60.0, show_default=True,
              help="Seconds a collective may wait for the other ranks before the rank gives up.")
@click.option("--ops", default=None, help="Collectives to run, comma-separated (default: all six).")
@click.option("--sizes", default=None, help="Collective sizes, e.g. 64K,1M,32M (default: by mode).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--backend", type=click.Choice(["auto", "gloo", "nccl"]), default="auto", show_default=True)
@_model_options
@click.option("--no-verify", is_flag=True, default=False, help="Do not re-measure findings by experiment.")
@redact_option
def command(nproc, python, mode, outdir, merge_dir, timeout, ops, sizes, device, backend, no_verify, no_redact,
            **model):
    """Run stackprof on every rank through torchrun: per-rank facts and benchmarks, collectives,
    stragglers, and the parallelism what-if — one report."""
    from stackprof.dist import flow, launch
    from stackprof.pipeline import finalize, write_outputs
    from stackprof.target import Target

    def echo(message: str) -> None:
        click.echo(f"stackprof: {message}", err=True)

    mode = mode or "default"
    redact = not no_redact
    _check_lists(ops, sizes)
    exits, target, limit_note = None, None, None
    if merge_dir:
        root = flow.require_folder(Path(merge_dir))
        if python:
            target = Target(python)
    else:
        target = Target(python or sys.executable)
        info = launch.preflight(target)
        launch.check_backend(info, backend, device)
        count = launch.choose_nproc(nproc, info)
        root = Path(outdir)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StackprofError(f"cannot create output folder {root}: {exc.strerror or exc}") from None
        flow.clear_previous(root)
        rank_args = _rank_args(mode, root, timeout, ops, sizes, device, backend, model)
        from stackprof.dist import plan
        collective_cases = len(plan.collective_cases(mode, "cuda" if info.get("cuda_devices") else "cpu",
                                                     _split(ops), None)) if not sizes else 6 * len(sizes.split(","))
        limit = launch.limit_for(mode, count, timeout, collective_cases, 8)
        echo(f"{count} rank(s) with torch {info.get('torch')} ({target.executable}), mode {mode}, "
             f"collective timeout {timeout:g} s, limit {limit:.0f} s")
        result = launch.Launch(launch.command(target, count, rank_args), root, count, limit, echo).run()
        exits = result["exits"]
        if result.get("stopped"):
            limit_note = result["stopped"]
        if result["returncode"] and not any((root / "ranks").glob("rank-*/identity.json")):
            tail = " | ".join(line for line in result["log_tail"][-6:] if line.strip())
            raise StackprofError(f"torchrun failed before any rank started (status {result['returncode']}): {tail[:600]}")
    run = flow.build(root, redact=redact, exits=exits, model=_model(model))
    if limit_note:
        run.add_error("dist", "launch", limit_note, kind="timeout")
    verify_budget = None if no_verify else flow.VERIFY_BUDGET_S.get(run.options.get("mode") or mode, 60.0)
    flow.diagnose(run, target, verify_budget_s=verify_budget, echo=echo)
    run = finalize(run, redact=redact)
    paths = write_outputs(run, root)
    from stackprof.render import render
    click.echo(render(run, "terminal"), nl=False)
    click.echo("")
    status, lines = flow.outcome(run)
    for line in lines:
        echo(line)
    for fmt in ("html", "md", "json"):
        if fmt in paths:
            click.echo(f"wrote {paths[fmt]}")
    sys.stdout.flush()
    if status:
        sys.exit(status)


def _check_lists(ops, sizes) -> None:
    """The ranks would refuse these too, each with its own message: refuse them once, here."""
    from stackprof.dist import plan, rank
    for op in _split(ops) or []:
        if op not in plan.COLLECTIVE_OPS:
            raise click.BadParameter(f"unknown collective {op!r} (choose from {', '.join(plan.COLLECTIVE_OPS)})",
                                     param_hint="--ops")
    for size in _split(sizes) or []:
        try:
            rank.parse_size(size)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sizes") from None


def _split(text):
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def _model(model: dict) -> dict:
    return {key: value for key, value in model.items() if value is not None}


def _rank_args(mode, root, timeout, ops, sizes, device, backend, model) -> list[str]:
    args = ["-o", str(root), "--timeout", f"{timeout:g}", "--device", device, "--backend", backend]
    if mode in ("quick", "full"):
        args.append(f"--{mode}")
    if ops:
        args += ["--ops", ops]
    if sizes:
        args += ["--sizes", sizes]
    for key in ("model_params", "dtype", "hidden", "seq", "micro_batch", "tp", "pp", "layers"):
        if model.get(key) is not None:
            args += ["--" + key.replace("_", "-"), str(model[key])]
    return args

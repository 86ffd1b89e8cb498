"""Options shared by several commands."""
from __future__ import annotations

import click

python_option = click.option(
    "--python", "pythons", multiple=True, metavar="PATH",
    help="Interpreter to diagnose (repeatable). Default: the one stackprof runs in.")
label_option = click.option("--label", "labels", multiple=True, help="Label per --python, in order.")
redact_option = click.option(
    "--no-redact", is_flag=True, default=False,
    help="Keep host name, user name, home paths and GPU UUIDs (secrets are always removed).")
outdir_option = click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default=None,
                             help="Directory to write the outputs to.")
format_option = click.option("--format", "fmt", type=click.Choice(["terminal", "md", "json"]), default="terminal",
                             help="What to print on stdout.")
only_option = click.option(
    "--only", default=None, metavar="FAMILIES",
    help="Comma-separated benchmark families: gemm, conv, attention, stream, elementwise, transfer, dispatch, compile.")
device_option = click.option("--device", default=None, metavar="DEVICE",
                             help="cpu, cuda or cuda:N (default: cpu and cuda:0).")

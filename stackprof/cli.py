"""Command line: one click group; each command lives in stackprof/commands/<name>.py."""
from __future__ import annotations

import os
import sys

import click

from stackprof import __version__
from stackprof.errors import StackprofError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stackprof")
def cli() -> None:
    """Is this ML environment as fast as this hardware allows — and if not, why?"""


def _register() -> None:
    from stackprof.commands import bench, compare, dist, probe, profile, report, run
    for module in (probe, bench, run, report, compare, profile, dist):
        cli.add_command(module.command)


_register()


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("stackprof: aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except StackprofError as exc:
        click.echo(f"stackprof: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("stackprof: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # one line, never a traceback dump, unless asked for
        if os.environ.get("STACKPROF_DEBUG"):
            raise
        click.echo(f"stackprof: internal error: {exc.__class__.__name__}: {exc} "
                   "(set STACKPROF_DEBUG=1 for a traceback)", err=True)
        sys.exit(3)
    else:
        sys.exit(0)

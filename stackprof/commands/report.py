"""stackprof report (being built)."""
import click

from stackprof.errors import StackprofError


@click.command("report")
def command():
    """Not available yet in this build."""
    raise StackprofError("'report' is not available yet in this build")

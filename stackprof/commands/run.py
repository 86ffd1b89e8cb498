"""stackprof run (being built)."""
import click

from stackprof.errors import StackprofError


@click.command("run")
def command():
    """Not available yet in this build."""
    raise StackprofError("'run' is not available yet in this build")

"""stackprof bench (being built)."""
import click

from stackprof.errors import StackprofError


@click.command("bench")
def command():
    """Not available yet in this build."""
    raise StackprofError("'bench' is not available yet in this build")

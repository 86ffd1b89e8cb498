"""stackprof compare (being built)."""
import click

from stackprof.errors import StackprofError


@click.command("compare")
def command():
    """Not available yet in this build."""
    raise StackprofError("'compare' is not available yet in this build")

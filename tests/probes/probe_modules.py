"""Load probe modules (probes/facts/*.py) into the test process the way the agent does: under a
synthetic package, so their relative imports work and nothing shadows real packages."""
from __future__ import annotations

from stackprof.paths import import_probe

PACKAGE = "_stackprof_probes_under_test"


def load_probe(name: str):
    """load_probe("facts.torch") -> the module (stdlib-only parts can be called directly)."""
    return import_probe(name, package=PACKAGE)

"""Load probe modules (probes/facts/*.py) into the test process the way the agent does: under a
synthetic package, so their relative imports work and nothing shadows real packages."""
from __future__ import annotations

import importlib
import importlib.util
import sys

from stackprof.paths import probes_dir

PACKAGE = "_stackprof_probes_under_test"


def load_probe(name: str):
    """load_probe("facts.torch") -> the module (stdlib-only parts can be called directly)."""
    if PACKAGE not in sys.modules:
        root = probes_dir()
        spec = importlib.util.spec_from_file_location(PACKAGE, root / "__init__.py",
                                                      submodule_search_locations=[str(root)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{PACKAGE}.{name}")

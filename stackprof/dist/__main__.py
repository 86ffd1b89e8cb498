"""Entry of one rank: ``python -m stackprof.dist …`` (stackprof installed in the training environment)
or ``python …/stackprof/dist/__main__.py …`` (how ``stackprof dist --python X`` starts it in an
environment that does not have stackprof: this folder is loaded under a synthetic package name, so
that nothing else beside it on disk can shadow the environment's own packages)."""
import importlib
import importlib.util
import os
import sys

PACKAGE = "_stackprof_dist"


def _as_script():
    here = os.path.dirname(os.path.abspath(__file__))
    while sys.path and os.path.abspath(sys.path[0] or ".") == here:
        sys.path.pop(0)          # a module of this folder must never shadow one of the environment
    spec = importlib.util.spec_from_file_location(PACKAGE, os.path.join(here, "__init__.py"),
                                                  submodule_search_locations=[here])
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(PACKAGE + ".rank")


if __name__ == "__main__":
    if __package__:
        from . import rank
    else:
        rank = _as_script()
    sys.exit(rank.main(sys.argv[1:]))

"""BLAS and OpenMP libraries actually loaded in this process (after the framework probes imported
their frameworks here): threadpoolctl when the target has it, else our own /proc/self/maps + ctypes
fallback; two different OpenMP runtimes in one process are flagged."""
import os
import sys

from . import _native
from ._framework import installed, one_line

FRAMEWORKS = ("numpy", "scipy", "torch", "tensorflow", "jax", "sklearn")


def collect(ctx, fallback=False):
    errors = []
    source, libraries = "fallback", None
    if not fallback and installed("threadpoolctl"):
        try:
            import threadpoolctl
            libraries = [_from_threadpoolctl(info) for info in threadpoolctl.threadpool_info()]
            source = "threadpoolctl"
        except Exception as exc:
            errors.append("native_libs: threadpoolctl failed, using the fallback: %s" % one_line(exc))
    paths = _native.mapped_paths()
    if libraries is None:
        libraries = [e for e in (_native.describe(p) for p in paths or []) if e is not None]
    else:
        known = set(os.path.realpath(lib["filepath"]) for lib in libraries if lib.get("filepath"))
        for path in paths or []:               # what threadpoolctl does not cover (e.g. plain libblas)
            if os.path.realpath(path) not in known and _native.classify(path):
                entry = _native.describe(path)
                if entry is not None:
                    libraries.append(entry)
    openmp = [lib for lib in libraries if lib.get("user_api") == "openmp"]
    prefixes = sorted(set(lib.get("prefix") for lib in openmp if lib.get("prefix")))
    facts = {
        "source": source,
        "maps_readable": paths is not None,
        "frameworks_loaded": [name for name in FRAMEWORKS if name in sys.modules],
        "libraries": libraries,
        "openmp_runtimes": prefixes,
        "openmp_files": sorted(set(lib.get("filepath") for lib in openmp if lib.get("filepath"))),
        "multiple_openmp": len(prefixes) > 1,
        "cuda_libraries": _cuda_libraries(paths or []),
    }
    if errors:
        facts["errors"] = errors
    return facts


def _from_threadpoolctl(info):
    entry = dict((k, info.get(k)) for k in ("user_api", "internal_api", "prefix", "filepath", "version",
                                            "num_threads", "threading_layer", "architecture"))
    for key in ("current_backend", "available_backends", "loaded_backends"):   # FlexiBLAS
        if key in info:
            entry[key] = info[key]
    entry["detected_by"] = "threadpoolctl"
    return entry


def _cuda_libraries(paths):
    out = []
    for path in paths:
        prefix = _native.cuda_library(path)
        if prefix:
            out.append({"name": prefix, "file": os.path.basename(path), "filepath": path,
                        "reported_version": _native.cuda_versions(path, prefix)})
    return out

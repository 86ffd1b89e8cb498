"""numpy (and scipy) build facts: BLAS/LAPACK as built, the BLAS actually loaded by the import with
its version, kernel architecture and threads, SIMD baseline/found, compilers."""
import os

from . import _native
from ._framework import Imported, dist_version, installed, one_line


def collect(ctx):
    if not installed("numpy"):
        return {"installed": False}
    imp = Imported("numpy")
    if imp.error:
        return imp.failure({"version": dist_version("numpy")})
    np = imp.module
    errors = []
    config = _build_config(np, errors)
    deps = config.get("Build Dependencies") or {}
    facts = {
        "installed": True,
        "version": np.__version__,
        "import_s": imp.seconds,
        "path": os.path.dirname(np.__file__),
        "blas": _dependency(deps.get("blas")),
        "lapack": _dependency(deps.get("lapack")),
        "runtime_blas": _runtime_blas(imp, np),
        "simd": _simd(np, errors),
        "compilers": dict((k, {"name": v.get("name"), "version": v.get("version")})
                          for k, v in (config.get("Compilers") or {}).items() if isinstance(v, dict)),
        "build_machine": (config.get("Machine Information") or {}).get("build"),
        "madvise_hugepage": _madvise_hugepage(np),
        "scipy": _scipy(errors),
    }
    if errors:
        facts["errors"] = errors
    return facts


def _build_config(module, errors):
    """numpy/scipy >= 1.25-ish: show_config(mode='dicts'); older: the distutils get_info() dicts."""
    try:
        return module.show_config(mode="dicts") or {}
    except TypeError:
        pass
    except Exception as exc:
        errors.append("%s.show_config: %s" % (module.__name__, one_line(exc)))
        return {}
    cfg = getattr(module, "__config__", None)
    get_info = getattr(cfg, "get_info", None)
    if get_info is None:
        return {}
    deps = {}
    for key, names in (("blas", ("blas_ilp64_opt", "blas_opt")), ("lapack", ("lapack_ilp64_opt", "lapack_opt"))):
        for name in names:
            info = get_info(name)
            if info:
                libs = info.get("libraries") or []
                deps[key] = {"name": libs[0] if libs else None, "found": True, "version": None,
                             "lib directory": ";".join(info.get("library_dirs") or []) or None,
                             "detection method": "numpy.distutils"}
                break
    return {"Build Dependencies": deps}


def _dependency(dep):
    if not isinstance(dep, dict):
        return None
    out = dict((k.replace(" ", "_"), v) for k, v in dep.items())
    if "openblas_configuration" in out:
        out["openblas_config"] = out.pop("openblas_configuration")
    return out


def _runtime_blas(imp, np):
    """The BLAS/OpenMP libraries that importing numpy brought in, as they report themselves now."""
    paths = imp.new_libraries
    if imp.already or not paths:
        base = os.path.dirname(np.__file__)
        paths = [p for p in _native.mapped_paths() or [] if p.startswith(base)]
    out = []
    for path in paths:
        entry = _native.describe(path)
        if entry is not None:
            out.append(entry)
    return out


def _simd(np, errors):
    try:
        try:
            from numpy._core import _multiarray_umath as umath
        except ImportError:
            from numpy.core import _multiarray_umath as umath
        features = umath.__cpu_features__
        dispatch = list(umath.__cpu_dispatch__)
        return {"baseline": list(umath.__cpu_baseline__),
                "found": [f for f in dispatch if features.get(f)],
                "not_found": [f for f in dispatch if not features.get(f)],
                "cpu_features": sorted(k for k, v in features.items() if v)}
    except Exception as exc:
        errors.append("numpy.simd: %s" % one_line(exc))
        return None


def _madvise_hugepage(np):
    for modname in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = __import__(modname, fromlist=["_get_madvise_hugepage"])
            return bool(module._get_madvise_hugepage())
        except Exception:
            continue
    return None


def _scipy(errors):
    if not installed("scipy"):
        return {"installed": False}
    imp = Imported("scipy")
    if imp.error:
        errors.append("scipy: import failed: %s" % imp.error)
        return {"installed": True, "import_error": imp.error, "version": dist_version("scipy")}
    config = _build_config(imp.module, errors)
    deps = config.get("Build Dependencies") or {}
    return {"installed": True, "version": imp.module.__version__, "import_s": imp.seconds,
            "blas": _dependency(deps.get("blas")), "lapack": _dependency(deps.get("lapack"))}

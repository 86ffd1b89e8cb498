"""Python interpreter facts: version, implementation, executable, environment kind, build."""
import os
import platform
import sys
import sysconfig


def collect(ctx):
    prefix, base = sys.prefix, getattr(sys, "base_prefix", sys.prefix)
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": prefix,
        "env_kind": _env_kind(prefix, base),
        "debug_build": hasattr(sys, "gettotalrefcount"),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "compiler": platform.python_compiler(),
    }


def _env_kind(prefix, base):
    if os.path.isdir(os.path.join(prefix, "conda-meta")):
        return "conda"
    cfg = os.path.join(prefix, "pyvenv.cfg")
    if prefix != base and os.path.isfile(cfg):
        with open(cfg) as handle:
            text = handle.read()
        return "uv" if "uv =" in text else "venv"
    return "system"

"""Python interpreter facts: version, implementation, executable, environment kind, build."""
import importlib.util
import os
import platform
import site
import sys
import sysconfig


def collect(ctx):
    prefix, base = sys.prefix, getattr(sys, "base_prefix", sys.prefix)
    gil = getattr(sys, "_is_gil_enabled", None)
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": prefix,
        "base_prefix": base,
        "env_kind": _env_kind(prefix, base),
        "debug_build": hasattr(sys, "gettotalrefcount"),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": gil() if gil is not None else True,
        "compiler": platform.python_compiler(),
        "build_date": platform.python_build()[1],
        "platform": sysconfig.get_platform(),
        "pointer_bits": 64 if sys.maxsize > 2 ** 32 else 32,
        "pip_available": importlib.util.find_spec("pip") is not None,
        "user_site_enabled": bool(site.ENABLE_USER_SITE),
        "pythonpath_set": bool(os.environ.get("PYTHONPATH")),
        "flags": {"optimize": sys.flags.optimize, "dev_mode": bool(getattr(sys.flags, "dev_mode", False)),
                  "isolated": bool(sys.flags.isolated), "no_site": bool(sys.flags.no_site),
                  "utf8_mode": bool(getattr(sys.flags, "utf8_mode", False))},
        "config_args": _config_args(),
    }


def _env_kind(prefix, base):
    if os.path.isdir(os.path.join(prefix, "conda-meta")):
        return "conda"
    cfg = os.path.join(prefix, "pyvenv.cfg")
    if prefix != base and os.path.isfile(cfg):
        with open(cfg) as handle:
            text = handle.read()
        return "uv" if "\nuv =" in "\n" + text else "venv"
    return "system"


def _config_args():
    """How CPython itself was built: --enable-optimizations / --with-lto make it ~10-20% faster."""
    args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    return {"pgo": "--enable-optimizations" in args, "lto": "--with-lto" in args,
            "shared": "--enable-shared" in args} if args else None

"""JAX facts: jax and jaxlib versions, default backend, devices, XLA_FLAGS."""
import os

from ._framework import Imported, dist_version, installed, one_line
from ._secrets import looks_secret


def collect(ctx):
    if not installed("jax"):
        return {"installed": False}
    imp = Imported("jax")
    if imp.error:
        return imp.failure({"version": dist_version("jax"), "jaxlib_version": dist_version("jaxlib")})
    jax = imp.module
    errors = []

    def guard(name, fn, default=None):
        try:
            return fn()
        except Exception as exc:
            errors.append("jax.%s: %s" % (name, one_line(exc)))
            return default

    flags = os.environ.get("XLA_FLAGS")
    facts = {
        "installed": True,
        "version": getattr(jax, "__version__", None),
        "jaxlib_version": _jaxlib_version(),
        "import_s": imp.seconds,
        "backend": guard("default_backend", jax.default_backend),
        "devices": guard("devices", lambda: [{"id": d.id, "platform": d.platform,
                                              "device_kind": getattr(d, "device_kind", None)}
                                             for d in jax.devices()], []),
        "xla_flags": None if flags is None or looks_secret(flags) else flags,
        "x64_enabled": guard("x64", lambda: bool(jax.config.jax_enable_x64)),
        "plugins": [name for name in ("jax-cuda12-plugin", "jax-cuda13-plugin", "jax-rocm-plugin")
                    if dist_version(name)],
    }
    if errors:
        facts["errors"] = errors
    return facts


def _jaxlib_version():
    try:
        import jaxlib.version
        return jaxlib.version.__version__
    except Exception:
        return dist_version("jaxlib")

"""TensorFlow build facts: version, get_build_info(), oneDNN state, visible devices, threads."""
import os

from ._framework import Imported, dist_version, installed, one_line


def collect(ctx):
    if not installed("tensorflow"):
        return {"installed": False}
    imp = Imported("tensorflow")
    if imp.error:
        return imp.failure({"version": dist_version("tensorflow") or dist_version("tensorflow-cpu")})
    tf = imp.module
    errors = []

    def guard(name, fn, default=None):
        try:
            return fn()
        except Exception as exc:
            errors.append("tensorflow.%s: %s" % (name, one_line(exc)))
            return default

    version = getattr(getattr(tf, "version", None), "VERSION", None) or getattr(tf, "__version__", None)
    facts = {
        "installed": True,
        "version": version,
        "git_version": getattr(getattr(tf, "version", None), "GIT_VERSION", None),
        "compiler_version": getattr(getattr(tf, "version", None), "COMPILER_VERSION", None),
        "import_s": imp.seconds,
        "build_info": guard("build_info", lambda: _plain(dict(tf.sysconfig.get_build_info())), {}),
        "built_with_cuda": guard("is_built_with_cuda", tf.test.is_built_with_cuda),
        "onednn_enabled": guard("onednn", _onednn_enabled),
        "onednn_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "devices": guard("devices", lambda: [{"name": d.name, "device_type": d.device_type}
                                             for d in tf.config.list_physical_devices()], []),
        "tf32_enabled": guard("tf32", tf.config.experimental.tensor_float_32_execution_enabled),
        "intra_op_threads": guard("intra_op", tf.config.threading.get_intra_op_parallelism_threads),
        "inter_op_threads": guard("inter_op", tf.config.threading.get_inter_op_parallelism_threads),
    }
    if errors:
        facts["errors"] = errors
    return facts


def _onednn_enabled():
    from tensorflow.python.util import _pywrap_util_port
    return bool(_pywrap_util_port.IsMklEnabled())


def _plain(value):
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)

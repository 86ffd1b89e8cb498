"""What every benchmark probe shares: importing the framework, resolving the device, and the
loop that turns a task's cases into records through the harness. Python 3.8 syntax."""
import importlib
import os

from .. import harness

DTYPE_NAMES = {"fp64": "float64", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def load_framework(name):
    """(module, None), or (None, (status, reason)) when it is missing or its import fails."""
    module_name = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}.get(name)
    if module_name is None:
        return None, ("failed", "unknown framework '%s'" % name)
    try:
        module = importlib.import_module(module_name)
        if name == "jax":
            importlib.import_module("jax.numpy")
        return module, None
    except ImportError as exc:
        if getattr(exc, "name", None) == module_name:
            return None, ("skipped", "%s not installed" % name)
        return None, ("failed", "import %s failed: %s" % (module_name, harness.describe_error(exc)))
    except Exception as exc:
        return None, ("failed", "import %s failed: %s" % (module_name, harness.describe_error(exc)))


def torch_device(torch, device):
    """torch.device for "cpu" / "cuda:N"; raises harness.Skip with the reason it cannot be used."""
    if device == "cpu":
        return torch.device("cpu")
    if not device.startswith("cuda"):
        raise harness.Skip("unknown device '%s'" % device)
    if not torch.cuda.is_available():
        if getattr(torch.version, "cuda", None) is None and getattr(torch.version, "hip", None) is None:
            raise harness.Skip("no CUDA device (torch %s is a CPU-only build)" % torch.__version__)
        raise harness.Skip("no CUDA device (torch.cuda.is_available() is False)")
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    count = torch.cuda.device_count()
    if index >= count:
        raise harness.Skip("no CUDA device %s (%d visible)" % (device, count))
    return torch.device("cuda", index)


def torch_dtype(torch, dtype):
    if dtype == "fp8":
        return getattr(torch, "float8_e4m3fnuz" if getattr(torch.version, "hip", None) else "float8_e4m3fn")
    return getattr(torch, DTYPE_NAMES[dtype])


def torch_timer(torch, dev):
    if dev.type == "cuda":
        return harness.CudaTimer(torch, dev)
    return harness.CpuTimer()


def torch_params(torch, dev):
    params = {"framework_version": torch.__version__, "num_threads": torch.get_num_threads()}
    if dev.type == "cuda":
        from . import gpu_select
        props = torch.cuda.get_device_properties(dev)
        params.update({"device_name": props.name, "capability": "%d.%d" % (props.major, props.minor),
                       "hip": getattr(torch.version, "hip", None)})
        params.update(gpu_select.device_identity(torch, dev))     # CUDA's bus id / UUID: maps to NVML
    return params


def capability(torch, dev):
    props = torch.cuda.get_device_properties(dev)
    return (props.major, props.minor)


def torch_version_tuple(torch):
    parts = []
    for piece in torch.__version__.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def drive(ctx, probe, args, describe, prepare):
    """Yield one record per case. describe(framework, device, case) -> spec (pure: ids are known
    even when the framework is missing); prepare(fw, device, case, record) -> harness.Kernel."""
    framework, device = args["framework"], args["device"]
    budget_s = float(args.get("budget_s", 0.5))
    device_warmup_s = float(args.get("device_warmup_s") or 0.0)    # before the first case only
    fw, problem = load_framework(framework)
    for case in args.get("cases") or []:
        spec = describe(framework, device, case)
        record = harness.base_record(spec, probe, dict(args, cases=[case]))
        ctx.progress(record["id"])
        if problem is None and prepare is None:
            problem = ("skipped", "no %s benchmark for %s" % (spec["op"], framework))
        if problem is not None:
            record["status"], record["reason"] = problem
            yield record
            continue
        version = getattr(fw, "__version__", None)
        if version:
            record["params"]["framework_version"] = str(version)
        yield harness.run_case(record, lambda: prepare(fw, device, case, record), budget_s,
                               extra_warmup_s=device_warmup_s)
        if record["status"] == "ok":
            device_warmup_s = 0.0


def numpy_rng(np, seed=0):
    return np.random.default_rng(seed)


def openblas_env():
    """Environment settings that change which BLAS kernel runs (recorded, never changed)."""
    return {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                       "MKL_NUM_THREADS") if k in os.environ}

"""torch.compile (inductor) against eager on a small MLP: Linear -> GELU -> Linear, inference.
Unit: microseconds per forward pass (lower is better); work.flops counts the two matmuls.
Variant null = eager, "compile" = torch.compile(model). The compilation happens while the case is
prepared and its wall time is recorded as a first-run cost of its own (params.compile_s, and
params.compile_cache: "cold" when inductor compiled from scratch, "warm" when its cache had the graph); when
inductor cannot work here the case is skipped with the reason (no C++ compiler for the CPU backend,
no triton for the GPU backend, or the error torch.compile raised). On a machine with <= 4 CPUs
inductor's compile workers are limited to 1 (params.compile_threads): a pool of worker
processes costs more than it saves for one small graph, and this does not change the code run.
Case: {"dtype": "fp32", "batch": 64, "dims": [512, 2048, 512], "mode": "eager"|"compile"}.
"""
import os
import shutil
import time

from .. import harness
from . import common


WARM_CALLS = 50            # compiled cases: calls before any sample counts (guards, caches, allocator)


def run(ctx, **args):
    return common.drive(ctx, "bench.mlp_compile", args, describe,
                        _prepare_torch if args["framework"] == "torch" else None)


def describe(framework, device, case):
    batch, dims = int(case["batch"]), [int(d) for d in case["dims"]]
    flops = sum(2.0 * batch * i * o for i, o in zip(dims, dims[1:]))
    return {
        "op": "mlp", "framework": framework, "device": device, "dtype": case["dtype"],
        "shape": {"batch": batch, "dims": dims},
        "shape_text": "b%d-%s" % (batch, "x".join(str(d) for d in dims)),
        "variant": "compile" if case.get("mode") == "compile" else None,
        "unit": "us", "direction": "lower", "flops": flops, "bytes": None, "params": {},
    }


def compile_blocker(torch, dev):
    """Why inductor cannot compile for this device, or None."""
    if not hasattr(torch, "compile"):
        return "torch %s has no torch.compile (torch >= 2.0 needed)" % torch.__version__
    if dev.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "triton is not installed (inductor's GPU backend generates triton kernels)"
        return None
    names = [os.environ.get("CXX")]
    try:
        import torch._inductor.config as config
        names.extend(config.cpp.cxx if isinstance(config.cpp.cxx, (tuple, list)) else [config.cpp.cxx])
    except Exception:
        pass
    names.extend(["g++", "clang++"])
    if not any(name and shutil.which(name) for name in names):
        return "no C++ compiler found (inductor's CPU backend compiles C++; install g++ or clang++)"
    return None


def _cache_counters(torch):
    """inductor's FX graph cache hit/miss counters (a cold cache compiles C++/triton from scratch)."""
    try:
        from torch._dynamo.utils import counters
        return dict(counters.get("inductor", {}))
    except Exception:
        return {}


def _cache_state(before, after):
    """"warm" (the compiled graph came from inductor's cache), "cold" (compiled from scratch) or None."""
    def grew(key):
        return after.get(key, 0) > before.get(key, 0)
    if grew("fxgraph_cache_hit"):
        return "warm"
    if grew("fxgraph_cache_miss"):
        return "cold"
    return None


def _model(torch, dev, dims, dtype):
    gen = torch.Generator(device="cpu").manual_seed(0)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(dims, dims[1:])):
        linear = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.copy_(torch.randn(fan_out, fan_in, generator=gen) / fan_in ** 0.5)
            linear.bias.copy_(torch.rand(fan_out, generator=gen) - 0.5)
        layers.append(linear)
        if i < len(dims) - 2:
            layers.append(torch.nn.GELU())
    return torch.nn.Sequential(*layers).to(dev, dtype).eval()


def _prepare_torch(torch, device, case, record):
    dev = common.torch_device(torch, device)
    params = record["params"]
    params.update(common.torch_params(torch, dev))
    dims, batch = [int(d) for d in case["dims"]], int(case["batch"])
    tdt = common.torch_dtype(torch, case["dtype"])
    model = _model(torch, dev, dims, tdt)
    x = torch.randn(batch, dims[0], generator=torch.Generator().manual_seed(1)).to(dev, tdt)
    forward = model
    if case.get("mode") == "compile":
        reason = compile_blocker(torch, dev)
        if reason:
            raise harness.Skip(reason)
        try:
            if dev.type == "cpu" and (os.cpu_count() or 1) <= 4:
                import torch._inductor.config as config
                config.compile_threads = 1
                params["compile_threads"] = 1
            forward = torch.compile(model)
            hits = _cache_counters(torch)
            started = time.perf_counter()
            with torch.no_grad():
                forward(x)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            params["compile_s"] = time.perf_counter() - started
            params["compile_cache"] = _cache_state(hits, _cache_counters(torch))
        except Exception as exc:
            raise harness.Skip("torch.compile does not work here: " + harness.describe_error(exc))

    def fn():
        with torch.no_grad():
            return forward(x)

    def check(output):
        with torch.no_grad():
            ref = _model(torch, dev, dims, torch.float64)(x[:harness.CHECK_ROWS].double())
        return output[:harness.CHECK_ROWS].double().flatten().tolist(), ref.flatten().tolist()

    kernel = harness.Kernel(fn, check, timer=common.torch_timer(torch, dev))
    if case.get("mode") == "compile":
        kernel.min_warm_calls = WARM_CALLS        # warmed alike in every environment compared
    return kernel

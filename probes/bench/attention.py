"""Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention), forward,
non-causal, per backend: variant null = torch's own choice, "flash", "efficient", "cudnn",
"math". FLOPs per call: 4 * B * H * S * S * D (Q.K^T and P.V). The output of the first batch
and head is checked against softmax(Q.K^T / sqrt(D)).V computed in float64.
Case: {"dtype": "bf16", "b": 8, "h": 16, "s": 1024, "d": 64, "backend": null|"flash"|...}.
"""
from .. import harness
from . import common, gpu_select

ITEMSIZE = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2}


def run(ctx, **args):
    return common.drive(ctx, "bench.attention", args, describe,
                        _prepare_torch if args["framework"] == "torch" else None)


def describe(framework, device, case):
    b, h, s, d, dtype = int(case["b"]), int(case["h"]), int(case["s"]), int(case["d"]), case["dtype"]
    return {
        "op": "sdpa", "framework": framework, "device": device, "dtype": dtype,
        "shape": {"b": b, "h": h, "s": s, "d": d, "causal": False},
        "shape_text": "b%dh%ds%dd%d" % (b, h, s, d), "variant": case.get("backend"),
        "unit": "GFLOP/s", "direction": "higher",
        "flops": 4.0 * b * h * s * s * d, "bytes": float(4 * b * h * s * d * ITEMSIZE.get(dtype, 4)),
        "params": {},
    }


def _backend_context(torch, backend):
    """A context manager that restricts SDPA to one backend, or None when torch lacks it."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:                                   # torch < 2.3
        if backend == "cudnn":
            return None
        flags = {"enable_flash": backend == "flash", "enable_mem_efficient": backend == "efficient",
                 "enable_math": backend == "math"}
        return lambda: torch.backends.cuda.sdp_kernel(**flags)
    enum = getattr(SDPBackend, gpu_select.SDPA_ENUM[backend], None)
    return None if enum is None else (lambda: sdpa_kernel(enum))


def _prepare_torch(torch, device, case, record):
    dev = common.torch_device(torch, device)
    dtype, backend = case["dtype"], case.get("backend")
    b, h, s, d = int(case["b"]), int(case["h"]), int(case["s"]), int(case["d"])
    record["params"].update(common.torch_params(torch, dev))
    context = None
    if backend is not None:
        if backend not in gpu_select.SDPA_ENUM:
            raise harness.Skip("unknown SDPA backend '%s'" % backend)
        context = _backend_context(torch, backend)
        has = context is not None
        if dev.type == "cuda":
            reason = gpu_select.sdpa_unsupported(backend, dtype, common.capability(torch, dev), d,
                                                 record["params"].get("hip"), has)
            if reason:
                raise harness.Skip(reason)
        elif not has:
            raise harness.Skip("this torch has no SDPBackend.%s" % gpu_select.SDPA_ENUM[backend])
    gen = torch.Generator(device=dev).manual_seed(0)
    tdt = common.torch_dtype(torch, dtype)
    q, k, v = (torch.randn(b, h, s, d, device=dev, generator=gen).to(tdt) for _ in range(3))
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def fn():
        with torch.no_grad():
            if context is None:
                return sdpa(q, k, v)
            with context():
                return sdpa(q, k, v)

    try:
        first = fn()                       # a backend refusing these inputs is a skip, not a failure
        del first
    except RuntimeError as exc:
        if "no available kernel" in str(exc).lower():
            raise harness.Skip("torch has no %s kernel for this case: %s" % (backend, harness.describe_error(exc)))
        raise

    def check(output):
        q0, k0, v0 = (t[0, 0].double() for t in (q, k, v))
        ref = torch.softmax(q0 @ k0.t() / d ** 0.5, dim=-1) @ v0
        return output[0, 0].double().flatten().tolist(), ref.flatten().tolist()

    return harness.Kernel(fn, check, timer=common.torch_timer(torch, dev))

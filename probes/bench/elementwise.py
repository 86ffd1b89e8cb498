"""Elementwise and reduction kernels on a large rows x cols tensor: softmax and layer norm over the
last dimension, exp, and a row-wise sum. They run the framework's own vectorised code (not a
BLAS), so they expose ISA-dispatch and threading problems that GEMMs hide.

Throughput in GB/s of the fewest bytes the kernel must move (input read once, output written
once; the sum writes one value per row). Outputs are preallocated (out= variants, including
torch's aten out overloads for softmax and layer norm) so that the allocator's page faults are
not measured; params.api says which call ran. A few rows are checked against float64.
Case: {"kernel": "softmax", "dtype": "fp32", "rows": 8192, "cols": 4096}.
"""
import math

from .. import harness
from . import common

ITEMSIZE = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2}
EPS = 1e-5


def run(ctx, **args):
    return common.drive(ctx, "bench.elementwise", args, describe, PREPARE.get(args["framework"]))


def describe(framework, device, case):
    kernel, rows, cols, dtype = case["kernel"], int(case["rows"]), int(case["cols"]), case["dtype"]
    size = rows * cols * ITEMSIZE[dtype]
    moved = size + rows * ITEMSIZE[dtype] if kernel == "sum" else 2 * size
    return {
        "op": kernel, "framework": framework, "device": device, "dtype": dtype,
        "shape": {"rows": rows, "cols": cols}, "shape_text": "%dx%d" % (rows, cols), "variant": None,
        "unit": "GB/s", "direction": "higher", "flops": None, "bytes": float(moved), "params": {},
    }


def _reference(kernel, row):
    """The kernel applied to one row (a list of floats), in float64 Python arithmetic."""
    if kernel == "exp":
        return [math.exp(x) for x in row]
    if kernel == "sum":
        return [math.fsum(row)]
    if kernel == "softmax":
        top = max(row)
        e = [math.exp(x - top) for x in row]
        total = math.fsum(e)
        return [x / total for x in e]
    mean = math.fsum(row) / len(row)
    var = math.fsum((x - mean) ** 2 for x in row) / len(row)
    return [(x - mean) / math.sqrt(var + EPS) for x in row]


def _checker(kernel, x_rows, out_rows, rows):
    idx = harness.sample_indices(rows, harness.CHECK_ROWS)

    def check(_output):
        actual, expected = [], []
        for i in idx:
            actual.extend(out_rows(i))
            expected.extend(_reference(kernel, x_rows(i)))
        return actual, expected
    return check


def _prepare_torch(torch, device, case, record):
    dev = common.torch_device(torch, device)
    kernel, rows, cols, dtype = case["kernel"], int(case["rows"]), int(case["cols"]), case["dtype"]
    record["params"].update(common.torch_params(torch, dev))
    gen = torch.Generator(device=dev).manual_seed(0)
    tdt = common.torch_dtype(torch, dtype)
    if kernel in ("sum", "exp"):
        x = (torch.rand(rows, cols, device=dev, generator=gen) + 0.5).to(tdt)     # no cancellation
    else:
        x = torch.randn(rows, cols, device=dev, generator=gen).to(tdt)
    out = torch.full((rows,) if kernel == "sum" else (rows, cols), float("nan"), dtype=tdt, device=dev)
    aten = getattr(torch.ops, "aten", None)
    if kernel == "exp":
        fn, api = (lambda: torch.exp(x, out=out)), "torch.exp(out=)"
    elif kernel == "sum":
        fn, api = (lambda: torch.sum(x, dim=-1, out=out)), "torch.sum(dim=-1, out=)"
    elif kernel == "softmax":
        try:
            op = aten._softmax.out
            fn, api = (lambda: op(x, -1, False, out=out)), "aten._softmax.out"
        except (AttributeError, RuntimeError):
            fn, api = (lambda: out.copy_(torch.softmax(x, dim=-1))), "torch.softmax + copy_"
    elif kernel == "layer_norm":
        weight, bias = torch.ones(cols, dtype=tdt, device=dev), torch.zeros(cols, dtype=tdt, device=dev)
        try:
            op = aten.native_layer_norm.out
            # mean/rstd dtypes differ by device and dtype: take them from one functional call
            _, mean, rstd = (torch.empty_like(t) for t in torch.native_layer_norm(x, [cols], weight, bias, EPS))
            fn = lambda: op(x, [cols], weight, bias, EPS, out0=out, out1=mean, out2=rstd)
            api = "aten.native_layer_norm.out"
        except (AttributeError, RuntimeError):
            fn = lambda: out.copy_(torch.nn.functional.layer_norm(x, (cols,), weight, bias, EPS))
            api = "torch.nn.functional.layer_norm + copy_"
    else:
        raise harness.Skip("unknown elementwise kernel '%s'" % kernel)
    record["params"]["api"] = api

    def row_of(t):
        return lambda i: t[i].double().flatten().tolist()
    check = _checker(kernel, row_of(x), (lambda i: [float(out[i])]) if kernel == "sum" else row_of(out), rows)
    return harness.Kernel(fn, check, timer=common.torch_timer(torch, dev))


def _prepare_numpy(np, device, case, record):
    if device != "cpu":
        raise harness.Skip("numpy runs on the CPU only")
    kernel, rows, cols, dtype = case["kernel"], int(case["rows"]), int(case["cols"]), case["dtype"]
    if kernel not in ("exp", "sum"):
        raise harness.Skip("numpy has no %s" % kernel)
    if dtype not in ("fp32", "fp64"):
        raise harness.Skip("numpy elementwise runs in fp32/fp64")
    dt = np.float32 if dtype == "fp32" else np.float64
    x = np.random.default_rng(0).random((rows, cols), dtype=dt) + dt(0.5)
    out = np.full((rows,) if kernel == "sum" else (rows, cols), np.nan, dtype=dt)
    if kernel == "exp":
        fn, api = (lambda: np.exp(x, out=out)), "numpy.exp(out=)"
    else:
        fn, api = (lambda: np.sum(x, axis=-1, out=out)), "numpy.sum(axis=-1, out=)"
    record["params"]["api"] = api

    def row_of(arr):
        return lambda i: np.atleast_1d(arr[i]).astype(np.float64).tolist()
    return harness.Kernel(fn, _checker(kernel, row_of(x), row_of(out), rows))


PREPARE = {"torch": _prepare_torch, "numpy": _prepare_numpy}

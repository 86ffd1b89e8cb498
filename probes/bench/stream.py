"""STREAM-style memory bandwidth (copy, scale, add, triad) with numpy or torch, on the host or a
CUDA device. Bytes counted per call as STREAM does (stream.c v5.10): copy and scale 2 arrays,
add and triad 3 arrays; write-allocate traffic is not counted. The host sizes each array at
>= 4x the last-level cache. numpy has no fused triad: it runs two passes (a = s*c; a += b) and
is still credited with 3 arrays, as a user's numpy code would be (params.passes says so).
Arrays hold random values in [0.5, 1.5) (never zero); a sample of each output is checked.
Case: {"kernel": "triad", "dtype": "fp64", "n": 16777216}.
"""
from .. import harness
from . import common

ITEMSIZE = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2}
ARRAYS = {"copy": 2, "scale": 2, "add": 3, "triad": 3}
FLOPS = {"copy": 0, "scale": 1, "add": 1, "triad": 2}
SCALAR = 3.0
_arrays = {}          # (framework, device, dtype, n) -> (a, b, c), shared by the cases of one task


def run(ctx, **args):
    try:
        for record in common.drive(ctx, "bench.stream", args, describe, PREPARE.get(args["framework"])):
            yield record
    finally:
        _arrays.clear()


def describe(framework, device, case):
    kernel, n, dtype = case["kernel"], int(case["n"]), case["dtype"]
    return {
        "op": "stream_" + kernel, "framework": framework, "device": device, "dtype": dtype,
        "shape": {"n": n}, "shape_text": "n%d" % n, "variant": None,
        "unit": "GB/s", "direction": "higher",
        "flops": float(FLOPS[kernel] * n) or None, "bytes": float(ARRAYS[kernel] * n * ITEMSIZE[dtype]),
        "params": {"bytes_per_array": n * ITEMSIZE[dtype]},
    }


def _expected(kernel, a, b, c):
    """What the output should hold, from the inputs, in float64 Python arithmetic."""
    if kernel == "copy":
        return a
    if kernel == "scale":
        return [SCALAR * x for x in c]
    if kernel == "add":
        return [x + y for x, y in zip(a, b)]
    return [y + SCALAR * z for y, z in zip(b, c)]


OUTPUT = {"copy": 2, "scale": 1, "add": 2, "triad": 0}      # index of the array each kernel writes


def _check_for(kernel, arrays, n, to_list):
    idx = harness.sample_indices(n, harness.CHECK_ROWS * 250)

    def check(_output):
        a, b, c = (to_list(arr, idx) for arr in arrays)
        out = (a, b, c)[OUTPUT[kernel]]
        # Inputs are read after the call; every kernel leaves its own inputs unchanged.
        return out, _expected(kernel, a, b, c)
    return check


def _prepare_numpy(np, device, case, record):
    if device != "cpu":
        raise harness.Skip("numpy runs on the CPU only")
    kernel, n, dtype = case["kernel"], int(case["n"]), case["dtype"]
    if dtype not in ("fp64", "fp32"):
        raise harness.Skip("numpy STREAM runs in fp64/fp32")
    key = ("numpy", device, dtype, n)
    if key not in _arrays:
        _arrays.clear()
        rng = np.random.default_rng(0)
        dt = np.float64 if dtype == "fp64" else np.float32
        _arrays[key] = tuple(rng.random(n, dtype=dt) + dt(0.5) for _ in range(3))
    a, b, c = _arrays[key]
    fns = {"copy": lambda: np.copyto(c, a), "scale": lambda: np.multiply(c, SCALAR, out=b),
           "add": lambda: np.add(a, b, out=c),
           "triad": lambda: np.add(np.multiply(c, SCALAR, out=a), b, out=a)}
    record["params"].update({"passes": 2 if kernel == "triad" else 1, "threads": 1})
    check = _check_for(kernel, (a, b, c), n, lambda arr, idx: arr[idx].astype(np.float64).tolist())
    return harness.Kernel(fns[kernel], check)


def _prepare_torch(torch, device, case, record):
    dev = common.torch_device(torch, device)
    kernel, n, dtype = case["kernel"], int(case["n"]), case["dtype"]
    record["params"].update(common.torch_params(torch, dev))
    key = ("torch", device, dtype, n)
    if key not in _arrays:
        _arrays.clear()
        gen = torch.Generator(device=dev).manual_seed(0)
        tdt = common.torch_dtype(torch, dtype)
        _arrays[key] = tuple((torch.rand(n, device=dev, generator=gen) + 0.5).to(tdt) for _ in range(3))
    a, b, c = _arrays[key]
    fns = {"copy": lambda: c.copy_(a), "scale": lambda: torch.mul(c, SCALAR, out=b),
           "add": lambda: torch.add(a, b, out=c), "triad": lambda: torch.add(b, c, alpha=SCALAR, out=a)}
    record["params"]["passes"] = 1

    def to_list(arr, idx):
        return arr.index_select(0, torch.tensor(idx, device=dev)).double().tolist()

    return harness.Kernel(fns[kernel], _check_for(kernel, (a, b, c), n, to_list),
                          timer=common.torch_timer(torch, dev))


PREPARE = {"numpy": _prepare_numpy, "torch": _prepare_torch}

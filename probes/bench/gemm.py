"""GEMM C = A.B (M x K times K x N): 2*M*N*K FLOPs per call, through numpy, torch, tensorflow or
jax, on the CPU or a CUDA device. Inputs are random normal; the output is poisoned (NaN) before
the first call and a few of its rows and columns are checked against float64 (numpy, torch;
tensorflow and jax: rows).

GPU details follow the MAMF finder: B is stored transposed (NT layout), an L2-sized buffer is
zeroed and C refilled before every timed call, outside the CUDA event pair; fp8 runs through
torch._scaled_mm with unit scales and a bf16 output. TF32 is set explicitly off (variant None)
or on (variant "tf32") for fp32 and restored afterwards.

Case: {"dtype": "fp32", "m": 1024, "n": 1024, "k": 1024, "variant": null|"tf32", "l2_flush": true}.
"""
import os

from .. import harness
from . import common, gemm_search, gpu_select

ITEMSIZE = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}


def run(ctx, **args):
    prepare = PREPARE.get(args["framework"])
    measured = {}                        # dtype -> {shape: GFLOP/s} of this task's plain cases, for the search
    for record in common.drive(ctx, "bench.gemm", args, describe, prepare and _searching(prepare, measured)):
        if record["status"] == "ok" and record.get("role") is None and record["samples_s"]:
            shape = record["shape"]
            median = sorted(record["samples_s"])[len(record["samples_s"]) // 2]
            measured.setdefault(record["dtype"], {})[(shape["m"], shape["n"], shape["k"])] = \
                record["work"]["flops"] / median / 1e9
        yield record


def describe(framework, device, case):
    if case.get("search"):
        return {"op": "gemm", "framework": framework, "device": device, "dtype": case["dtype"], "shape": {},
                "shape_text": "searched", "variant": None, "unit": "GFLOP/s", "direction": "higher",
                "flops": None, "bytes": None, "role": "search", "params": {}}
    m, n, k, dtype = int(case["m"]), int(case["n"]), int(case["k"]), case["dtype"]
    out_size = 2 if dtype == "fp8" else ITEMSIZE[dtype]
    return {
        "op": "gemm", "framework": framework, "device": device, "dtype": dtype,
        "shape": {"m": m, "n": n, "k": k}, "shape_text": "%dx%dx%d" % (m, n, k),
        "variant": case.get("variant"), "unit": "GFLOP/s", "direction": "higher",
        "flops": 2.0 * m * n * k, "bytes": float((m * k + k * n) * ITEMSIZE[dtype] + m * n * out_size),
        "params": {"layout": "nt" if device.startswith("cuda") else "nn"},
    }


def _searching(prepare, measured):
    """prepare() for plain cases; for a search case, the search first (gemm_search.py: around the best
    of the shapes this task already measured for the dtype), then the shape it found prepared like any
    case, with the record's shape and work set to it."""
    def prepare_case(fw, device, case, record):
        if not case.get("search"):
            return prepare(fw, device, case, record)

        def make(m, n, k):
            return prepare(fw, device, dict(case, m=m, n=n, k=k, search=None), {"params": {}})
        found = gemm_search.search(make, case, device, measured.get(case["dtype"]))
        if found is None:
            raise harness.Skip("no GEMM shape could run in the search budget")
        m, n, k = found.pop("shape")
        itemsize = 2 if case["dtype"] == "fp8" else ITEMSIZE[case["dtype"]]
        record["shape"] = {"m": m, "n": n, "k": k}
        record["work"] = {"flops": 2.0 * m * n * k, "bytes": float((m * k + k * n + m * n) * itemsize)}
        record["params"]["search"] = dict(found, budget_s=(case.get("search") or {}).get("budget_s"))
        return prepare(fw, device, dict(case, m=m, n=n, k=k, search=None), record)
    return prepare_case


# The kernels themselves, one line each (a test replaces one with a wrong op to prove the check).
def torch_mm(torch, a, b, out):
    return torch.mm(a, b, out=out)


def numpy_matmul(np, a, b, out):
    return np.matmul(a, b, out=out)


def _prepare_torch(torch, device, case, record):
    dev = common.torch_device(torch, device)
    dtype, variant = case["dtype"], case.get("variant")
    m, n, k = int(case["m"]), int(case["n"]), int(case["k"])
    params = record["params"]
    params.update(common.torch_params(torch, dev))
    restore, tol = [], None
    if dev.type == "cuda":
        reason = gpu_select.gemm_unsupported(dtype, variant, common.capability(torch, dev),
                                             params.get("hip"), _arch(torch, dev),
                                             hasattr(torch, "_scaled_mm"))
        if reason:
            raise harness.Skip(reason)
        if dtype == "fp32":
            restore.append(_set_tf32(torch, variant == "tf32"))
            params["allow_tf32"] = variant == "tf32"
            if variant == "tf32":
                tol = harness.TOLERANCE["tf32"]
            elif os.environ.get("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE") == "1":
                tol = harness.TOLERANCE["tf32"]     # the environment forces TF32 on fp32 matmuls
                params["tf32_forced_by_env"] = True
    elif dtype == "fp8" or variant == "tf32":
        raise harness.Skip("%s GEMM is measured on CUDA devices only" % (variant or dtype))

    gen = torch.Generator(device=dev).manual_seed(0)
    a = torch.randn(m, k, device=dev, generator=gen)
    b = torch.randn(n, k, device=dev, generator=gen).t() if dev.type == "cuda" else \
        torch.randn(k, n, device=dev, generator=gen)
    if dtype == "fp8":
        f8 = common.torch_dtype(torch, "fp8")
        a, b = a.to(f8), b.t().contiguous().to(f8).t()        # _scaled_mm wants B column-major
        scale = torch.ones((), device=dev)
        out = [None]

        def fn():
            result = torch._scaled_mm(a, b, scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16)
            out[0] = result[0] if isinstance(result, tuple) else result   # torch < 2.5 returned (out, amax)
            return out[0]
        params["scales"] = "unit, per-tensor"
    else:
        a, b = a.to(common.torch_dtype(torch, dtype)), b.to(common.torch_dtype(torch, dtype))
        c = torch.full((m, n), float("nan"), dtype=a.dtype, device=dev)

        def fn():
            return torch_mm(torch, a, b, c)

    rows, cols = harness.sample_indices(m, harness.CHECK_ROWS), harness.sample_indices(n, harness.CHECK_ROWS, 1)

    def check(output):
        r, c = torch.tensor(rows, device=dev), torch.tensor(cols, device=dev)
        a64, b64 = a.float().double(), b.float().double()      # via fp32: fp8 has few kernels
        got = [output.index_select(0, r), output.index_select(1, c)]
        ref = [a64.index_select(0, r) @ b64, a64 @ b64.index_select(1, c)]
        return (torch.cat([t.double().flatten() for t in got]).tolist(),
                torch.cat([t.flatten() for t in ref]).tolist())

    before = None
    if dev.type == "cuda" and case.get("l2_flush", True):
        flush = _l2_flush_buffer(torch, dev)
        params["l2_flush_bytes"] = flush.numel() * 4

        def before():
            flush.zero_()
            if dtype != "fp8":
                c.normal_()          # MAMF: make sure C is really written every call
    return harness.Kernel(fn, check, before, common.torch_timer(torch, dev), tol=tol,
                          cleanup=lambda: [r() for r in restore])


def _set_tf32(torch, on):
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high" if on else "highest")
    return lambda: torch.set_float32_matmul_precision(old)


def _arch(torch, dev):
    props = torch.cuda.get_device_properties(dev)
    return getattr(props, "gcnArchName", None)


def _l2_flush_buffer(torch, dev):
    # 256 MiB: larger than any current GPU's L2 / Infinity Cache (MAMF finder, triton do_bench).
    return torch.empty(256 * 1024 * 1024 // 4, dtype=torch.int32, device=dev)


def _prepare_numpy(np, device, case, record):
    if device != "cpu":
        raise harness.Skip("numpy runs on the CPU only")
    dtype = case["dtype"]
    if dtype not in ("fp32", "fp64"):
        raise harness.Skip("numpy has no %s GEMM" % dtype)
    m, n, k = int(case["m"]), int(case["n"]), int(case["k"])
    dt = np.float32 if dtype == "fp32" else np.float64
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=dt)
    b = rng.standard_normal((k, n), dtype=dt)
    c = np.full((m, n), np.nan, dtype=dt)
    record["params"]["blas_env"] = common.openblas_env()
    rows, cols = harness.sample_indices(m, harness.CHECK_ROWS), harness.sample_indices(n, harness.CHECK_ROWS, 1)

    def check(output):
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        got = np.concatenate([output[rows].ravel(), output[:, cols].ravel()]).astype(np.float64)
        ref = np.concatenate([(a64[rows] @ b64).ravel(), (a64 @ b64[:, cols]).ravel()])
        return got.tolist(), ref.tolist()

    return harness.Kernel(lambda: numpy_matmul(np, a, b, c), check)


def _prepare_tensorflow(tf, device, case, record):
    dtype = case["dtype"]
    if dtype == "fp8" or case.get("variant"):
        raise harness.Skip("tensorflow GEMM is measured in fp32/bf16/fp16/fp64 only")
    name = _tf_device(tf, device)
    m, n, k = int(case["m"]), int(case["n"]), int(case["k"])
    tf_dtype = getattr(tf, common.DTYPE_NAMES[dtype])
    with tf.device(name):
        a = tf.cast(tf.random.stateless_normal((m, k), seed=(0, 1)), tf_dtype)
        b = tf.cast(tf.random.stateless_normal((k, n), seed=(0, 2)), tf_dtype)
    record["params"]["tf_device"] = name
    last = [None]

    def fn():
        with tf.device(name):
            last[0] = tf.linalg.matmul(a, b)
        return last[0]

    rows = harness.sample_indices(m, harness.CHECK_ROWS)

    def check(output):
        import numpy as np
        av, bv, cv = (tf.cast(t, tf.float64).numpy() for t in (a, b, output))
        return cv[rows].ravel().tolist(), (av[rows] @ bv).ravel().tolist()

    return harness.Kernel(fn, check, timer=_tf_timer(name, lambda: last[0][:1, :1]))


def _tf_timer(name, corner):
    """Eager ops on the CPU run synchronously; on a GPU, reading one element waits for the queue."""
    return harness.CpuTimer(sync=(lambda: corner().numpy()) if name.startswith("/GPU") else None)


def _tf_device(tf, device):
    if device == "cpu":
        return "/CPU:0"
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    gpus = tf.config.list_logical_devices("GPU")
    if index >= len(gpus):
        raise harness.Skip("no CUDA device for tensorflow (%d GPUs visible)" % len(gpus))
    return "/GPU:%d" % index


def _prepare_jax(jax, device, case, record):
    dtype = case["dtype"]
    if dtype == "fp8" or case.get("variant"):
        raise harness.Skip("jax GEMM is measured in fp32/bf16/fp16/fp64 only")
    import jax.numpy as jnp
    if dtype == "fp64" and not jax.config.read("jax_enable_x64"):
        raise harness.Skip("jax runs fp64 only with jax_enable_x64 set")
    dev = _jax_device(jax, device)
    m, n, k = int(case["m"]), int(case["n"]), int(case["k"])
    jdt = getattr(jnp, common.DTYPE_NAMES[dtype])
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.device_put(jax.random.normal(ka, (m, k), dtype=jnp.float32).astype(jdt), dev)
    b = jax.device_put(jax.random.normal(kb, (k, n), dtype=jnp.float32).astype(jdt), dev)
    matmul = jax.jit(jnp.matmul)
    record["params"]["jax_device"] = str(dev)
    rows = harness.sample_indices(m, harness.CHECK_ROWS)

    def check(output):
        import numpy as np
        av, bv, cv = (np.asarray(t).astype(np.float64) for t in (a, b, output))
        return cv[rows].ravel().tolist(), (av[rows] @ bv).ravel().tolist()

    return harness.Kernel(lambda: matmul(a, b).block_until_ready(), check)


def _jax_device(jax, device):
    if device == "cpu":
        return jax.devices("cpu")[0]
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if index >= len(gpus):
        raise harness.Skip("no CUDA device for jax (%d GPUs visible)" % len(gpus))
    return gpus[index]


PREPARE = {"torch": _prepare_torch, "numpy": _prepare_numpy, "tensorflow": _prepare_tensorflow,
           "jax": _prepare_jax}

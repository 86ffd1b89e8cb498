"""2-D convolution (forward, no bias) through torch (CPU oneDNN, CUDA cuDNN) or tensorflow.
FLOPs per call: 2 * N * K * Ho * Wo * C * R * S. A sample of the output (first image, first
output channels) is checked against the same convolution in float64.

Variants (torch): null = NCHW with cudnn.benchmark off (the defaults), "channels_last",
"cudnn_benchmark", "channels_last+cudnn_benchmark"; the cudnn flag is restored afterwards.
On a GPU, as for GEMM (gemm.py, the MAMF finder's method), an L2-sized buffer is zeroed before every
timed call, outside the CUDA event pair, so a small input is not read from a warm L2.
Case: {"dtype": "fp32", "n": 8, "c": 64, "h": 56, "w": 56, "k": 64, "r": 3, "s": 3,
       "stride": 1, "pad": 1, "variant": null, "l2_flush": true}.
"""
from .. import harness
from . import common, gpu_select
from .gemm import _l2_flush_buffer as l2_flush_buffer

ITEMSIZE = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2}
CHECK_CHANNELS = 4


def run(ctx, **args):
    return common.drive(ctx, "bench.conv", args, describe, PREPARE.get(args["framework"]))


def out_size(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def describe(framework, device, case):
    n, c, h, w, k, r, s = (int(case[x]) for x in ("n", "c", "h", "w", "k", "r", "s"))
    stride, pad, dtype = int(case.get("stride", 1)), int(case.get("pad", 0)), case["dtype"]
    ho, wo = out_size(h, r, stride, pad), out_size(w, s, stride, pad)
    size = ITEMSIZE.get(dtype, 4)
    return {
        "op": "conv2d", "framework": framework, "device": device, "dtype": dtype,
        "shape": {"n": n, "c": c, "h": h, "w": w, "k": k, "r": r, "s": s, "stride": stride, "pad": pad},
        "shape_text": "%dx%dx%dx%d-%dx%dx%d-s%dp%d" % (n, c, h, w, k, r, s, stride, pad),
        "variant": case.get("variant"), "unit": "GFLOP/s", "direction": "higher",
        "flops": 2.0 * n * k * ho * wo * c * r * s,
        "bytes": float((n * c * h * w + k * c * r * s + n * k * ho * wo) * size),
        "params": {},
    }


def torch_conv(torch, x, weight, stride, pad):
    return torch.nn.functional.conv2d(x, weight, stride=stride, padding=pad)


def _prepare_torch(torch, device, case, record):
    dev = common.torch_device(torch, device)
    variant, dtype = case.get("variant") or "", case["dtype"]
    params = record["params"]
    params.update(common.torch_params(torch, dev))
    restore, tol = [], None
    if dev.type == "cuda":
        reason = gpu_select.conv_unsupported(dtype, common.capability(torch, dev), params.get("hip"))
        if reason:
            raise harness.Skip(reason)
        old = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = "cudnn_benchmark" in variant
        restore.append(lambda: setattr(torch.backends.cudnn, "benchmark", old))
        params["cudnn_benchmark"] = "cudnn_benchmark" in variant
        params["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
        if dtype == "fp32" and torch.backends.cudnn.allow_tf32:
            tol = harness.TOLERANCE["tf32"]       # torch's default: fp32 convolutions may use TF32
    elif "cudnn_benchmark" in variant:
        raise harness.Skip("cudnn.benchmark applies to CUDA devices only")
    else:
        params["mkldnn_enabled"] = bool(torch.backends.mkldnn.enabled)

    n, c, h, w, k, r, s = (int(case[x]) for x in ("n", "c", "h", "w", "k", "r", "s"))
    stride, pad = int(case.get("stride", 1)), int(case.get("pad", 0))
    gen = torch.Generator(device=dev).manual_seed(0)
    tdt = common.torch_dtype(torch, dtype)
    x = torch.randn(n, c, h, w, device=dev, generator=gen).to(tdt)
    weight = (torch.randn(k, c, r, s, device=dev, generator=gen) / (c * r * s) ** 0.5).to(tdt)
    if "channels_last" in variant:
        x = x.contiguous(memory_format=torch.channels_last)
        weight = weight.contiguous(memory_format=torch.channels_last)
    params["memory_format"] = "channels_last" if "channels_last" in variant else "contiguous"

    def fn():
        with torch.no_grad():
            return torch_conv(torch, x, weight, stride, pad)

    def check(output):
        ref = torch.nn.functional.conv2d(x[:1].double(), weight[:CHECK_CHANNELS].double(),
                                         stride=stride, padding=pad)
        return output[:1, :CHECK_CHANNELS].double().flatten().tolist(), ref.flatten().tolist()

    before = None
    if dev.type == "cuda" and case.get("l2_flush", True):
        flush = l2_flush_buffer(torch, dev)
        params["l2_flush_bytes"] = flush.numel() * flush.element_size()

        def before():
            flush.zero_()
    kernel = harness.Kernel(fn, check, before, timer=common.torch_timer(torch, dev), tol=tol,
                            cleanup=lambda: [undo() for undo in restore])
    if "cudnn_benchmark" in variant:
        kernel.min_warm_calls = 10                # cuDNN's autotuning done alike in every environment compared
    return kernel


def _prepare_tensorflow(tf, device, case, record):
    if case.get("variant"):
        raise harness.Skip("tensorflow convolution is measured in its default layout only")
    from .gemm import _tf_device, _tf_timer
    name = _tf_device(tf, device)
    n, c, h, w, k, r, s = (int(case[x]) for x in ("n", "c", "h", "w", "k", "r", "s"))
    stride, pad = int(case.get("stride", 1)), int(case.get("pad", 0))
    tdt = getattr(tf, common.DTYPE_NAMES[case["dtype"]])
    with tf.device(name):
        x = tf.cast(tf.random.stateless_normal((n, h, w, c), seed=(1, 1)), tdt)          # NHWC
        weight = tf.cast(tf.random.stateless_normal((r, s, c, k), seed=(1, 2)) / (c * r * s) ** 0.5, tdt)
    padding = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    record["params"].update({"tf_device": name, "memory_format": "NHWC"})
    last = [None]

    def fn():
        with tf.device(name):
            last[0] = tf.nn.conv2d(x, weight, strides=stride, padding=padding)
        return last[0]

    def check(output):
        ref = tf.nn.conv2d(tf.cast(x[:1], tf.float64), tf.cast(weight[..., :CHECK_CHANNELS], tf.float64),
                           strides=stride, padding=padding)
        got = tf.cast(output[:1, ..., :CHECK_CHANNELS], tf.float64)
        return got.numpy().ravel().tolist(), ref.numpy().ravel().tolist()

    return harness.Kernel(fn, check, timer=_tf_timer(name, lambda: last[0][:1, :1, :1, :1]))


PREPARE = {"torch": _prepare_torch, "tensorflow": _prepare_tensorflow}

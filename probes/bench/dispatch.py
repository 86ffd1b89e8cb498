"""Dispatch overhead: time per tiny op (an add of two 1-element tensors into a preallocated output),
in eager mode (variant null) or replayed from a CUDA graph of `ops` such adds (variant
"cuda_graph"). On GPU, eager ops are launched back to back and synchronised once per timed block,
so the figure is the launch rate the host sustains, not one op's round-trip latency.
Unit: microseconds per op (lower is better). Case: {"mode": "eager"|"cuda_graph", "ops": 100}.
"""
from .. import harness
from . import common


def run(ctx, **args):
    return common.drive(ctx, "bench.dispatch", args, describe,
                        _prepare_torch if args["framework"] == "torch" else None)


def describe(framework, device, case):
    graph = case.get("mode") == "cuda_graph"
    return {
        "op": "dispatch", "framework": framework, "device": device, "dtype": "fp32",
        "shape": {"numel": 1, "ops_per_call": int(case.get("ops", 1)) if graph else 1},
        "shape_text": "add1", "variant": "cuda_graph" if graph else None,
        "unit": "us", "direction": "lower", "flops": None, "bytes": None, "params": {},
    }


def _prepare_torch(torch, device, case, record):
    dev = common.torch_device(torch, device)
    record["params"].update(common.torch_params(torch, dev))
    a = torch.rand(1, device=dev) + 0.5
    b = torch.rand(1, device=dev) + 0.5
    c = torch.full((1,), float("nan"), device=dev)

    def check(_output):
        return c.double().tolist(), (a.double() + b.double()).tolist()

    timer = common.torch_timer(torch, dev)
    if case.get("mode") != "cuda_graph":
        return harness.Kernel(lambda: torch.add(a, b, out=c), check, timer=timer)
    if dev.type != "cuda":
        raise harness.Skip("CUDA graphs need a CUDA device")
    ops = int(case.get("ops", 100))
    side = torch.cuda.Stream(device=dev)
    side.wait_stream(torch.cuda.current_stream(dev))
    with torch.cuda.stream(side):                      # warm-up on a side stream, as capture requires
        for _ in range(3):
            torch.add(a, b, out=c)
    torch.cuda.current_stream(dev).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(ops):
            torch.add(a, b, out=c)
    c.fill_(float("nan"))
    kernel = harness.Kernel(graph.replay, check, timer=timer)
    kernel.calls_per_fn = ops
    return kernel

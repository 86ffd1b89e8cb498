"""Host<->device copies through torch: H2D and D2H, pinned (variant "pinned", non_blocking) or
pageable host memory (variant "pageable"), timed with CUDA events around each copy. Bytes per
call = the buffer size (one direction, decimal GB/s). Data are random bytes in 1..255 (never
zero); a sample of the destination is compared with the source.
Case: {"direction": "h2d"|"d2h", "bytes": 67108864, "pinned": true}.
"""
from .. import harness
from . import common


def run(ctx, **args):
    return common.drive(ctx, "bench.transfer", args, describe,
                        _prepare_torch if args["framework"] == "torch" else None)


def describe(framework, device, case):
    size, direction = int(case["bytes"]), case["direction"]
    return {
        "op": direction, "framework": framework, "device": device, "dtype": "u8",
        "shape": {"bytes": size}, "shape_text": "%dB" % size,
        "variant": "pinned" if case.get("pinned") else "pageable",
        "unit": "GB/s", "direction": "higher", "flops": None, "bytes": float(size), "params": {},
    }


def _prepare_torch(torch, device, case, record):
    dev = common.torch_device(torch, device)
    if dev.type != "cuda":
        raise harness.Skip("host<->device copies need a CUDA device")
    record["params"].update(common.torch_params(torch, dev))
    size, pinned = int(case["bytes"]), bool(case.get("pinned"))
    host = torch.randint(1, 256, (size,), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    if pinned:
        host = host.pin_memory()
    gpu = torch.randint(1, 256, (size,), dtype=torch.uint8, device=dev)
    if case["direction"] == "h2d":
        src, dst = host, torch.zeros(size, dtype=torch.uint8, device=dev)
    else:
        src, dst = gpu, torch.zeros(size, dtype=torch.uint8).pin_memory() if pinned else \
            torch.zeros(size, dtype=torch.uint8)
    idx = harness.sample_indices(size, harness.CHECK_ROWS * 250)

    def sample(t):
        return t.index_select(0, torch.tensor(idx, device=t.device)).double().tolist()

    def check(_output):
        torch.cuda.synchronize(dev)
        return sample(dst), sample(src)

    return harness.Kernel(lambda: dst.copy_(src, non_blocking=pinned), check,
                          timer=common.torch_timer(torch, dev))

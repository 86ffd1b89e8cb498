"""A short search for the GEMM shape at which a library runs fastest on this machine (MAMF-style).

Fixed squares step over a machine's best shape (its cache and register blocking decide where
throughput peaks: 2304³ on one Xeon, 4096³ on another), so "% of the best this machine can do" needs
the best found, not assumed. Within a time budget: a coarse grid of squares, then halving steps
around the fastest, then the two rectangles that double one side of it. Each candidate is timed
lightly (a warm call, then the median of up to three calls): the search only ranks shapes; the
shape it picks is then measured by the harness like any other case. Python 3.8 syntax, stdlib only.

A search case: {"dtype": "fp32", "search": {"budget_s": 2.0, "grid": [512, …]}}; its record's id ends
in "searched" (a stable id), its shape is the shape found, params.search lists every shape tried.
"""
import time

from .. import harness

CPU_GRID = [256, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096]
GPU_GRID = [2048, 4096, 6144, 8192, 12288, 16384]
ALIGN = 64
TRIES = 3


def search(make_kernel, case, device, measured=None):
    """{"shape": (m, n, k), "tried": [...], "spent_s"}: the fastest shape found within the budget.
    make_kernel(m, n, k) -> harness.Kernel for that shape (its cleanup is run here); measured:
    {(m, n, k): GFLOP/s} the harness already measured for this library and dtype (the search starts
    from them and does not time them again)."""
    options = case.get("search") or {}
    budget = float(options.get("budget_s") or 2.0)
    grid = [int(s) for s in options.get("grid") or (GPU_GRID if device.startswith("cuda") else CPU_GRID)]
    started = time.perf_counter()
    tried = dict(measured or {})
    seeded = set(tried)

    def trial(m, n, k):
        shape = (int(m), int(n), int(k))
        if shape in tried or min(shape) < ALIGN:
            return
        left = budget - (time.perf_counter() - started)
        best = max([r for r in tried.values() if r], default=None)
        flops = 2.0 * m * n * k
        # a call predicted to take more than a fifth of what is left would eat the budget
        if left <= 0 or (best and flops / (best * 1e9) * (TRIES + 1) > left):
            return
        tried[shape] = _rate(make_kernel, shape, flops, left)

    for size in grid:
        trial(size, size, size)
    squares = sorted(s for s in tried if s[0] == s[1] == s[2] and tried[s])
    if not squares:
        return None
    top = max(squares, key=lambda s: tried[s])[0]
    below = max([s[0] for s in squares if s[0] < top], default=top // 2)
    above = min([s[0] for s in squares if s[0] > top], default=top * 2)
    step = max((above - below) // 4, ALIGN)
    while step >= ALIGN:                                  # halving steps around the fastest square
        for size in (_align(top - step), _align(top + step)):
            trial(size, size, size)
        top = max((s for s in tried if s[0] == s[1] == s[2] and tried[s]), key=lambda s: tried[s])[0]
        step //= 2
    for shape in ((2 * top, top, top), (top, 2 * top, top)):   # a taller or wider output tile
        trial(*shape)
    best = max((s for s in tried if tried[s]), key=lambda s: tried[s])
    return {"shape": best, "spent_s": round(time.perf_counter() - started, 3),
            "tried": [{"m": s[0], "n": s[1], "k": s[2], "gflops": None if r is None else round(r, 2),
                       "source": "measured case" if s in seeded else "search"}
                      for s, r in sorted(tried.items())]}


def _rate(make_kernel, shape, flops, left):
    """GFLOP/s of the fastest of a few calls after a warm one; None when it cannot run here."""
    kernel = None
    try:
        kernel = make_kernel(*shape)
        fn, sync = kernel.fn, kernel.timer.sync
        fn()
        sync()
        times, spent = [], 0.0
        for _ in range(TRIES):
            if kernel.before is not None:
                kernel.before()
                sync()
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
            spent += times[-1]
            if spent > left / 2:
                break
        return flops / sorted(times)[len(times) // 2] / 1e9       # the median, like the measured cases
    except Exception:                       # out of memory, unsupported: not a candidate
        return None
    finally:
        harness.clean_up(kernel)


def _align(size):
    return max(ALIGN, int(round(size / float(ALIGN))) * ALIGN)

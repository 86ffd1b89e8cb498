"""Parallelism what-if (host side): communication time per training step from the bus bandwidth
measured at the message sizes that matter, against the compute time from the measured GEMM rate at
the model's dtype, for a model the user describes. Every formula is stated with its result.

- data parallel: the gradients of one model replica shard, G = P / (tp·pp) · bytes, all-reduced once
  per step over dp ranks in DDP's 25 MiB buckets: t = G · 2(dp−1)/dp / busbw(all_reduce, 25 MiB).
  DDP overlaps it with the backward pass (≈ 2/3 of the step's compute): exposed = max(0, t − backward).
- tensor parallel, one transformer layer (Megatron-style): 2 all-reduces of the activations
  A = b·s·h·bytes in the forward pass and 2 in the backward: t = 4 · A · 2(tp−1)/tp / busbw(all_reduce, A),
  against the layer's compute (72·b·s·h² + 12·b·s²·h) / tp FLOPs.
- pipeline stage boundary: one micro-batch's activations forward and their gradient back,
  t = 2 · A / busbw(send/recv, A), against the stage's compute for that micro-batch 6·P/(tp·pp)·b·s.
- compute: 6 FLOPs per parameter per token (forward 2, backward 4) at the measured GEMM rate — an upper
  bound on speed (a step also runs attention, norms and optimizer work at lower rates).
busbw at a size between two measured sizes is interpolated on log scales; outside them the nearest
measured size is used and the row says so. busbw is (ideally) independent of the number of ranks, so
the measured value is used for the model's tp/dp/pp groups — over the links this run measured.
"""
from __future__ import annotations

import math
from statistics import median

ITEMSIZE = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "fp64": 8}
DDP_BUCKET = 25 * 2 ** 20
BACKWARD_SHARE = 2 / 3


def busbw_points(collectives: list[dict], op: str) -> list[tuple[float, float]]:
    """(S bytes, busbw GB/s) of the ok records of one collective, by size."""
    points = []
    for rec in collectives:
        factor = (rec.get("params") or {}).get("busbw_factor")
        value = rec.get("value")
        if rec.get("op") == op and rec.get("status") == "ok" and value and factor:
            points.append((float((rec.get("shape") or {}).get("bytes") or rec["work"]["bytes"]), value * factor))
    return sorted(points)


def busbw_at(points: list[tuple[float, float]], size: float) -> tuple[float | None, str]:
    if not points:
        return None, "not measured"
    if size <= points[0][0] or size >= points[-1][0]:
        edge = points[0] if size <= points[0][0] else points[-1]
        exact = math.isclose(edge[0], size, rel_tol=1e-6)
        return edge[1], "measured at this size" if exact else \
            f"outside the measured sizes: the value at {_size(edge[0])} is used"
    for (s0, b0), (s1, b1) in zip(points, points[1:]):
        if s0 <= size <= s1:
            f = (math.log(size) - math.log(s0)) / (math.log(s1) - math.log(s0))
            value = math.exp(math.log(b0) + f * (math.log(b1) - math.log(b0))) if b0 > 0 and b1 > 0 else b0
            return value, f"interpolated between {_size(s0)} and {_size(s1)}"
    return None, "not measured"


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n:g} B"


def gemm_rate(per_rank: dict, dtype: str) -> dict | None:
    """The median over ranks of the largest GEMM's GFLOP/s at `dtype` (fp32 when not measured)."""
    for want in (dtype, "fp32"):
        best = None
        for bench_id, entries in per_rank.items():
            ok = [e for e in entries if e.get("op") == "gemm" and e.get("dtype") == want and e.get("status") == "ok"
                  and e.get("value")]
            if ok and (best is None or bench_id > best[0]):
                best = (bench_id, median(e["value"] for e in ok), len(ok))
        if best:
            return {"id": best[0], "gflops": best[1], "ranks": best[2], "dtype": want,
                    "note": None if want == dtype else f"no {dtype} GEMM was measured: fp32's rate is used"}
    return None


def estimate(model: dict, world_size: int, collectives: list[dict], per_rank: dict, link_text: str) -> dict:
    params = model.get("model_params")
    if not params:
        return {"available": False, "reason": "describe the model to estimate: --model-params 7e9 --dtype bf16 "
                "[--hidden 4096 --seq 4096 --micro-batch 1 --tp 8 --pp 4]"}
    dtype = model.get("dtype") or "bf16"
    nbytes = ITEMSIZE.get(dtype, 2)
    tp, pp = int(model.get("tp") or 1), int(model.get("pp") or 1)
    dp = int(model.get("dp") or max(1, world_size // (tp * pp)))
    b, s, h = int(model.get("micro_batch") or 1), model.get("seq"), model.get("hidden")
    accum = int(model.get("grad_accum") or 1)
    layers = model.get("layers") or (round(params / (12 * h * h)) if h else None)
    notes = [f"links: {link_text}"]
    if world_size % (tp * pp):
        notes.append(f"tp·pp = {tp * pp} does not divide the measured world of {world_size} ranks: dp = {dp} "
                     "(the estimate is for the layout described, over the links measured here)")
    gemm = gemm_rate(per_rank, dtype)
    rate = gemm["gflops"] * 1e9 if gemm else None
    if gemm and gemm.get("note"):
        notes.append(gemm["note"])
    shard = params / (tp * pp)
    rows = []
    all_reduce, sendrecv = busbw_points(collectives, "all_reduce"), busbw_points(collectives, "send_recv")

    grad = shard * nbytes
    step_flops = 6 * shard * b * (s or 0) * accum if s else None
    step_s = step_flops / rate if step_flops and rate else None
    rows.append(_row("data-parallel gradient all-reduce", "step", grad, "all_reduce", min(DDP_BUCKET, grad),
                     2 * (dp - 1) / dp, all_reduce,
                     f"G = P/(tp·pp)·{nbytes} B = {_size(grad)}; t = G·2(dp−1)/dp / busbw(all_reduce, "
                     f"{_size(min(DDP_BUCKET, grad))} buckets), dp = {dp}",
                     step_s, f"6·P/(tp·pp)·b·s·accum = {_flops(step_flops)} at the GEMM rate" if step_flops else
                     "give --seq to compare with compute", overlap=step_s * BACKWARD_SHARE if step_s else None))
    if h and s:
        act = b * s * h * nbytes
        if tp > 1:
            layer_flops = (72 * b * s * h * h + 12 * b * s * s * h) / tp
            rows.append(_row("tensor-parallel layer (4 all-reduces)", "layer and micro-batch", act, "all_reduce", act,
                             4 * 2 * (tp - 1) / tp, all_reduce,
                             f"A = b·s·h·{nbytes} B = {_size(act)}; t = 4·A·2(tp−1)/tp / busbw(all_reduce, A), tp = {tp}",
                             layer_flops / rate if rate else None,
                             f"(72·b·s·h² + 12·b·s²·h)/tp = {_flops(layer_flops)} at the GEMM rate"))
        if pp > 1:
            stage_flops = 6 * shard * b * s
            rows.append(_row("pipeline stage boundary (send + recv)", "micro-batch", act, "send_recv", act, 2.0,
                             sendrecv, f"t = 2·A / busbw(send/recv, A), A = {_size(act)}",
                             stage_flops / rate if rate else None,
                             f"6·P/(tp·pp)·b·s = {_flops(stage_flops)} at the GEMM rate"))
    else:
        notes.append("tensor- and pipeline-parallel rows need --hidden and --seq")
    return {"available": True, "model": {"model_params": params, "dtype": dtype, "hidden": h, "seq": s,
                                          "micro_batch": b, "layers": layers, "grad_accum": accum},
            "layout": {"tp": tp, "pp": pp, "dp": dp, "world_size_measured": world_size},
            "gemm": gemm, "rows": rows, "notes": notes}


def _row(part, per, size, op, at, factor, points, formula, compute_s, compute_formula, overlap=None):
    bw, where = busbw_at(points, at)
    comm = (size * factor / (bw * 1e9)) if bw and factor else (0.0 if factor == 0 else None)
    row = {"part": part, "per": per, "bytes": size, "collective": op, "size_used": at, "busbw_gbps": bw,
           "busbw_note": where, "formula": formula, "comm_s": comm, "compute_s": compute_s,
           "compute_formula": compute_formula}
    if comm is not None and compute_s:
        row["ratio"] = comm / compute_s
        row["bound"] = "communication" if comm > compute_s else "compute"
        if overlap is not None:
            row["exposed_s"] = max(0.0, comm - overlap)
            row["overlap_note"] = "DDP overlaps the all-reduce with the backward pass (≈ 2/3 of the compute)"
    if factor == 0:
        row["busbw_note"] = "one rank in the group: nothing crosses a link"
    return row


def _flops(value: float | None) -> str:
    if not value:
        return "?"
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} FLOP"

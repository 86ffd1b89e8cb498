"""Rounds of interleaved runs (stackprof/multi.py): each benchmark record holds ``round_sizes`` (samples
per round, in order) and ``cpu_wait`` (per round, the share of the machine's CPU time that other processes used or the
hypervisor stole: machine_state.contention). Round i of A and round i of B were measured back to back; the judge leaves
contended rounds out."""
from __future__ import annotations

import math


def clean_samples(raw) -> list[float]:
    return [float(v) for v in raw or [] if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]


def paired_rounds(a: dict, b: dict) -> list[tuple[list[float], list[float], float]] | None:
    """[(samples A, samples B, CPU wait share: the larger side's)] per round, when both records were
    measured interleaved in the same rounds."""
    rounds_a, rounds_b = _rounds(a), _rounds(b)
    if not rounds_a or not rounds_b or len(rounds_a) != len(rounds_b) or len(rounds_a) < 2:
        return None
    waits = [_waits(a, len(rounds_a)), _waits(b, len(rounds_b))]
    return [(x, y, max(wa, wb)) for x, y, wa, wb in zip(rounds_a, rounds_b, *waits)]


def _waits(record: dict, n: int) -> list[float]:
    raw = record.get("cpu_wait")
    if not isinstance(raw, list) or len(raw) != n:
        return [0.0] * n                                   # not measured: nothing to leave out
    return [float(w) if isinstance(w, (int, float)) and math.isfinite(w) else 0.0 for w in raw]


def _rounds(record: dict) -> list[list[float]] | None:
    sizes, raw = record.get("round_sizes"), record.get("samples_s") or []
    if not isinstance(sizes, list) or any(not isinstance(n, int) or n < 1 for n in sizes) or sum(sizes) != len(raw):
        return None
    out, start = [], 0
    for n in sizes:
        part = clean_samples(raw[start:start + n])
        if not part:
            return None
        out.append(part)
        start += n
    return out

"""Which benchmarks each cause can move: one table that rules' experiments, verify and compare's
attribution all read.

A cause is proven by re-measuring a benchmark it really affects — oneDNN's switch in TensorFlow
shows in convolutions and bf16 GEMM, not in fp32 GEMM; ATEN_CPU_CAPABILITY moves ATen's own
elementwise and reduction kernels, not GEMM (MKL/oneDNN dispatch on their own); a thread cap moves
every kernel that runs on a thread pool, but not numpy's single-threaded elementwise code. ``choose``
picks, per framework, the cheapest affected benchmark that ran: the smallest case when the effect does
not depend on size (an ISA or kernel choice), else the cheapest one large enough to use a thread pool.
A rule whose experiment touches no affected benchmark that ran says so ("not measurable here").
A new cause is one row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

GEMM = frozenset({"gemm"})
CONV = frozenset({"conv2d"})
ATTENTION = frozenset({"sdpa"})
STREAM = frozenset({"stream_copy", "stream_scale", "stream_add", "stream_triad"})
ELEMENTWISE = frozenset({"softmax", "layer_norm", "sum", "exp"})
COLLECTIVES = frozenset({"all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "send_recv",
                         "allreduce"})
MIN_PARALLEL_S = 1e-3      # a call shorter than this barely uses a thread pool: too small to show a thread effect
SINGLE_THREADED = {"numpy": ELEMENTWISE | STREAM, "scipy": ELEMENTWISE | STREAM}


@dataclass(frozen=True)
class Affects:
    what: str                                   # in words, for reports and notes
    ops: frozenset | None = None                # None: any operation
    frameworks: frozenset | None = None
    device: str = "cpu"                         # cpu | cuda | any
    dtypes: frozenset | None = None
    threaded_only: bool = False                 # only kernels that run on a thread pool
    size_matters: bool = False                  # the effect needs a case large enough (threads, memory)
    largest: bool = False                       # the effect shows only at the largest size (bandwidth)
    prefer: tuple = ()                          # ops that show the cause best, in order (cheapest within one)
    also: Callable[[dict], bool] | None = None  # a further condition on the record

    def matches(self, record: dict) -> bool:
        device = str(record.get("device") or "")
        if self.device != "any" and not device.startswith(self.device):
            return False
        if self.ops is not None and record.get("op") not in self.ops:
            return False
        if self.frameworks is not None and record.get("framework") not in self.frameworks:
            return False
        if self.dtypes is not None and record.get("dtype") not in self.dtypes:
            return False
        if self.threaded_only and not threaded(record):
            return False
        return self.also(record) if self.also else True


def threaded(record: dict) -> bool:
    """Does this kernel run on a thread pool? numpy's elementwise/STREAM code and a dispatch loop do not."""
    if record.get("op") == "dispatch":
        return False
    return record.get("op") not in SINGLE_THREADED.get(record.get("framework"), ())


def _not_fp32_gemm(record: dict) -> bool:
    return not (record.get("op") == "gemm" and record.get("dtype") in ("fp32", "fp64"))


# A thread count moves compute-bound kernels the most (a memory-bound one saturates with fewer threads).
THREADS = Affects("every kernel that runs on a thread pool", threaded_only=True, size_matters=True,
                  prefer=("gemm", "conv2d", "sdpa", "softmax", "layer_norm", "exp"))
OPENBLAS = Affects("GEMM through OpenBLAS", GEMM)

AFFECTS: dict[str, Affects] = {
    "A1": Affects("GEMM through the reference BLAS", GEMM),
    "A2": THREADS, "A3": THREADS, "A4": THREADS, "A9": THREADS,
    "A5": OPENBLAS, "A6": OPENBLAS,
    "A7": Affects("GEMM through oneMKL", GEMM),
    "A8": Affects("kernels of the capped library: oneMKL's fp32/fp64 GEMM; oneDNN's bf16/fp16/int8 GEMM, "
                  "convolution and attention", GEMM | CONV | ATTENTION, prefer=("gemm", "conv2d", "sdpa")),
    "A10": Affects("threaded oneMKL GEMM", GEMM, size_matters=True),
    "B1": THREADS, "B2": THREADS, "B3": THREADS, "B4": THREADS,
    "B5": Affects("memory-bound kernels", STREAM | ELEMENTWISE, device="any", size_matters=True),
    "B7": Affects("memory-bound kernels on large arrays", STREAM | ELEMENTWISE, size_matters=True),
    "C4": Affects("fp32 GEMM and convolution on CUDA (TF32)", GEMM | CONV, device="cuda", dtypes=frozenset({"fp32"})),
    "C6": Affects("every CUDA kernel launched from Python", frameworks=frozenset({"torch"}), device="cuda"),
    # ATen's vectorised math: what the SIMD width changes is arithmetic; a sum or a copy runs at memory
    # speed at any width and would hide the cap. softmax does the most arithmetic per byte (measured here,
    # Zen 4: ATEN_CPU_CAPABILITY=default cut softmax 7×, layer norm 1.3×, exp 1.4×).
    "C8": Affects("ATen's own vectorised elementwise kernels (softmax, layer norm, exp), not GEMM, convolution "
                  "or memory-bound copies", frozenset({"exp", "softmax", "layer_norm"}), frameworks=frozenset({"torch"}),
                  prefer=("softmax", "layer_norm", "exp")),
    "D2": Affects("TensorFlow's oneDNN kernels: convolutions and bf16 GEMM, not fp32 GEMM", GEMM | CONV,
                  frameworks=frozenset({"tensorflow"}), also=_not_fp32_gemm),
    # NCCL's transport choice (P2P, SHM, IB) shows at large messages: the largest that ran, not the cheapest
    "F8": Affects("collective operations at large messages", COLLECTIVES, device="any", largest=True),
    "F10": Affects("GEMM and convolution through oneDNN on Arm", GEMM | CONV),
    "I1": Affects("everything the shadowed package runs", device="any"),
}


def choose(cause: str, candidates: list[dict], limit: int = 3) -> tuple[list[str], str | None]:
    """(benchmark ids to re-measure, None) — per framework the cheapest affected case that ran ok —
    or ([], why not) when none of the candidates is affected. A cause without a row keeps the
    candidates' order (the rule chose)."""
    ok = [r for r in candidates if r.get("status") == "ok" and r.get("role") is None]
    row = AFFECTS.get(cause)
    if row is None:
        return [r["id"] for r in ok[:limit]], None
    affected = [r for r in ok if row.matches(r)]
    if not affected:
        return [], f"no benchmark that this cause affects ran ({row.what})"
    by_framework: dict = {}
    for record in affected:
        by_framework.setdefault(record.get("framework"), []).append(record)
    chosen = [_largest(records) if row.largest else _cheapest(_preferred(records, row.prefer), row.size_matters)
              for records in by_framework.values()]
    return [r["id"] for r in chosen[:limit]], None


def _cheapest(records: list[dict], size_matters: bool) -> dict:
    def per_call(record: dict) -> float:
        stats = record.get("stats") if isinstance(record.get("stats"), dict) else {}
        median = stats.get("median_s")
        return median if isinstance(median, (int, float)) else float("inf")
    ranked = sorted(records, key=per_call)
    if size_matters:
        big = [r for r in ranked if per_call(r) >= MIN_PARALLEL_S and per_call(r) != float("inf")]
        return big[0] if big else ranked[-1]
    return ranked[0]


def _preferred(records: list[dict], prefer: tuple) -> list[dict]:
    for op in prefer:
        mine = [r for r in records if r.get("op") == op]
        if mine:
            return mine
    return records


def _largest(records: list[dict]) -> dict:
    def work(record: dict) -> float:
        w = record.get("work") if isinstance(record.get("work"), dict) else {}
        return float(w.get("bytes") or w.get("flops") or 0.0)
    return max(records, key=work)


def affected_causes(record: dict) -> list[str]:
    """The causes in the table that can move this benchmark (compare's attribution reads it)."""
    return [cause for cause, row in AFFECTS.items() if row.matches(record)]

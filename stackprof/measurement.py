"""The measurement type: what one benchmark case measured, immutable once made.

A probe streams a plain record (probes/harness.py base_record: raw per-call seconds, how they were
timed, what one call does); the host turns it into a ``Measurement`` together with the machine state
seen while it ran (stackprof/machine_state.py). Nothing downstream can change it: nested dicts are
read-only mappings and lists are tuples. Stages that derive numbers (bench.assess: stats, value,
peaks, best on machine) return NEW record dicts built from measurements, the way
torch.utils.benchmark goes Timer → Measurement → Compare.

``throughput`` is the one place where a time becomes a benchmark's value (GFLOP/s, GB/s or µs).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

from stackprof import stats

# Keys a benchmark record carries that are derived on the host, never measured (bench.assess).
DERIVED_KEYS = ("op_key", "stats", "value", "peak", "pct_of_peak", "best_on_machine", "pct_of_best",
                "max_achievable", "pct_of_max")


def freeze(value: Any) -> Any:
    """A read-only deep copy: dicts become mappingproxies, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy (for JSON and for callers that build new documents)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def throughput(unit: str | None, work: Mapping | None, seconds: float | None) -> float | None:
    """The value of one call taking `seconds`: GFLOP/s or GB/s from the work per call, or µs."""
    if not seconds or seconds <= 0 or not math.isfinite(seconds):
        return None
    if unit == "us":
        return seconds * 1e6
    work = work or {}
    amount = work.get("flops") if unit == "GFLOP/s" else work.get("bytes") if unit == "GB/s" else None
    return amount / seconds / 1e9 if amount else None


def speed(direction: str | None, value: float | None) -> float | None:
    """A value oriented so that larger is faster (µs and other lower-is-better units inverted)."""
    if not value or value <= 0:
        return None
    return value if direction != "lower" else 1.0 / value


@dataclass(frozen=True)
class Measurement:
    id: str
    op: str | None = None
    framework: str | None = None
    device: str | None = None
    dtype: str | None = None
    shape: Mapping = field(default_factory=lambda: MappingProxyType({}))
    params: Mapping = field(default_factory=lambda: MappingProxyType({}))
    variant: str | None = None
    unit: str | None = None
    direction: str | None = None
    work: Mapping = field(default_factory=lambda: MappingProxyType({}))
    samples_s: tuple = ()
    inner: int = 1
    timing: str | None = None
    method: Mapping | None = None
    check: Mapping | None = None
    status: str = "ok"
    reason: str | None = None
    task: Mapping | None = None
    role: str | None = None           # None: a stable case; "search": a shape found by searching (not a stable id)
    state: Mapping | None = None      # machine state while it ran (machine_state.py)
    round_sizes: tuple | None = None  # samples per interleaved round (multi.py)
    cpu_wait: tuple | None = None     # per round, the CPU share other work took (machine_state.contention)

    @classmethod
    def from_record(cls, record: Mapping) -> "Measurement":
        """From a probe's record or a Run's benchmark entry; derived keys are dropped."""
        if isinstance(record, Measurement):
            return record
        known = {f.name for f in fields(cls)}
        data = {k: freeze(v) for k, v in record.items() if k in known and v is not None}
        data.setdefault("id", str(record.get("id")))
        if "samples_s" in data:
            data["samples_s"] = tuple(float(s) for s in data["samples_s"] if _finite(s))
        return cls(**data)

    def with_changes(self, **changes) -> "Measurement":
        return replace(self, **{k: freeze(v) for k, v in changes.items()})

    def to_record(self) -> dict:
        """A fresh plain dict in the document's key order (docs/schema-benchmarks.md)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("role", "state", "round_sizes", "cpu_wait") and value is None:
                continue
            out[f.name] = thaw(value)
        return out

    @cached_property
    def stats(self) -> dict | None:
        return stats.summarize(list(self.samples_s)) if self.ok else None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.samples_s)

    @property
    def median_s(self) -> float | None:
        return (self.stats or {}).get("median_s")

    @property
    def value(self) -> float | None:
        return throughput(self.unit, self.work, self.median_s) if self.ok else None

    @property
    def shape_key(self) -> str:
        return json.dumps(thaw(self.shape), sort_keys=True)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)

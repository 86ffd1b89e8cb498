"""Read-only view of a Run for rules: contract-A facts and contract-B benchmarks, tolerant of any
missing or mistyped value (a missing fact makes a rule stay silent, never crash)."""
from __future__ import annotations

import math
import re

from stackprof.model import Run

# ISA levels from least to most capable; anything unknown ranks as None (rules stay silent).
ISA_ORDER = ["generic", "sse4_2", "avx", "avx2", "avx512"]

# OpenBLAS core names (threadpoolctl "architecture", OPENBLAS_CORETYPE) -> the ISA their kernels use.
OPENBLAS_CORE_ISA = {
    **dict.fromkeys(["katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn",
                     "dunnington", "atom", "opteron", "opteron_sse3", "barcelona", "bobcat", "generic"],
                    "generic"),
    **dict.fromkeys(["nehalem"], "sse4_2"),
    **dict.fromkeys(["sandybridge", "bulldozer", "piledriver", "steamroller"], "avx"),
    **dict.fromkeys(["haswell", "zen", "excavator"], "avx2"),
    **dict.fromkeys(["skylakex", "cooperlake", "sapphirerapids"], "avx512"),
}
# ATen "CPU capability" values.
ATEN_ISA = {"default": "generic", "no avx": "generic", "avx2": "avx2", "avx512": "avx512"}


def isa_rank(level) -> int | None:
    if not isinstance(level, str):
        return None
    level = level.lower().replace("-", "_")
    return ISA_ORDER.index(level) if level in ISA_ORDER else None


class Facts:
    def __init__(self, run: Run):
        self.run = run

    # ---- generic access -------------------------------------------------------------------
    def get(self, path: str, default=None):
        value = self.run.fact(path)
        return default if value is None else value

    def dict(self, path: str) -> dict:
        value = self.run.fact(path)
        return value if isinstance(value, dict) else {}

    def list(self, path: str) -> list:
        value = self.run.fact(path)
        return value if isinstance(value, list) else []

    def num(self, path: str) -> float | None:
        return as_number(self.run.fact(path))

    def true(self, path: str) -> bool:
        return self.run.fact(path) is True

    def installed(self, section: str) -> bool:
        return self.true(f"{section}.installed")

    def env(self, name: str) -> str | None:
        value = self.dict("env_vars").get("vars")
        value = value.get(name) if isinstance(value, dict) else None
        return None if value is None else str(value)

    def env_set(self, *names: str) -> dict[str, str]:
        return {n: v for n in names if (v := self.env(n)) is not None}

    # ---- CPU ------------------------------------------------------------------------------
    def flag(self, name: str) -> bool | None:
        value = self.dict("system.cpu.flags").get(name)
        return value if isinstance(value, bool) else None

    def cpu_isa(self) -> str | None:
        """Best x86 SIMD level the CPU offers: system.cpu.isa_level, else derived from the flags."""
        level = self.get("system.cpu.isa_level")
        if isa_rank(level) is not None:
            return level.lower()
        for name, flag in (("avx512", "avx512f"), ("avx2", "avx2"), ("avx", "avx"), ("sse4_2", "sse4_2")):
            if self.flag(flag):
                return name
        return None

    def arch(self) -> str:
        return str(self.get("system.os.arch", "")).lower()

    def vendor(self) -> str:
        return str(self.get("system.cpu.vendor", ""))

    def os_cpus(self) -> int | None:
        n = self.num("system.os_cpu_count")
        return int(n) if n and n > 0 else None

    def effective_cpus(self) -> tuple[int | None, list[dict]]:
        """CPUs this process can really use: min(os count, affinity, cgroup quota), with evidence."""
        candidates = []
        for path in ("system.os_cpu_count", "system.affinity.count"):
            n = self.num(path)
            if n and n > 0:
                candidates.append((int(n), path))
        quota = self.num("system.cgroup.cpu_quota_cores")
        if quota and quota > 0:
            candidates.append((max(1, math.floor(quota)), "system.cgroup.cpu_quota_cores"))
        if not candidates:
            return None, []
        n, path = min(candidates)
        return n, [{"fact": path, "value": self.run.fact(path)}]

    # ---- thread pools and native libraries --------------------------------------------------
    def native_libs(self, internal_api: str | None = None, user_api: str | None = None) -> list[tuple[str, dict]]:
        """(evidence path, library) pairs from native_libs.libraries."""
        out = []
        for i, lib in enumerate(self.list("native_libs.libraries")):
            if not isinstance(lib, dict):
                continue
            if internal_api and lib.get("internal_api") != internal_api:
                continue
            if user_api and lib.get("user_api") != user_api:
                continue
            out.append((f"native_libs.libraries[{i}]", lib))
        return out

    def thread_pools(self) -> list[tuple[str, str, int]]:
        """(name, evidence path, threads) for every thread pool the probes saw."""
        pools = []
        n = self.num("torch.parallel.num_threads")
        if n:
            pools.append(("torch intra-op", "torch.parallel.num_threads", int(n)))
        for path, lib in self.native_libs():
            threads = as_number(lib.get("num_threads"))
            if threads:
                name = lib.get("internal_api") or lib.get("user_api") or "library"
                pools.append((f"{name} ({lib.get('prefix') or '?'})", f"{path}.num_threads", int(threads)))
        return pools

    def torch_setting(self, name: str) -> str | None:
        value = self.dict("torch.config.build_settings").get(name)
        return None if value is None else str(value)

    def packages(self) -> dict[str, dict]:
        out = {}
        for dist in self.list("packages.distributions"):
            if isinstance(dist, dict) and isinstance(dist.get("name"), str):
                out.setdefault(dist["name"].lower(), dist)
        return out

    # ---- GPUs -----------------------------------------------------------------------------
    def gpus_present(self) -> bool:
        n = self.num("gpus.count")
        return self.true("gpus.available") and (n is None or n > 0)

    def gpu_devices(self) -> list[tuple[str, dict]]:
        return [(f"gpus.devices[{i}]", d) for i, d in enumerate(self.list("gpus.devices")) if isinstance(d, dict)]

    # ---- benchmarks (contract B) ---------------------------------------------------------------
    def benchmarks(self, op=None, framework=None, device=None, dtype=None, variant="any",
                   status="ok") -> list[dict]:
        def matches(value, want):
            return want is None or value == want or (isinstance(want, (set, tuple, list)) and value in want)

        out = []
        for rec in self.run.benchmarks if isinstance(self.run.benchmarks, list) else []:
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                continue
            if status and rec.get("status") != status:
                continue
            dev = str(rec.get("device") or "")
            if device == "cuda" and not dev.startswith("cuda"):
                continue
            if device not in (None, "cuda") and dev != device:
                continue
            if not (matches(rec.get("op"), op) and matches(rec.get("framework"), framework)
                    and matches(rec.get("dtype"), dtype)):
                continue
            if variant != "any" and rec.get("variant") != variant:
                continue
            out.append(rec)
        return out


def as_number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def part(record, key: str) -> dict:
    """record[key] when it is a dict (stats, check, work, peak…), else {}: records may be malformed."""
    value = record.get(key) if isinstance(record, dict) else None
    return value if isinstance(value, dict) else {}


def truthy_env(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false", "no", "off")


def version_tuple(text) -> tuple[int, ...]:
    if not isinstance(text, str):
        return ()
    return tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0])[:3])

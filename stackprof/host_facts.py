"""Facts read in the host process rather than in the target (GPUs through NVML).

Each collector returns (section, facts, errors). Kept separate from the target probes because
NVML describes the machine, not the environment, and must not depend on the target's packages.
"""
from __future__ import annotations


def collect() -> list[tuple[str, dict, list[str]]]:
    from stackprof import nvml
    facts, errors = nvml.collect_gpus()
    return [("gpus", facts, errors)]

"""Environment diff across runs: only the facts that differ, grouped by section, identical ones counted.

Hardware facts are kept apart: when they differ the runs come from different machines, and
hardware becomes the first explanation of every difference in speed.
"""
from __future__ import annotations

from stackprof import provenance
from stackprof.compare.paths import ABSENT, canonical, flatten_environment, matches, section_of, VOLATILE

# What identifies the machine (not its configuration): CPU, memory size, GPU models.
HARDWARE = (
    "system.cpu.vendor", "system.cpu.model", "system.cpu.family", "system.cpu.logical_cpus",
    "system.cpu.physical_cores", "system.cpu.threads_per_core", "system.cpu.sockets", "system.cpu.numa_nodes",
    "system.cpu.max_mhz", "system.cpu.llc_bytes", "system.cpu.hybrid*", "system.cpu.flags.*",
    "system.cpu.isa_level", "system.os_cpu_count", "system.os.arch", "system.memory.total_bytes",
    "gpus.count", "gpus.devices[*].name", "gpus.devices[*].memory_total_bytes",
    "gpus.devices[*].multi_processor_count", "gpus.devices[*].pcie.gen_max", "gpus.devices[*].pcie.width_max",
)

# Display order of sections; others follow alphabetically.
SECTION_ORDER = ("system", "gpus", "python", "packages", "env_vars", "native_libs", "numpy", "torch",
                 "tensorflow", "jax")


def diff_environments(environments: list[dict]) -> dict:
    """The N-way environment diff document (see docs/schema-comparison.md, ``environment_diff``)."""
    flats = [dict(flatten_environment(env), **provenance_facts(env)) for env in environments]
    paths = sorted(set().union(*flats), key=_path_order)
    sections: dict[str, dict] = {}
    for path in paths:
        values = [flat.get(path, ABSENT) for flat in flats]
        name = section_of(path)
        section = sections.setdefault(name, {"name": name, "differing": [], "identical": 0})
        if len({canonical(v) for v in values}) == 1:
            section["identical"] += 1
            continue
        section["differing"].append(_entry(path, values))
    ordered = sorted(sections.values(), key=lambda s: _section_rank(s["name"]))
    differing = [e for s in ordered for e in s["differing"]]
    hardware = [e["path"] for e in differing if e["hardware"]]
    return {
        "sections": ordered,
        "differing_count": len(differing),
        "identical_count": sum(s["identical"] for s in ordered),
        "same_hardware": not hardware,
        "hardware_differences": hardware,
        "volatile_excluded": list(VOLATILE),
    }


def provenance_facts(environment: dict) -> dict[str, str]:
    """Where each distribution came from, as a fact of its own (``packages[numpy].provenance``:
    "binary wheel from an index (…)" vs "conda package … from conda-forge"), so that pip vs conda vs
    distribution vs local build differs even when the versions are equal."""
    return {f"packages[{name}].provenance": provenance.phrase(dist)
            for name, dist in provenance.distributions(environment).items() if provenance.kind(dist)}


def _entry(path: str, values: list) -> dict:
    present = [v is not ABSENT for v in values]
    return {
        "path": path,
        "section": section_of(path),
        "values": [None if v is ABSENT else v for v in values],
        "present": present,
        "hardware": matches(path, HARDWARE),
    }


def differs_between(entry: dict, a: int, b: int) -> bool:
    """Whether a diff entry (N-way) differs between runs a and b."""
    va = entry["values"][a] if entry["present"][a] else ABSENT
    vb = entry["values"][b] if entry["present"][b] else ABSENT
    return canonical(va) != canonical(vb)


def pair_entries(env_diff: dict, a: int, b: int) -> list[dict]:
    return [e for s in env_diff["sections"] for e in s["differing"] if differs_between(e, a, b)]


def _section_rank(name: str) -> tuple:
    return (SECTION_ORDER.index(name), "") if name in SECTION_ORDER else (len(SECTION_ORDER), name)


def _path_order(path: str) -> tuple:
    return (_section_rank(section_of(path)), path)

"""The N-way environment diff of a distributed run (host side): the facts that differ between ranks,
with the same fact paths as `stackprof compare` (stackprof/compare/envdiff.py does the diffing),
each grouped into its distinct values and the ranks and nodes holding them.

scope: "node" when every node is uniform and nodes differ (a node with another wheel, driver or
variable), "rank" when ranks of one node differ. Facts that differ by design between the ranks of
one job (each rank's own CPU list when ranks are pinned) are marked expected.
"""
from __future__ import annotations

from stackprof.compare.envdiff import diff_environments
from stackprof.compare.paths import matches

# Differ between ranks of a healthy job by design.
EXPECTED = ("system.affinity.cpus", "python.executable", "torch.threads_after_import")
# Facts that change how fast a rank runs, listed first as evidence.
RELEVANT = (
    "env_vars.vars.*", "torch.parallel.*", "torch.version", "torch.config.*", "torch.cuda.*", "torch.cpu_capability",
    "packages[torch]", "packages[numpy]", "packages[nvidia-*]", "packages[intel-openmp]", "packages[mkl]",
    "system.cgroup.cpu_quota_cores", "system.cgroup.memory_limit_bytes", "system.affinity.count",
    "system.cpu.*", "system.thp.*", "system.memory.total_bytes", "native_libs.*", "python.version",
    "python.implementation", "python.free_threaded", "system.os_cpu_count", "system.os.kernel", "gpus.*", "rank_gpu.*",
)
MAX_VALUES = 8          # distinct values listed per fact (a fact that differs on every rank of 1000)


def rank_diff(environments: dict[int, dict], nodes: dict[int, object]) -> dict:
    """environments: {rank: environment}; nodes: {rank: node}. The document stored as run.dist.env_diff."""
    ranks = sorted(environments)
    if len(ranks) < 2:
        return {"ranks_compared": len(ranks), "differing": [], "identical_count": None,
                "note": "one rank: nothing to compare"}
    diff = diff_environments([environments[r] for r in ranks])
    entries = []
    for section in diff["sections"]:
        for entry in section["differing"]:
            entries.append(_grouped(entry, ranks, nodes))
    entries.sort(key=lambda e: (e["expected"], not e["relevant"], e["scope"] != "node", e["path"]))
    return {"ranks_compared": len(ranks), "differing": entries, "identical_count": diff["identical_count"],
            "same_hardware": diff["same_hardware"]}


def _grouped(entry: dict, ranks: list[int], nodes: dict[int, object]) -> dict:
    groups: dict[str, dict] = {}
    for rank, value, present in zip(ranks, entry["values"], entry["present"]):
        key = repr(value) if present else "\0absent"
        group = groups.setdefault(key, {"value": value if present else None, "present": present, "ranks": [],
                                        "nodes": []})
        group["ranks"].append(rank)
        if nodes.get(rank) not in group["nodes"]:
            group["nodes"].append(nodes.get(rank))
    values = sorted(groups.values(), key=lambda g: -len(g["ranks"]))
    by_node: dict = {}
    for g_index, group in enumerate(values):
        for rank in group["ranks"]:
            by_node.setdefault(nodes.get(rank), set()).add(g_index)
    uniform_nodes = all(len(v) == 1 for v in by_node.values())
    return {"path": entry["path"], "section": entry["section"], "hardware": entry["hardware"],
            "scope": "node" if uniform_nodes and len(by_node) > 1 else "rank",
            "expected": matches(entry["path"], EXPECTED), "relevant": matches(entry["path"], RELEVANT),
            "values": values[:MAX_VALUES], "distinct": len(values)}

"""G. Distributed runs (run.dist, written by `stackprof dist`): stragglers, ranks whose environments
differ, ranks that did not finish. Outside the single-process catalogue: these causes only exist
between processes. The statistics are in run.dist.stragglers (stackprof/dist/stragglers.py); the
rules turn them into findings with the evidence that may explain them."""
from __future__ import annotations

from stackprof import severity as scale
from stackprof.rules.facts import Facts, as_number
from stackprof.rules.findings import make
from stackprof.rules.registry import rule

MAX_FACTS = 8
REFERENCES = ["NVIDIA/nccl-tests doc/PERFORMANCE.md", "https://docs.pytorch.org/docs/stable/elastic/run.html",
              "NVIDIA DCGM diagnostics: peer-GPU outlier test (reference/microbenchmark-method.md §2.11)"]


def _dist(facts: Facts) -> dict:
    dist = getattr(facts.run, "dist", None)
    return dist if isinstance(dist, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def suspects(dist: dict) -> list[dict]:
    """Flagged units grouped by who they are: a node when its ranks are judged as a node (or it holds
    one rank), else a rank. [{unit, who, ranks, tests}], worst first."""
    flagged = [t for t in _list(_dict(dist.get("stragglers")).get("flagged")) if isinstance(t, dict)]
    node_flags = {t.get("who") for t in flagged if t.get("unit") == "node"}
    groups: dict = {}
    for test in flagged:
        unit, who = test.get("unit"), test.get("who")
        if unit == "rank" and test.get("node") is not None and (dist.get("nnodes") or 1) > 1:
            unit, who = "node", test.get("node")            # one rank per node: the rank is its node
        elif unit == "rank" and _node_of(dist, who) in node_flags:
            continue                                          # its node is named already
        group = groups.setdefault((unit, str(who)), {"unit": unit, "who": who, "ranks": set(), "tests": []})
        group["ranks"].update(_list(test.get("ranks")))
        group["tests"].append(test)
    out = sorted(groups.values(), key=lambda g: -max(as_number(t.get("ratio")) or 1.0 for t in g["tests"]))
    for group in out:
        group["ranks"] = sorted(group["ranks"])
    return out


def _node_of(dist: dict, rank) -> object:
    for row in _list(dist.get("ranks")):
        if isinstance(row, dict) and row.get("rank") == rank:
            return row.get("node")
    return None


def differing_facts(dist: dict, ranks: list) -> list[dict]:
    """The facts of the N-way diff (run.dist.env_diff) that set these ranks apart from the others:
    every suspect rank holds a value that no other rank holds. Relevant facts first."""
    ranks, out = set(ranks), []
    for entry in _list(_dict(dist.get("env_diff")).get("differing")):
        if not isinstance(entry, dict) or entry.get("expected"):
            continue
        groups = [g for g in _list(entry.get("values")) if isinstance(g, dict)]
        mine = [g for g in groups if set(_list(g.get("ranks"))) & ranks]
        others = [g for g in groups if set(_list(g.get("ranks"))) - ranks]
        if not mine or not others or any(set(_list(g.get("ranks"))) - ranks for g in mine):
            continue                        # the suspects share their value with other ranks
        majority = max(others, key=lambda g: len(set(_list(g.get("ranks"))) - ranks))
        out.append({"fact": entry.get("path"), "value": mine[0].get("value"), "present": mine[0].get("present"),
                    "others": majority.get("value"), "others_present": majority.get("present"),
                    "relevant": bool(entry.get("relevant")), "scope": entry.get("scope")})
    out.sort(key=lambda f: not f["relevant"])
    return out


def _placement(dist: dict, ranks: list) -> list[dict]:
    """Placement facts of the suspect ranks next to their peers' (CPUs, NUMA, GPU clocks/link)."""
    rows = [r for r in _list(dist.get("ranks")) if isinstance(r, dict)]
    mine = [r for r in rows if r.get("rank") in ranks]
    peers = [r for r in rows if r.get("rank") not in ranks]
    out = []
    for key in ("cpu_count", "numa_nodes"):
        values = {str(r.get(key)) for r in mine}
        others = {str(r.get(key)) for r in peers}
        if values != others and peers:
            out.append({"fact": f"dist.ranks[{mine[0].get('rank')}].{key}", "value": mine[0].get(key),
                        "peers": sorted(others)})
    for r in mine:
        gpu_node, cpu_nodes = _dict(r.get("gpu")).get("numa_node"), r.get("numa_nodes")
        if gpu_node is not None and isinstance(cpu_nodes, list) and cpu_nodes and gpu_node not in cpu_nodes:
            out.append({"fact": f"dist.ranks[{r.get('rank')}].gpu.numa_node", "value": gpu_node,
                        "cpu_numa_nodes": cpu_nodes, "note": "the GPU hangs off another NUMA node than the rank's CPUs"})
        state = _dict(r.get("gpu_state"))
        if state.get("throttle_reasons"):
            out.append({"fact": f"dist.ranks[{r.get('rank')}].gpu_state.throttle_reasons",
                        "value": state["throttle_reasons"]})
        if state.get("sm_mhz_min") and state.get("sm_max_mhz"):
            out.append({"fact": f"dist.ranks[{r.get('rank')}].gpu_state.sm_mhz_min", "value": state["sm_mhz_min"],
                        "max": state["sm_max_mhz"]})
        pcie = _dict(_dict(r.get("gpu")).get("pcie"))
        if pcie.get("width") and pcie.get("width_max") and (pcie["width"] < pcie["width_max"]
                                                           or (pcie.get("gen") or 0) < (pcie.get("gen_max") or 0)):
            out.append({"fact": f"dist.ranks[{r.get('rank')}].gpu.pcie", "value": pcie})
    return out


@rule("G1", "straggler rank or node")
def g1_straggler(facts: Facts):
    dist = _dist(facts)
    groups = suspects(dist)
    if not groups:
        return None
    findings = []
    for group in groups:
        tests = group["tests"]
        worst = max(tests, key=lambda t: as_number(t.get("ratio")) or 1.0)
        ratio = as_number(worst.get("ratio")) or 1.0
        name = f"{group['unit']} {group['who']}" + (
            f" (rank{'s' if len(group['ranks']) > 1 else ''} {', '.join(map(str, group['ranks'][:8]))})"
            if group["unit"] == "node" else "")
        kinds = sorted({str(t.get("kind")) for t in tests})
        why = differing_facts(dist, group["ranks"])[:MAX_FACTS]
        evidence = [{"benchmark": t.get("benchmark"), "value": t.get("value"), "peers": t.get("peers_value"),
                     "ratio": round(as_number(t.get("ratio")) or 0, 3), "test": t.get("test"),
                     "details": t.get("details")} for t in tests]
        evidence += [{"fact": f["fact"], "value": f["value"] if f["present"] else "(absent)",
                      "peers": f["others"] if f["others_present"] else "(absent)"} for f in why]
        evidence += _placement(dist, group["ranks"])
        cause = ("; differs from its peers in " + ", ".join(f["fact"] for f in why[:3])) if why else ""
        impact = {"kind": "measured", "ratio": round(ratio, 3), "source": "measured on every rank of this run",
                  "benchmarks": [t.get("benchmark") for t in tests],
                  "text": f"{name}: {worst.get('benchmark')} {ratio:.2f}× slower than its peers "
                          f"({worst.get('test')} test); a synchronous job runs at the pace of its slowest rank"}
        fix = ("Make it match its peers: " + "; ".join(
            f"{f['fact']} is {_show(f['value'], f['present'])} there, {_show(f['others'], f['others_present'])} "
            "elsewhere" for f in why[:3]) + "." if why else
            "Nothing in its environment differs from its peers': check the machine itself — clocks and throttle "
            "reasons (nvidia-smi -q -d PERFORMANCE), the PCIe link, CPU quota and placement, other work on it — "
            "and exclude or repair it.")
        placement = _placement(dist, group["ranks"])
        if not why and not placement and _same_cpu_as_peers(dist, group):
            # the ranks took turns on one CPU in one environment: the difference is between processes
            # (memory placement, huge pages, caches), not something of the machine or the install
            findings.append(make("G1", "low", f"{name} measured {ratio:.2f}× below its peers on the same CPU with "
                                 "the same environment: a difference between processes, not machines", kind="note",
                                 evidence=evidence, impact=dict(impact, text=impact["text"] + "; nothing differs "
                                 "between these ranks but the processes themselves"),
                                 fix="Nothing to change in the environment; re-run to see whether it persists.",
                                 references=REFERENCES))
            continue
        findings.append(make("G1", scale.from_ratio(ratio), f"{name} is a straggler: {', '.join(kinds)} "
                             f"{ratio:.2f}× below its peers{cause}", evidence=evidence, impact=impact, fix=fix,
                             references=REFERENCES))
    return findings[0] if len(findings) == 1 else findings       # one finding per straggler


def _same_cpu_as_peers(dist: dict, group: dict) -> bool:
    """CPU ranks that share one host with the peers they were judged against (they took turns on it)."""
    rows = {r.get("rank"): r for r in _list(dist.get("ranks")) if isinstance(r, dict)}
    mine = [rows.get(r) or {} for r in group["ranks"]]
    if group["unit"] == "node" or any(str(r.get("device")) != "cpu" for r in mine):
        return False
    peers = {p for t in group["tests"] for p in _list(t.get("peers"))} or \
        {r for r in rows if r not in group["ranks"] and rows[r].get("node") == mine[0].get("node")}
    return bool(peers) and all(rows.get(p, {}).get("node") == mine[0].get("node") for p in peers)


def _show(value, present) -> str:
    return "absent" if not present else repr(value)


@rule("G2", "ranks or nodes run different environments")
def g2_environment_differs(facts: Facts):
    dist = _dist(facts)
    cited = {f["fact"] for g in suspects(dist) for f in differing_facts(dist, g["ranks"])}
    entries = [e for e in _list(_dict(dist.get("env_diff")).get("differing"))
               if isinstance(e, dict) and e.get("relevant") and not e.get("expected") and e.get("path") not in cited]
    if not entries:
        return None
    scopes = {e.get("scope") for e in entries}
    where = "nodes" if scopes == {"node"} else "ranks"
    evidence = [{"fact": e.get("path"), "scope": e.get("scope"),
                 "values": [{"value": g.get("value") if g.get("present") else "(absent)", "ranks": g.get("ranks"),
                             "nodes": g.get("nodes")} for g in _list(e.get("values"))]} for e in entries[:MAX_FACTS]]
    return make("G2", "low", f"{len(entries)} performance-relevant fact(s) differ between {where}: "
                + ", ".join(str(e.get("path")) for e in entries[:4]) + ("…" if len(entries) > 4 else ""),
                evidence=evidence,
                impact={"kind": "estimated", "ratio": None, "source": "not measured as slower in this run",
                        "text": "a node with another wheel, driver or setting can slow every step of a synchronous "
                                "job; this run did not measure those ranks as slower on its benchmarks"},
                fix="Install the same packages and set the same variables on every node (one image or lock file); "
                    "if the difference is deliberate, measure both.",
                references=REFERENCES[:2])


@rule("G3", "a rank did not finish")
def g3_rank_failed(facts: Facts):
    dist = _dist(facts)
    failed = [r for r in _list(dist.get("ranks")) if isinstance(r, dict) and r.get("state") not in ("done", None)]
    if not failed:
        return None
    first = failed[0]
    return make("G3", "low", f"{len(failed)} of {dist.get('world_size')} rank(s) did not finish: rank {first.get('rank')} "
                f"(node {first.get('node')}) {first.get('state')}" + (f" — {first['error']}" if first.get("error") else ""),
                evidence=[{"fact": f"dist.ranks[{r.get('rank')}]", "value": {k: r.get(k) for k in (
                    "node", "state", "phase", "detail", "error", "exit")}} for r in failed[:MAX_FACTS]],
                impact={"kind": "estimated", "ratio": None, "source": "this run",
                        "text": "the report keeps what every rank wrote; results of the unfinished phases are missing"},
                fix=f"Look at the failed rank's node; re-run with a longer --timeout (now {dist.get('timeout_s')} s) if "
                    "a collective only needed longer.",
                references=REFERENCES[1:2], kind="note")

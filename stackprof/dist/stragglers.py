"""Stragglers (host side): a rank or a node whose per-device results are significantly below its
peers' — kernel throughput (GEMM), memory bandwidth (STREAM), host link bandwidth (PCIe copies).

Two units (ranks, or nodes): the one judge's test (stackprof.judge.decide) on the two units' per-call
times — a difference beyond both units' own repeatability (bootstrap interval, Mann-Whitney, and
every round agreeing when the ranks took turns in A B / B A rounds), rounds in which other work held
either unit's CPUs left out (machine_state's contention, as `stackprof bench` measures it).
Three or more units: a median-based outlier test — the modified z-score 0.6745·(value − median)/MAD
(Iglewicz & Hoaglin) below −3.5, with the MAD floored at 1% of the median — and a deficit of at
least 5% (the judge's minimum effect), so that identical ranks cannot flag a rounding difference.
Node values are the median of their ranks' values; a node's samples are its ranks' pooled.

Collective timings cannot single out a rank: every rank waits for the slowest, so the ranks' own
times are equal by construction (they are kept, params.per_rank_median_s, not judged).
"""
from __future__ import annotations

from statistics import median

from stackprof.dist.merge import RankData
from stackprof.judge import CONTENTION_LIMIT

Z_LIMIT = 3.5
MAD_FLOOR = 0.01
MIN_DEFICIT = 0.05
KINDS = (("gemm", "kernel throughput"), ("stream_", "memory bandwidth"), ("h2d", "host link bandwidth (PCIe)"),
         ("d2h", "host link bandwidth (PCIe)"))
METHOD = ("two ranks/nodes: the one judge's test (bootstrap CI of the median ratio, Mann-Whitney U, all rounds "
          "agreeing); three or more: modified z-score < -%g against the median (MAD floored at %g%% of the median) "
          "and at least %g%% below it" % (Z_LIMIT, MAD_FLOOR * 100, MIN_DEFICIT * 100))


def kind_of(op: str | None) -> str | None:
    return next((kind for prefix, kind in KINDS if str(op or "").startswith(prefix)), None)


def analyze(ranks: list[RankData], per_rank: dict) -> dict:
    """The document stored as run.dist.stragglers: every test made, and the flagged units."""
    rounds = {r.rank: r.device_rounds() for r in ranks}
    waits = {r.rank: r.device_contention() for r in ranks}
    node_of = {r.rank: r.identity.get("node") for r in ranks}
    tests = []
    for bench_id, entries in sorted(per_rank.items()):
        ok = [e for e in entries if e.get("status") == "ok" and isinstance(e.get("value"), (int, float))
              and e["value"] > 0]
        if len(ok) < 2 or kind_of(ok[0].get("op")) is None:
            continue
        record = {"id": bench_id, "unit": ok[0].get("unit"), "work": _work(ranks, bench_id)}
        units = [{"unit": "rank", "who": e["rank"], "ranks": [e["rank"]], "value": e["value"],
                  "rounds": rounds.get(e["rank"], {}).get(bench_id) or [],
                  "contention": waits.get(e["rank"], {}).get(bench_id) or []} for e in ok]
        tests += _test(record, units, ok[0])
        nodes = sorted({node_of[e["rank"]] for e in ok}, key=str)
        if len(nodes) >= 2 and len(nodes) < len(ok):        # nodes hold several ranks: judge nodes too
            node_units = []
            for node in nodes:
                members = [u for u in units if node_of[u["who"]] == node]
                node_units.append({"unit": "node", "who": node, "ranks": [u["who"] for u in members],
                                   "value": median(u["value"] for u in members),
                                   "rounds": _pooled([u["rounds"] for u in members]),
                                   "contention": _worst([u["contention"] for u in members])})
            tests += _test(record, node_units, ok[0])
        elif len(nodes) >= 2:                               # one rank per node: the rank is the node
            for t in tests:
                if t["benchmark"] == bench_id and t["unit"] == "rank":
                    t["node"] = node_of.get(t["who"])
    flagged = [t for t in tests if t["straggler"]]
    return {"method": METHOD, "tests": tests, "flagged": flagged,
            "note": "collective timings are equal on every rank by construction (each waits for the slowest) "
                    "and are not used to single out a rank"}


def _work(ranks: list[RankData], bench_id: str) -> dict:
    for r in ranks:
        for rec in r.records:
            if rec.get("id") == bench_id:
                return rec.get("work") or {}
    return {}


def _pooled(per_member: list[list[list[float]]]) -> list[list[float]]:
    """A node's rounds: round k = every member's round k samples together."""
    depth = min((len(m) for m in per_member), default=0)
    return [[s for m in per_member for s in m[k]] for k in range(depth)]


def _worst(per_member: list[list]) -> list:
    """Per round, the most contended member (None when no member's state is known)."""
    depth = min((len(m) for m in per_member), default=0)
    out = []
    for k in range(depth):
        known = [m[k] for m in per_member if m[k] is not None]
        out.append(max(known) if known else None)
    return out


def _test(record: dict, units: list[dict], sample: dict) -> list[dict]:
    kind = kind_of(sample.get("op"))
    if len(units) == 2:
        return [_two(record, units, kind)]
    return _many(record, units, kind)


def _two(record: dict, units: list[dict], kind: str) -> dict:
    slow, fast = sorted(units, key=lambda u: u["value"])
    verdict = _two_unit_test(record, slow["rounds"], fast["rounds"], _worst([slow["contention"], fast["contention"]]))
    straggler = verdict.get("status") == "confirmed"
    return {"benchmark": record["id"], "kind": kind, "unit": slow["unit"], "who": slow["who"],
            "ranks": slow["ranks"], "value": slow["value"], "peers_value": fast["value"],
            "ratio": fast["value"] / slow["value"], "test": "judge", "straggler": straggler,
            "details": {k: verdict.get(k) for k in ("status", "ratio", "ci", "p_value", "round_ratios", "n", "reason",
                                                     "left_out_rounds", "contention", "judge")},
            "peers": [fast["who"]]}


def _two_unit_test(record: dict, slow_rounds: list[list[float]], fast_rounds: list[list[float]],
                   contention: list | None = None) -> dict:
    """The one judge's test (stackprof.judge.decide) with the slower unit as A and its peer as B: a
    straggler when B is faster beyond both units' repeatability, in every round that other work did
    not disturb (`contention`: per round, the worse of the two units; contended rounds are left out)."""
    from stackprof.judge import decide
    depth = min(len(slow_rounds), len(fast_rounds))
    if depth == 0:
        return {"status": "failed", "reason": "no samples"}
    waits = list(contention or [])[:depth]
    verdict = decide(slow_rounds[:depth], fast_rounds[:depth], contention=waits if len(waits) == depth else None,
                     names=("suspect", "peer")).as_dict()
    return {"status": "confirmed" if verdict["effect"] == "faster" else verdict["effect"],
            "ratio": verdict["speedup"], "ci": verdict["ci"], "p_value": verdict["p_value"],
            "round_ratios": verdict["round_speedups"], "n": verdict["n"], "reason": verdict["reason"],
            "left_out_rounds": verdict["left_out_rounds"], "contention": waits, "judge": "stackprof.judge.decide"}


def _many(record: dict, units: list[dict], kind: str) -> list[dict]:
    """One summary entry for the benchmark, plus an entry per flagged unit (a thousand ranks are not
    listed one by one; the heat map shows every rank)."""
    values = [u["value"] for u in units]
    med = median(values)
    mad = max(median(abs(v - med) for v in values), MAD_FLOOR * med)
    out = [{"benchmark": record["id"], "kind": kind, "unit": units[0]["unit"], "who": None, "summary": True,
            "units": len(units), "test": "median/MAD", "straggler": False,
            "details": {"median": med, "mad": mad, "lowest": min(values), "highest": max(values)}}]
    for unit in units:
        z = 0.6745 * (unit["value"] - med) / mad
        deficit = 1 - unit["value"] / med
        if not (z < -Z_LIMIT and deficit >= MIN_DEFICIT):
            continue
        peers = [u["value"] for u in units if u is not unit]
        waits = [c for c in unit.get("contention") or [] if c is not None]
        contended = max(waits) if waits else None
        details = {"z": round(z, 2), "median": med, "mad": mad, "deficit": round(deficit, 4), "contention": contended}
        named = contended is None or contended <= CONTENTION_LIMIT
        if not named:
            details["reason"] = (f"not named: other work held its CPUs {contended:.0%} of the time it measured "
                                 "(the judge's contention limit)")
        out.append({"benchmark": record["id"], "kind": kind, "unit": unit["unit"], "who": unit["who"],
                    "ranks": unit["ranks"], "value": unit["value"], "peers_value": median(peers),
                    "ratio": median(peers) / unit["value"], "test": "median/MAD", "straggler": named,
                    "details": details})
    return out


def relative(per_rank: dict) -> dict:
    """{benchmark id: {rank: value / median over ranks}} for the heat map (1.0 = the median rank)."""
    out = {}
    for bench_id, entries in per_rank.items():
        ok = {e["rank"]: e["value"] for e in entries if e.get("status") == "ok" and e.get("value")}
        if not ok:
            continue
        med = median(ok.values())
        out[bench_id] = {rank: round(value / med, 4) for rank, value in ok.items()} if med else {}
    return out

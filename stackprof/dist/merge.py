"""Rank folders -> one Run (host side): identity, state and placement of every rank, the environment
of the lowest rank as the Run's environment (the rules read it), its per-device benchmarks plus the
collectives as the Run's benchmarks, every rank's per-device results in run.dist. What a rank did not
finish is said per rank and node; nothing any rank wrote is dropped. docs/schema-dist.md.
"""
from __future__ import annotations

import os
import socket
from collections import Counter
from pathlib import Path

from stackprof import machine_state
from stackprof.dist import outdir
from stackprof.errors import StackprofError
from stackprof.model import Run
from stackprof.redact import Redactor

DIST_SCHEMA = "stackprof.dist/1"
COLLECTIVE_OPS = ("all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "send_recv")


class RankData:
    def __init__(self, folder: Path):
        self.folder = folder
        self.identity = outdir.read_json(folder / "identity.json") or {}
        self.status = outdir.read_json(folder / "status.json") or {}
        facts = outdir.read_json(folder / "facts.json")
        self.facts = facts if isinstance(facts, dict) else {}
        self.records = [_with_state(r) for r in outdir.read_records(folder / "records.jsonl") if isinstance(r, dict)]

    @property
    def rank(self) -> int:
        return int(self.identity.get("rank", -1))

    @property
    def environment(self) -> dict:
        env = self.facts.get("environment")
        return env if isinstance(env, dict) else {}

    def device_records(self) -> list[dict]:
        """One record per per-device benchmark; the rounds of ranks that took turns joined (samples
        in round order, params.round_medians_s)."""
        out: dict[str, dict] = {}
        for rec in self.records:
            if rec.get("op") in COLLECTIVE_OPS:
                continue
            first = out.get(rec.get("id"))
            if first is None:
                out[rec.get("id")] = dict(rec, samples_s=list(rec.get("samples_s") or []))
            elif rec.get("status") == "ok":
                if first.get("status") != "ok":
                    out[rec.get("id")] = dict(rec, samples_s=list(rec.get("samples_s") or []))
                else:
                    first["samples_s"] = first["samples_s"] + list(rec.get("samples_s") or [])
        for rid, rec in out.items():
            rounds = self.device_rounds().get(rid) or []
            if len(rounds) > 1:
                rec["params"] = dict(rec.get("params") or {}, round_medians_s=[_median(r) for r in rounds])
                rec["params"].pop("round", None)
        return list(out.values())

    def device_rounds(self) -> dict[str, list[list[float]]]:
        """{benchmark id: [samples of round 0, samples of round 1, …]} (ok records only)."""
        rounds: dict[str, list] = {}
        for rec in self._ok_device():
            rounds.setdefault(rec.get("id"), []).append([float(x) for x in rec["samples_s"]])
        return rounds

    def device_contention(self) -> dict[str, list]:
        """{benchmark id: [contention of round 0, …]}: the share of its threads' time this rank waited
        for a CPU held by other work (stackprof/machine_state.py; None where unknown)."""
        out: dict[str, list] = {}
        for rec in self._ok_device():
            out.setdefault(rec.get("id"), []).append(machine_state.contention(rec.get("state")))
        return out

    def _ok_device(self) -> list[dict]:
        return [r for r in self.records if r.get("op") not in COLLECTIVE_OPS and r.get("status") == "ok"
                and r.get("samples_s")]

    def collective_records(self) -> list[dict]:
        return [r for r in self.records if r.get("op") in COLLECTIVE_OPS]


def read(root: str | os.PathLike) -> tuple[dict, list[RankData], list[str]]:
    """(job, ranks of this run in rank order, notes on what was left out)."""
    root = Path(root)
    ranks_dir = root / outdir.RANKS
    if not ranks_dir.is_dir():
        raise StackprofError(f"{root}: no rank folders ({outdir.RANKS}/rank-NNNNN); is this the -o folder of a "
                             "distributed run?")
    job = outdir.read_json(root / "job.json") or {}
    found = [RankData(p) for p in sorted(ranks_dir.iterdir()) if p.is_dir() and p.name.startswith("rank-")]
    found = [r for r in found if r.identity.get("schema") == outdir.RANK_SCHEMA]
    if not found:
        raise StackprofError(f"{root}: the rank folders hold no stackprof identity.json")
    run_id = job.get("run_id") or Counter(r.identity.get("run_id") for r in found).most_common(1)[0][0]
    notes = []
    stale = [r for r in found if r.identity.get("run_id") not in (run_id, None)]
    if stale:
        notes.append(f"{len(stale)} rank folder(s) of an earlier run were left out "
                     f"(ranks {', '.join(str(r.rank) for r in stale[:10])})")
    ranks = sorted((r for r in found if r not in stale), key=lambda r: r.rank)
    return job, ranks, notes


def merge(root: str | os.PathLike, *, redact: bool = True, exits: dict | None = None) -> tuple[Run, list[RankData]]:
    """One Run from the folder of a distributed run, and the (redacted) rank data the analyses read.
    `exits`: {rank: {"code", "signal"}} from the launcher, when it knows how each rank ended."""
    job, ranks, notes = read(root)
    if redact:
        ranks_docs = _redacted(ranks)
    else:
        ranks_docs = ranks
    world = int(job.get("world_size") or max(int(r.identity.get("world_size") or 0) for r in ranks) or len(ranks))
    present = {r.rank for r in ranks}
    lead = ranks_docs[0]
    run = Run(label=f"dist {world} rank{'s' if world != 1 else ''}",
              options={"mode": job.get("mode"), "redact": redact, "command": "dist",
                       "launcher": job.get("launcher")})
    run.environment = dict(lead.environment)
    run.target = {"python": (lead.environment.get("python") or {}).get("executable"),
                  "version": lead.identity.get("python"), "requested": None}
    for note in notes:
        run.add_error("merge", "ranks", note, kind="partial")
    rank_rows = [_rank_row(r, (exits or {}).get(r.rank)) for r in ranks_docs]
    for rank in sorted(set(range(world)) - present):
        rank_rows.append({"rank": rank, "state": "missing", "error": "no folder: the rank never started, or its "
                          "node does not share this filesystem and it did not reach the final gather"})
        run.add_error("dist", f"rank {rank}", "no results from this rank", kind="partial")
    rank_rows.sort(key=lambda row: row["rank"])
    _compact(rank_rows)
    for r in ranks_docs:
        for err in r.facts.get("errors") or []:
            if isinstance(err, dict):
                run.add_error("probe", f"rank {r.rank}: {err.get('source')}", str(err.get("message")),
                              kind=err.get("kind") or "partial")
    for r in ranks_docs:
        for message in r.status.get("errors") or []:
            run.add_error("bench", f"rank {r.rank}", str(message), kind="exception")
    for row in rank_rows:
        if row.get("state") not in ("done", "missing"):
            run.add_error("dist", f"rank {row['rank']} (node {row.get('node')})", row.get("error") or row["state"],
                          kind="partial")
    run.benchmarks = [dict(rec) for rec in lead.device_records()] + _collectives(ranks_docs)
    versions = sorted({str(r.identity.get("stackprof_version")) for r in ranks})
    if len(versions) > 1:
        run.add_error("dist", "ranks", f"stackprof versions differ across ranks: {', '.join(versions)}")
    run.dist = {
        "schema": DIST_SCHEMA, "run_id": job.get("run_id") or lead.identity.get("run_id"),
        "world_size": world, "nnodes": len({row.get("node") for row in rank_rows if row.get("node") is not None}),
        "mode": job.get("mode"), "backend": job.get("backend") or lead.identity.get("backend"),
        "device_type": "cuda" if str(lead.identity.get("device", "")).startswith("cuda") else "cpu",
        "timeout_s": job.get("timeout_s"), "launcher": job.get("launcher"), "model": job.get("model") or {},
        "ranks": rank_rows, "nodes": _nodes(rank_rows),
    }
    started, ended = job.get("started"), max((r.status.get("updated") or 0) for r in ranks)
    if started and ended:
        run.timings["dist_s"] = round(ended - started, 3)
    return run, ranks_docs


def _rank_row(r: RankData, exit_info: dict | None) -> dict:
    ident, status = r.identity, r.status
    place = ident.get("placement") if isinstance(ident.get("placement"), dict) else {}
    state = status.get("state") or "unknown"
    error = status.get("error")
    if state == "running":          # no final state: the process ended without writing one
        state = "died"
        how = _exit_text(exit_info) or "ended without a final status (killed, or stopped by torchrun)"
        error = f"{how} in phase {status.get('phase')}" + (f" ({status['detail']})" if status.get("detail") else "")
    return {"rank": r.rank, "local_rank": ident.get("local_rank"), "node": ident.get("node"),
            "host": ident.get("host"), "pid": ident.get("pid"), "device": ident.get("device"),
            "backend": ident.get("backend"), "cpus": cpu_ranges(place.get("cpus")), "cpu_count": place.get("cpu_count"),
            "numa_nodes": place.get("numa_nodes"), "gpu": place.get("gpu"), "gpu_state": ident.get("gpu_state"),
            "state": state, "phase": status.get("phase"), "detail": status.get("detail"), "error": error,
            "exit": exit_info, "versions": {"stackprof": ident.get("stackprof_version"),
                                            "torch": ident.get("torch_version"), "python": ident.get("python")},
            "ranks_on_host": ident.get("ranks_on_host"), "records": len(r.records)}


def _compact(rows: list[dict]) -> None:
    """A thousand ranks must fit the report: keys without a value are left out, and the versions only
    where they differ from the lowest rank's (docs/schema-dist.md)."""
    first = next((r.get("versions") for r in rows if r.get("versions")), None)
    for row in rows:
        if row.get("versions") == first and row is not rows[0]:
            row.pop("versions", None)
        for key in [k for k, v in row.items() if v is None]:
            del row[key]


def _exit_text(info: dict | None) -> str | None:
    if not info:
        return None
    if info.get("signal"):
        return f"killed by {info['signal']}"
    return f"exited with status {info.get('code')}" if info.get("code") is not None else None


def _nodes(rows: list[dict]) -> list[dict]:
    nodes: dict = {}
    for row in rows:
        if row.get("node") is None:
            continue
        node = nodes.setdefault(row["node"], {"node": row["node"], "host": row.get("host"), "ranks": [], "states": {}})
        node["ranks"].append(row["rank"])
        node["states"][row["state"]] = node["states"].get(row["state"], 0) + 1
    return [nodes[k] for k in sorted(nodes)]


def _collectives(ranks: list[RankData]) -> list[dict]:
    """One record per collective case: the lowest rank's that measured it, else the lowest rank's."""
    chosen: dict[str, dict] = {}
    for r in ranks:
        for rec in r.collective_records():
            rid = rec.get("id")
            if rid not in chosen or (chosen[rid].get("status") != "ok" and rec.get("status") == "ok"):
                chosen[rid] = dict(rec, params=dict(rec.get("params") or {}, reported_by_rank=r.rank))
    return list(chosen.values())


PER_RANK_COLUMNS = ("rank", "node", "status", "value", "median_s", "iqr_rel", "n", "pct_of_peak", "load_avg_1m",
                    "reason")


def to_table(per_rank_entries: dict) -> dict:
    """{id: [entry per rank]} -> {id: {op, dtype, unit, columns, rows}}: one row per rank, the fields
    every rank shares said once — a thousand ranks stay small enough for the report."""
    out = {}
    for bench_id, entries in per_rank_entries.items():
        first = entries[0] if entries else {}
        out[bench_id] = {"op": first.get("op"), "dtype": first.get("dtype"), "unit": first.get("unit"),
                         "columns": list(PER_RANK_COLUMNS),
                         "rows": [[_round(e.get(c)) for c in PER_RANK_COLUMNS] for e in entries]}
    return out


def from_table(table: dict) -> dict:
    """The inverse of to_table: {id: [entry per rank]}."""
    out = {}
    for bench_id, doc in (table or {}).items():
        if isinstance(doc, dict):
            shared = {"op": doc.get("op"), "dtype": doc.get("dtype"), "unit": doc.get("unit")}
            out[bench_id] = [dict(shared, **dict(zip(doc.get("columns") or [], row))) for row in doc.get("rows") or []]
    return out


def _round(value):
    return float(f"{value:.5g}") if isinstance(value, float) else value


def per_rank(ranks: list[RankData], environment: dict) -> dict:
    """{benchmark id: [{rank, node, status, value, unit, median_s, iqr_rel, n, pct_of_peak}]} for the
    per-device benchmarks of every rank (statistics and value as `stackprof bench` computes them)."""
    from stackprof import bench
    out: dict[str, list] = {}
    for r in ranks:
        for rec in r.device_records():
            done = bench.annotate(dict(rec), r.environment or environment)
            summary = done.get("stats") or {}
            out.setdefault(rec.get("id"), []).append({
                "rank": r.rank, "node": r.identity.get("node"), "status": rec.get("status"), "reason": rec.get("reason"),
                "value": done.get("value"), "unit": rec.get("unit"), "median_s": summary.get("median_s"),
                "iqr_rel": summary.get("iqr_rel"), "n": summary.get("n"), "pct_of_peak": done.get("pct_of_peak"),
                "op": rec.get("op"), "dtype": rec.get("dtype"),
                "load_avg_1m": (rec.get("params") or {}).get("load_avg_1m")})
    return out


def _redacted(ranks: list[RankData]) -> list[RankData]:
    """Each rank's documents with its own host's name replaced by "node-K" (the local Redactor only
    knows this machine's name); user names, home paths and secrets go in the final pass."""
    local = socket.gethostname()
    out = []
    for r in ranks:
        host = str(r.identity.get("host") or "")
        label = f"node-{r.identity.get('node', '?')}"
        clean = RankData.__new__(RankData)
        clean.folder = r.folder
        redactor = Redactor(identity=True, host=host or local)
        for name in ("identity", "status", "facts", "records"):
            value = redactor.walk(getattr(r, name))
            setattr(clean, name, value)
        clean.identity["host"] = label
        clean.identity.pop("host_key", None)
        out.append(clean)
    return out


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _with_state(record: dict) -> dict:
    """The rank's raw snapshots around a case -> the record's `state`, as `stackprof bench` computes it."""
    raw = record.pop("machine", None)
    if isinstance(raw, dict) and isinstance(raw.get("before"), dict) and isinstance(raw.get("after"), dict):
        try:
            record["state"] = machine_state.delta(_snapshot(raw["before"]), _snapshot(raw["after"]))
        except (TypeError, ValueError, KeyError):
            pass
    return record


def _snapshot(raw: dict) -> machine_state.Snapshot:
    threads = raw.get("threads")
    return machine_state.Snapshot(
        at=float(raw["at"]), cgroup=raw.get("cgroup"),
        cpu_times=tuple(raw["cpu_times"]) if raw.get("cpu_times") else None,
        threads={str(k): tuple(v) for k, v in threads.items()} if isinstance(threads, dict) else None)


def cpu_ranges(cpus) -> str | None:
    """[0, 1, 2, 3, 8] -> "0-3,8" (a 224-CPU rank's list stays one short string)."""
    if not isinstance(cpus, list):
        return None
    nums = sorted(c for c in cpus if isinstance(c, int))
    parts, start, prev = [], None, None
    for c in nums + [None]:
        if start is not None and (c is None or c != prev + 1):
            parts.append(f"{start}-{prev}" if prev > start else str(start))
            start = None
        if c is not None and start is None:
            start = c
        prev = c
    return ",".join(parts)

"""A thousand ranks: merge, N-way diff, the median/MAD straggler test, the report within its size goals.

The rank folders are made from one real rank's folder (tests/dist/data/rank-template: rank 0 of a 2-rank
`stackprof dist --quick` run on this 2-core machine, torch 2.13.0 CPU, gloo) copied 1024 times as 128
nodes of 8 ranks. Each copy's per-call times are the real ones scaled by a small deterministic spread
(±2%) — constructed to exercise scale. Node 42's eight ranks get another OMP_NUM_THREADS and times scaled by
1/0.6: the N-way diff must show the variable at node scope and G1 must name the node with it. Rank 777 alone
is scaled by 1/0.6 with nothing different: slower than the ranks sharing its CPU, it is a note, not a defect."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from stackprof.dist import flow, outdir
from stackprof.pipeline import finalize, write_outputs

TEMPLATE = Path(__file__).resolve().parent / "data" / "rank-template"
WORLD, PER_NODE, SLOW = 1024, 8, 777


def _make(root: Path) -> None:
    identity = json.loads((TEMPLATE / "identity.json").read_text())
    status = json.loads((TEMPLATE / "status.json").read_text())
    facts = json.loads((TEMPLATE / "facts.json").read_text())
    records = [json.loads(line) for line in (TEMPLATE / "records.jsonl").read_text().splitlines() if line]
    device = [r for r in records if r["op"] in ("gemm", "stream_triad")]
    collectives = [r for r in records if r not in device]
    run_id = "scale-test"
    outdir.write_json(root / "job.json", {"schema": outdir.JOB_SCHEMA, "run_id": run_id, "world_size": WORLD,
                                          "nnodes": WORLD // PER_NODE, "mode": "quick", "backend": "gloo",
                                          "timeout_s": 60, "launcher": "test", "model": {}})
    for rank in range(WORLD):
        folder = Path(outdir.rank_dir(str(root), rank))
        folder.mkdir(parents=True)
        node = rank // PER_NODE
        outdir.write_json(folder / "identity.json", dict(identity, rank=rank, world_size=WORLD, node=node,
                                                         local_rank=rank % PER_NODE, nnodes=WORLD // PER_NODE,
                                                         host=f"host{node:03d}", run_id=run_id, pid=1000 + rank))
        outdir.write_json(folder / "status.json", status)
        env = json.loads(json.dumps(facts))
        if node == 42:
            env["environment"]["env_vars"]["vars"]["OMP_NUM_THREADS"] = "4"
        outdir.write_json(folder / "facts.json", env)
        scale = (1 / 0.6) if rank == SLOW or node == 42 else 1 + 0.02 * (((rank * 7) % 5) - 2) / 2
        with open(folder / "records.jsonl", "w") as handle:
            for rec in device + (collectives if rank == 0 else []):
                rec = dict(rec, samples_s=[s * scale for s in rec["samples_s"]]) if rec in device else rec
                handle.write(json.dumps(rec) + "\n")


def test_a_thousand_ranks_are_merged_judged_and_fit_the_report(tmp_path):
    _make(tmp_path)
    run = flow.build(tmp_path, redact=True)
    flow.diagnose(run, None, verify_budget_s=None, echo=lambda m: None)
    run = finalize(run, redact=True)
    paths = write_outputs(run, tmp_path)
    dist = run.dist
    assert dist["world_size"] == WORLD and dist["nnodes"] == WORLD // PER_NODE
    flagged = {(t["unit"], t["who"]) for t in dist["stragglers"]["flagged"]}
    assert ("rank", SLOW) in flagged and ("node", 42) in flagged, flagged
    assert {w for u, w in flagged if u == "rank"} == {SLOW} | set(range(42 * PER_NODE, 43 * PER_NODE)), flagged
    g1 = [f for f in run.findings if f["id"] == "G1"]
    node = next(f for f in g1 if f["title"].startswith("node 42 (ranks 336"))
    assert node["kind"] == "defect" and any(e.get("fact") == "env_vars.vars.OMP_NUM_THREADS" for e in node["evidence"])
    rank = next(f for f in g1 if f["title"].startswith(f"rank {SLOW} measured"))
    assert rank["kind"] == "note"
    assert len(g1) == 2
    omp = next(e for e in dist["env_diff"]["differing"] if e["path"] == "env_vars.vars.OMP_NUM_THREADS")
    assert omp["scope"] == "node" and [g["nodes"] for g in omp["values"] if g["value"] == "4"] == [[42]]
    assert paths["html"].stat().st_size < 2_000_000, paths["html"].stat().st_size
    assert len(paths["md"].read_text()) < 65_536
    html = paths["html"].read_text()
    assert html.count('<th scope="row">rank ') <= 64 + 64 and f"rank {SLOW} (node 97) ⚑" in html
    assert "host042" not in html and "node-42" in html                 # host names redacted per node
    shutil.rmtree(tmp_path / "ranks")

"""Wall time of `stackprof dist --quick` at 1 and 2 ranks on this machine: goal ratio ≤ 1.2 (rank 0's
gather and the report must not serialise the ranks' benchmarks).

Runs the real CLI (torchrun in the torch test venv, gloo on the CPU; --no-verify, so that the experiments
the findings happen to carry do not decide the wall time) in the order 1, 2 (then 2, 1 with --repeat 2),
and prints per run the wall time, each phase of every rank (from the ranks' status files), the launch,
and the merge + report; then the ratio of the median walls. It also prints whether any rank was named a
straggler although none was loaded (that depends on this machine's noise, so it is printed, not asserted).
Ranks that share a CPU take turns for the per-device benchmarks (two half-budget rounds each): that part
grows with the ranks per host by design, and the breakdown shows it.

    flock -x /tmp/stackprof-cpu.lock python benchmarks/dist_scaling.py [--python PATH] [--repeat 1] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _venvs import default_python  # noqa: E402
from statistics import median

GOAL_RATIO = 1.2


def phases(out: Path) -> dict[int, dict[str, float]]:
    """{rank: {phase: seconds}} from each rank's status.json (phase start times; the last ends at finish)."""
    table = {}
    for folder in sorted((out / "ranks").glob("rank-*")):
        status = json.loads((folder / "status.json").read_text())
        starts = sorted((t, p) for p, t in (status.get("phase_started") or {}).items())
        end = status.get("finished") or status.get("updated")
        spans = {}
        for (t, p), nxt in zip(starts, starts[1:] + [(end, None)]):
            spans[p] = nxt[0] - t
        spans["start"] = (starts[0][0] - status["started"]) if starts else 0.0
        table[int(folder.name.split("-")[1])] = spans
    return table


def one_run(python: str, nproc: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "stackprof", "dist", "--quick", "--nproc", str(nproc), "--python", python,
           "-o", str(out), "--no-verify"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"stackprof dist --nproc {nproc} failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}")
    run = json.loads((out / "run.json").read_text())
    job = json.loads((out / "job.json").read_text())
    last = max(json.loads((f / "status.json").read_text()).get("finished", 0) for f in (out / "ranks").glob("rank-*"))
    return {"nproc": nproc, "wall_s": wall, "phases": phases(out), "ranks_s": last - job["started"],
            "stragglers": [f["title"] for f in run["findings"] if f["id"] == "G1"],
            "tests": [(t["benchmark"], t.get("details", {}).get("reason") or t.get("details", {}).get("z"))
                      for t in run["dist"]["stragglers"]["tests"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=None)
    parser.add_argument("--repeat", type=int, default=1, help="1: order 1, 2; 2: order 1, 2, 2, 1")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    python = args.python or default_python()
    order = [1, 2] + ([2, 1] if args.repeat >= 2 else [])
    print(f"stackprof dist --quick at 1 and 2 ranks, {python}  ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        for i, nproc in enumerate(order):
            r = one_run(python, nproc, base / f"run{i + 1}-n{nproc}")
            results.append(r)
            per_rank = "; ".join(f"rank {rank}: " + ", ".join(f"{p} {s:.1f}" for p, s in spans.items())
                                 for rank, spans in r["phases"].items())
            print(f"  {nproc} rank(s): {r['wall_s']:5.1f} s wall; ranks {r['ranks_s']:.1f} s from job start to the last "
                  f"rank's end, launch + merge + report {r['wall_s'] - r['ranks_s']:.1f} s\n      {per_rank}")
            if nproc > 1:
                print(f"      stragglers named without any load: {r['stragglers'] or 'none'}"
                      f"  (tests: {r['tests']})")
    walls = {n: median(r["wall_s"] for r in results if r["nproc"] == n) for n in (1, 2)}
    ratio = walls[2] / walls[1]
    print(f"median wall: 1 rank {walls[1]:.1f} s, 2 ranks {walls[2]:.1f} s -> ratio {ratio:.2f} "
          f"(goal ≤ {GOAL_RATIO}: {'met' if ratio <= GOAL_RATIO else 'NOT met'})")


if __name__ == "__main__":
    main()

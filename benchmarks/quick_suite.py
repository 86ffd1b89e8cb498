"""Wall time of `stackprof bench --quick` and the spread of its headline medians over two
consecutive runs. Goals: <= 20 s per run on a 2-core CPU machine; <= 5 % spread.

Spread of a value between the two runs = |a - b| / mean(a, b). Reported for the headline score
and for the median of every key kernel result behind it (the components); the worst of those is
what the goal applies to.

    python benchmarks/quick_suite.py --python /path/to/venv/bin/python
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_WALL_S, GOAL_SPREAD = 20.0, 0.05


def quick_run(python: str, extra: list[str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "stackprof", "bench", "--quick", "--python", python,
                               "-o", out, "--format", "json", *extra], capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"stackprof bench --quick failed: {proc.stderr.strip()[-500:]}")
        return wall, json.loads((Path(out) / "run.json").read_text())


def spread(a: float, b: float) -> float:
    return abs(a - b) / ((a + b) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    parser.add_argument("--device", default=None, help="passed to stackprof bench (default: cpu and cuda:0)")
    args = parser.parse_args()
    extra = ["--device", args.device] if args.device else []

    (wall1, run1), (wall2, run2) = quick_run(args.python, extra), quick_run(args.python, extra)
    values2 = {r["id"]: r for r in run2["benchmarks"]}
    print(f"wall time: run 1 {wall1:.1f} s, run 2 {wall2:.1f} s (goal <= {GOAL_WALL_S:.0f} s)")
    print(f"{'key kernel result':<56} {'run 1':>10} {'run 2':>10} {'spread':>7}")
    worst = 0.0
    for comp in run1["headline"]["components"]:
        a = next(r for r in run1["benchmarks"] if r["id"] == comp["id"])
        b = values2.get(comp["id"])
        if not b or b.get("value") is None:
            print(f"{comp['id']:<56} {a['value']:>10.4g} {'-':>10}")
            continue
        s = spread(a["value"], b["value"])
        worst = max(worst, s)
        print(f"{comp['id']:<56} {a['value']:>10.4g} {b['value']:>10.4g} {s:>7.1%}")
    h1, h2 = run1["headline"]["score"], run2["headline"]["score"]
    print(f"headline score: {h1:.3f} vs {h2:.3f}, spread {spread(h1, h2):.1%}")
    print(f"worst spread of the headline medians: {worst:.1%} (goal <= {GOAL_SPREAD:.0%})")
    ok = max(wall1, wall2) <= GOAL_WALL_S and worst <= GOAL_SPREAD
    print("OK" if ok else "BELOW GOAL")


if __name__ == "__main__":
    main()

"""`stackprof probe` vs `python -m torch.utils.collect_env` in the same environment.

Runs the two alternately (after one untimed warm-up of each), N rounds, and prints the median wall
times with their ratio, and the number of facts each collected with that ratio:
- stackprof: non-null leaf values in the Run's ``environment``;
- collect_env: non-empty "key: value" lines plus "[pip3]/[conda] package" lines (generous: a line
  saying "Could not collect" counts too).
Goals: time ratio <= 0.75 (issue 14: build provenance reads dpkg's lists, RECORD files and ELF headers
lazily, for the frameworks only) with >= 3x the facts (issue 2).

    python benchmarks/probe_vs_collect_env.py --python ~/.cache/stackprof-test-venvs/torch-*/bin/python
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_stackprof(python: str) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "stackprof", "probe", "--python", python, "--format", "json"]
    wall, out = _timed(cmd)
    return wall, count_leaves(json.loads(out)["environment"])


def run_collect_env(python: str) -> tuple[float, int]:
    wall, out = _timed([python, "-m", "torch.utils.collect_env"])
    return wall, count_lines(out)


def _timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def count_leaves(node) -> int:
    if isinstance(node, dict):
        return sum(count_leaves(v) for v in node.values())
    if isinstance(node, list):
        return sum(count_leaves(v) for v in node)
    return 0 if node is None or node == "" else 1


def count_lines(text: str) -> int:
    facts = 0
    for line in text.splitlines():
        if re.match(r"\s*[^:\s][^:]*:\s*\S", line) or re.match(r"\s*\[(pip3|conda)\]\s+\S", line):
            facts += 1
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="interpreter of an environment with torch")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    run_stackprof(args.python), run_collect_env(args.python)          # warm the file cache
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(run_stackprof(args.python))
        theirs.append(run_collect_env(args.python))
    t_ours = statistics.median(w for w, _ in ours)
    t_theirs = statistics.median(w for w, _ in theirs)
    f_ours, f_theirs = ours[-1][1], theirs[-1][1]
    print(f"environment: {args.python}   rounds: {args.rounds} (alternating, after one warm-up each)")
    print(f"stackprof probe   median {t_ours:.3f} s   per round: {' '.join(f'{w:.2f}' for w, _ in ours)}")
    print(f"collect_env       median {t_theirs:.3f} s   per round: {' '.join(f'{w:.2f}' for w, _ in theirs)}")
    print(f"time ratio (stackprof / collect_env): {t_ours / t_theirs:.2f}   (goal <= 0.75)")
    print(f"facts: stackprof {f_ours}  collect_env {f_theirs}  ratio {f_ours / max(f_theirs, 1):.1f}x   (goal >= 3x)")


if __name__ == "__main__":
    main()

"""False-positive rate of `stackprof compare`: the same environment compared with itself.

Makes PAIRS pairs of fresh runs of one interpreter with the real CLI (`stackprof run --quick --python P
--python P`: both runs interleaved, as users run it; or, with --sequential, two separate `stackprof run`
commands compared afterwards with `stackprof compare`) and counts the faster/slower verdicts. Every such
verdict is a false positive: nothing differs. Goal: 0.

    python benchmarks/compare_stability.py [--python PATH] [--pairs 5] [--sequential] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def stackprof(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "stackprof", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"stackprof {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")


def one_pair(python: str, out: Path, sequential: bool) -> dict:
    if sequential:
        for label in ("a", "b"):
            stackprof("run", "--quick", "--no-verify", "--python", python, "--label", label, "-o", str(out / label))
        stackprof("compare", str(out / "a" / "run.json"), str(out / "b" / "run.json"), "-o", str(out))
    else:
        stackprof("run", "--quick", "--no-verify", "--python", python, "--python", python,
                  "--label", "a", "--label", "b", "-o", str(out))
    return json.loads((out / "comparison.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter to run (default: this one)")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--sequential", action="store_true", help="two separate runs per pair, not interleaved")
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs and comparisons here")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="stackprof-stability-"))
    how = "sequential runs + stackprof compare" if args.sequential else "interleaved (--python twice)"
    print(f"compare stability: {args.pairs} pairs of fresh --quick runs of {args.python}, {how}")
    totals: Counter = Counter()
    false_positives = []
    started = time.perf_counter()
    for n in range(1, args.pairs + 1):
        doc = one_pair(args.python, root / f"pair{n}", args.sequential)
        pair = doc["pairs"][0]
        counts = Counter(b["verdict"] for b in pair["benchmarks"])
        totals.update(counts)
        for b in pair["benchmarks"]:
            if b["verdict"] in ("faster", "slower"):
                false_positives.append((n, b["id"], b["verdict"], b["reason"]))
        spread = max((max(b["a"]["iqr_rel"] or 0, b["b"]["iqr_rel"] or 0) for b in pair["benchmarks"]
                      if b["a"] and b["b"] and b["a"].get("iqr_rel") is not None and b["b"].get("iqr_rel") is not None),
                     default=0.0)
        print(f"  pair {n}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
              + f"  (largest IQR/median {spread:.1%})")
    judged = sum(totals[v] for v in ("faster", "slower", "same", "within_drift", "noisy"))
    fp = totals["faster"] + totals["slower"]
    print(f"benchmark comparisons judged: {judged} (same {totals['same']}, within drift {totals['within_drift']}, "
          f"noisy {totals['noisy']}, "
          f"faster {totals['faster']}, slower {totals['slower']}; not comparable/failed/skipped/missing: "
          f"{sum(totals.values()) - judged})")
    missing = totals["missing"]
    print(f"false-positive rate (faster/slower on an unchanged environment): {fp}/{judged} = "
          f"{(fp / judged if judged else 0):.1%}   goal: ≤ 2% apart, 0 interleaved; missing cases: {missing} (goal 0)")
    print(f"noisy rate: {totals['noisy']}/{judged} = {(totals['noisy'] / judged if judged else 0):.1%}")
    for n, bench_id, verdict, reason in false_positives:
        print(f"  false positive in pair {n}: {bench_id} {verdict}: {reason}")
    print(f"wall time {time.perf_counter() - started:.0f} s; runs in {root}")


if __name__ == "__main__":
    main()

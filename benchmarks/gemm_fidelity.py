"""Does stackprof find the GEMM throughput this environment can reach?

An independent, longer fp32 GEMM sweep (its own timing loop, not stackprof's harness) with numpy
and torch in the target environment, run before and after `stackprof bench --only gemm --device
cpu`; prints the ratio of stackprof's best fp32 GEMM (median-based) to the sweep's best (the
better of the two sweeps, also median-based). Goal: >= 0.97.

    python benchmarks/gemm_fidelity.py --python /path/to/venv/bin/python [--mode default]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 0.97
SWEEP = r'''
import json, statistics, sys, time
framework, sizes, min_time = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
if framework == "numpy":
    import numpy as np
    rng = np.random.default_rng(1)
    def make(m, n, k):
        a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), dtype=np.float32)
        return lambda: np.matmul(a, b, out=c)
else:
    import torch
    def make(m, n, k):
        a, b, c = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
        return lambda: torch.mm(a, b, out=c)
out = {}
for m, n, k in sizes:
    fn = make(m, n, k)
    fn(); fn()
    times, start = [], time.perf_counter()
    while len(times) < 7 or (time.perf_counter() - start < min_time and len(times) < 200):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    out["%dx%dx%d" % (m, n, k)] = 2.0 * m * n * k / statistics.median(times) / 1e9
print(json.dumps(out))
'''


def sweep_shapes() -> list[tuple[int, int, int]]:
    squares = [(s, s, s) for s in range(256, 4097, 256)]
    rectangles = [(m, 2048, 2048) for m in (512, 1024, 3072, 4096)] + [(2048, n, 2048) for n in (1024, 3072)]
    return squares + rectangles


def run_sweep(python: str, framework: str, min_time: float) -> dict[str, float]:
    proc = subprocess.run([python, "-c", SWEEP, framework, json.dumps(sweep_shapes()), str(min_time)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"sweep with {framework} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def stackprof_best(python: str, mode: str) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "stackprof", "bench", "--only", "gemm", "--device", "cpu",
               "--python", python, "-o", out, "--format", "json"]
        if mode != "default":
            cmd.insert(3, f"--{mode}")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"stackprof bench failed: {proc.stderr.strip()[-500:]}")
        run = json.loads((Path(out) / "run.json").read_text())
    best = max((r for r in run["benchmarks"] if r["op_key"] == "gemm/cpu/fp32" and r["value"]),
               key=lambda r: r["value"])
    return best["value"], best["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    parser.add_argument("--mode", default="default", choices=["quick", "default", "full"])
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per shape in the sweep")
    args = parser.parse_args()

    started = time.perf_counter()
    sweeps = {fw: [run_sweep(args.python, fw, args.min_time)] for fw in ("numpy", "torch")}
    value, best_id = stackprof_best(args.python, args.mode)
    for fw in sweeps:
        sweeps[fw].append(run_sweep(args.python, fw, args.min_time))

    print(f"{'shape':>16} " + " ".join(f"{fw + ' #' + str(i + 1):>12}" for fw in sweeps for i in range(2)))
    for shape in sweeps["numpy"][0]:
        print(f"{shape:>16} " + " ".join(f"{sweeps[fw][i][shape]:>12.1f}" for fw in sweeps for i in range(2)))
    best_shape, best_fw, best_value = max(((s, fw, v) for fw, runs in sweeps.items() for run in runs
                                           for s, v in run.items()), key=lambda x: x[2])
    ratio = value / best_value
    print(f"\nsweep best:     {best_value:.1f} GFLOP/s ({best_fw}, {best_shape}; best of two sweeps)")
    print(f"stackprof best: {value:.1f} GFLOP/s ({best_id}; --mode {args.mode})")
    print(f"ratio stackprof/sweep = {ratio:.3f}  (goal >= {GOAL})  {'OK' if ratio >= GOAL else 'BELOW GOAL'}")
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

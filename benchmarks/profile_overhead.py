"""What `stackprof profile` costs: the slowdown of the profiled program and the time added after it ends.

1. Slowdown: a CPU-bound program (pure-Python calls plus single-threaded numpy work, a fixed amount of
   work; it prints its own wall time) runs ROUNDS times without and with `stackprof profile --no-probe` at
   the default rate, alternating A B B A so a steady drift cannot pass for an effect. Printed: the ratio
   of the medians of the program's own wall time (goal ≤ 1.05 for the default mode) with a 95% bootstrap
   CI, for the default mode (native frames, py-spy's blocking mode) and, for comparison, --no-native and
   --nonblocking.
2. Post-run time for a 60 s profile: a real 60 s program (three threads: numpy GEMMs, Python loops,
   sleeps) is profiled once; the time from the program's last instruction to `stackprof profile` exiting
   (py-spy writing its file, attribution, rendering, writing) is printed (goal ≤ 3 s), then the analysis
   and rendering are timed again from the kept Run/raw file, part by part.

    python benchmarks/profile_overhead.py [--rounds 4] [--seconds 60] [--work 2.0] [--keep DIR]

Run it alone (nothing else loading the CPUs): `flock -x /tmp/stackprof-cpu.lock python benchmarks/...`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_SLOWDOWN = 1.05
GOAL_POST_RUN_S = 3.0

CPU_BOUND = r'''
import sys, time
import numpy as np

def leaf(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total

def middle(n):
    return sum(leaf(n) for _ in range(4))

def outer(rounds, n):
    a = np.random.default_rng(0).random((160, 160))
    for _ in range(rounds):
        middle(n)
        a = (a @ a) / 160.0
    return a

calls = int(sys.argv[1])
start = time.perf_counter()
outer(calls, 2500)
print(f"PROGRAM_WALL {time.perf_counter() - start:.6f}")
'''

LONG = r'''
import sys, threading, time
import numpy as np

seconds = float(sys.argv[1])
end = time.perf_counter() + seconds

def gemms():
    a = np.random.default_rng(1).random((256, 256))
    while time.perf_counter() < end:
        a = (a @ a) / 256.0

def python_work():
    while time.perf_counter() < end:
        sum(i * i for i in range(20000))

def waits():
    while time.perf_counter() < end:
        time.sleep(0.05)

threads = [threading.Thread(target=f, name=f.__name__) for f in (gemms, python_work, waits)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"PROGRAM_END {time.time():.6f}", flush=True)
'''


def program_wall(stdout: str) -> float:
    for line in stdout.splitlines():
        if line.startswith("PROGRAM_WALL"):
            return float(line.split()[1])
    raise RuntimeError(f"the program printed no wall time:\n{stdout[-2000:]}")


def run_plain(python: str, script: Path, calls: int) -> float:
    proc = subprocess.run([python, str(script), str(calls)], capture_output=True, text=True, check=True,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return program_wall(proc.stdout)


def run_profiled(python: str, script: Path, calls: int, out: Path, extra: list[str]) -> float:
    proc = subprocess.run([sys.executable, "-m", "stackprof", "profile", "--no-probe", "-o", str(out), *extra, "--",
                           python, str(script), str(calls)], capture_output=True, text=True,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if proc.returncode != 0:
        raise RuntimeError(f"stackprof profile failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return program_wall(proc.stdout)


def calibrate(python: str, script: Path, seconds: float) -> int:
    """Rounds of work that take about ``seconds`` (doubling until half of it, then scaling)."""
    calls = 8
    while True:
        wall = run_plain(python, script, calls)
        if wall >= seconds / 2 or calls > 1_000_000:
            return max(2, round(calls * seconds / wall))
        calls *= 2


def slowdown(python: str, script: Path, calls: int, rounds: int, extra: list[str], workdir: Path) -> dict:
    from stackprof.stats import bootstrap_ratio_ci
    plain, profiled = [], []
    for r in range(rounds):
        order = ("A", "B") if r % 2 == 0 else ("B", "A")
        for which in order:
            if which == "A":
                plain.append(run_plain(python, script, calls))
            else:
                profiled.append(run_profiled(python, script, calls, workdir / f"p{len(profiled)}", extra))
    ratio = statistics.median(profiled) / statistics.median(plain)
    ci = bootstrap_ratio_ci(plain, profiled)          # of median(profiled) / median(plain)
    return {"ratio": ratio, "ci": ci, "plain": plain, "profiled": profiled}


def post_run(python: str, seconds: float, workdir: Path) -> dict:
    script = workdir / "long.py"
    script.write_text(LONG, encoding="utf-8")
    out = workdir / "long"
    proc = subprocess.Popen([sys.executable, "-m", "stackprof", "profile", "--no-probe", "-o", str(out), "--", python,
                             str(script), str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate()
    finished = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"stackprof profile failed: {stderr[-2000:]}")
    end = next(float(line.split()[1]) for line in stdout.splitlines() if line.startswith("PROGRAM_END"))
    return {"post_run_s": finished - end, "out": out}


def parts(out: Path) -> dict:
    """The analysis and rendering again, from what the 60 s run kept, part by part (in this process)."""
    from stackprof.model import load_run
    from stackprof.profile.attribute import add_up
    from stackprof.profile.collapsed import read_stacks
    from stackprof.render import render
    run = load_run(out / "run.json")
    times = {}
    t0 = time.perf_counter()
    stacks, _ = read_stacks(out / "profile.collapsedstack.txt")
    times["parse_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    add_up(stacks, run.profile.get("pid"))
    times["attribute_s"] = time.perf_counter() - t0
    for fmt in ("html", "md"):
        t0 = time.perf_counter()
        text = render(run, fmt)
        times[f"render_{fmt}_s"] = time.perf_counter() - t0
        times[f"{fmt}_bytes"] = len(text.encode("utf-8"))
    times["samples"] = run.profile["samples"]["total"]
    times["distinct_stacks"] = len(stacks)
    times["raw_bytes"] = (out / "profile.collapsedstack.txt").stat().st_size
    times["run_json_bytes"] = (out / "run.json").stat().st_size
    times["achieved_hz"] = run.profile["rate"]["achieved_hz"]
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="interpreter for the programs (needs numpy)")
    parser.add_argument("--rounds", type=int, default=4, help="A/B pairs per mode")
    parser.add_argument("--work", type=float, default=2.0, help="seconds of work per CPU-bound run")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the long profile")
    parser.add_argument("--modes", default="default,no-native,nonblocking")
    parser.add_argument("--keep", default=None, help="keep outputs in this directory")
    args = parser.parse_args()
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="stackprof-profile-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "cpu_bound.py"
    script.write_text(CPU_BOUND, encoding="utf-8")
    import platform
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"machine: {model}, {os.cpu_count()} CPUs; python {args.python}")
    calls = calibrate(args.python, script, args.work)
    print(f"CPU-bound program: {calls} rounds of work ≈ {args.work:g} s; {args.rounds} A/B pairs per mode, A B / B A")
    flags = {"default": [], "no-native": ["--no-native"], "nonblocking": ["--nonblocking"]}
    results = {}
    for mode in args.modes.split(","):
        res = slowdown(args.python, script, calls, args.rounds, flags[mode], workdir / mode)
        results[mode] = res
        lo, hi = res["ci"] if res["ci"] else (float("nan"), float("nan"))
        goal = f"  goal ≤ {GOAL_SLOWDOWN:g}: {'met' if res['ratio'] <= GOAL_SLOWDOWN else 'NOT met'}" \
            if mode == "default" else ""
        print(f"slowdown [{mode:11s}] {res['ratio']:.3f}× (95% CI {lo:.3f}–{hi:.3f}); program wall median "
              f"{statistics.median(res['plain']):.3f} s → {statistics.median(res['profiled']):.3f} s{goal}")
    long = post_run(args.python, args.seconds, workdir)
    print(f"post-run time of a {args.seconds:g} s profile: {long['post_run_s']:.2f} s "
          f"(goal ≤ {GOAL_POST_RUN_S:g}: {'met' if long['post_run_s'] <= GOAL_POST_RUN_S else 'NOT met'})")
    detail = parts(long["out"])
    print("  again from the kept files: " + ", ".join(
        f"{k} {v:.3f}" if k.endswith("_s") else f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
        for k, v in detail.items()))
    summary = {"slowdown": {m: {"ratio": r["ratio"], "ci": r["ci"]} for m, r in results.items()},
               "post_run_s": long["post_run_s"], "parts": detail}
    (workdir / "profile_overhead.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    print(f"details: {workdir / 'profile_overhead.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

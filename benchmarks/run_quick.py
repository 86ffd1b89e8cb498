"""Wall time of `stackprof run --quick` and the size of what it writes, against the goals.

Runs the real CLI (probe + bench + analyze + verify + render) REPEAT times on one interpreter and prints,
per run, wall seconds, the stage timings from run.json, and the report sizes; then the worst case as a
ratio of each goal (≤ 1.00 means met). The first run is COLD: torch.compile's cache (inductor, triton)
points at a new empty folder, as on a fresh machine; the others are warm. Goals: wall ≤ 30 s on a 2-core
CPU machine, cold and warm; report.html ≤ 2 MB; report.md < 65,536 characters (a GitHub comment).

    python benchmarks/run_quick.py [--python PATH] [--repeat 3] [--keep DIR]
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

GOAL_WALL_S = 30.0
GOAL_HTML_BYTES = 2 * 1024 * 1024
GOAL_MD_CHARS = 65_536


def one_run(python: str, out: Path, cold_cache: Path | None = None) -> dict:
    env = dict(os.environ)
    if cold_cache is not None:              # an empty compile cache, as on a fresh machine
        env["TORCHINDUCTOR_CACHE_DIR"] = str(cold_cache / "inductor")
        env["TRITON_CACHE_DIR"] = str(cold_cache / "triton")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "stackprof", "run", "--quick", "--python", python, "-o", str(out)],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"stackprof run failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {"wall_s": wall, "timings": run.get("timings", {}),
            "html_bytes": (out / "report.html").stat().st_size,
            "md_chars": len((out / "report.md").read_text(encoding="utf-8")),
            "json_bytes": (out / "run.json").stat().st_size,
            "benchmarks_ok": sum(1 for b in run.get("benchmarks", []) if b.get("status") == "ok"),
            "verified": [f"{f['id']}:{f['verification']['status']}" for f in run.get("findings", [])
                         if f.get("verification")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=None, help="interpreter to diagnose (default: the torch test venv)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs under this directory")
    args = parser.parse_args()
    python = args.python or default_python()
    print(f"stackprof run --quick --python {python}  ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        for i in range(args.repeat):
            r = one_run(python, base / f"run{i + 1}", cold_cache=Path(scratch) / "cold-cache" if i == 0 else None)
            results.append(r)
            t = r["timings"]
            print(f"  run {i + 1} ({'cold' if i == 0 else 'warm'}): {r['wall_s']:5.1f} s wall  (probe {t.get('probe_s', 0):.1f} · bench "
                  f"{t.get('bench_s', 0):.1f} · verify {t.get('verify_s', 0):.1f} s; {r['benchmarks_ok']} benchmarks; "
                  f"verified {', '.join(r['verified']) or 'none'})  html {r['html_bytes'] / 1024:.0f} KiB · "
                  f"md {r['md_chars']:,} chars · json {r['json_bytes'] / 1024:.0f} KiB")
    worst = {k: max(r[k] for r in results) for k in ("wall_s", "html_bytes", "md_chars")}
    warm = results[1:] or results
    median_wall = sorted(r["wall_s"] for r in warm)[len(warm) // 2]
    print(f"wall      cold {results[0]['wall_s']:.1f} s; warm median {median_wall:.1f} s, worst {worst['wall_s']:.1f} s  "
          f"-> {worst['wall_s'] / GOAL_WALL_S:.2f} of the {GOAL_WALL_S:.0f} s goal")
    print(f"html      {worst['html_bytes'] / 1e6:.2f} MB  -> {worst['html_bytes'] / GOAL_HTML_BYTES:.2f} of the 2 MB goal")
    print(f"markdown  {worst['md_chars']:,} chars  -> {worst['md_chars'] / GOAL_MD_CHARS:.2f} of the 65,536 limit")
    met = worst["wall_s"] <= GOAL_WALL_S and worst["html_bytes"] <= GOAL_HTML_BYTES and worst["md_chars"] < GOAL_MD_CHARS
    print("goals met" if met else "goals NOT met")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()

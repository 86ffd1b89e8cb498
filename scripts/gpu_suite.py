"""The GPU suite through stackprof's Python API (no CLI dependencies: click, plotly and py-spy may be
missing on a bare GPU box): facts, the benchmarks on one CUDA device, run.json + reports, and the
measured bf16/fp8 GEMM maximum against the MAMF-finder table of the reference.

    python3 scripts/gpu_suite.py --python /path/to/python-with-torch --out DIR [--mode default] [--device cuda:0]
Called by scripts/gpu_suite.sh, which finds or creates the interpreter.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))       # stackprof from this checkout

from stackprof import bench, hardware                                   # noqa: E402
from stackprof.collect import collect_facts                             # noqa: E402
from stackprof.pipeline import finalize, new_run, write_outputs         # noqa: E402
from stackprof.target import Target                                     # noqa: E402


def progress(done: int, total: int, what: str) -> None:
    if what:
        print(f"[{done + 1:>3}/{total}] {what}", file=sys.stderr, flush=True)


def mamf_lines(run) -> list[str]:
    """The best GEMM per precision on the device against the reference's MAMF results."""
    lines = []
    best = bench.best_by_op_key(run.benchmarks)
    for key, record in sorted(best.items()):
        if record["op"] != "gemm" or not record["device"].startswith("cuda"):
            continue
        peak = record.get("peak") or {}
        text = f"{key}: {record['value'] / 1000:.1f} TFLOPS at {record['id']}"
        if peak.get("value"):
            text += f"; {record['pct_of_peak']:.0%} of the {peak['model']} datasheet peak ({peak['value'] / 1000:.0f})"
        if peak.get("achievable"):
            ref = peak["achievable"]["value"]
            text += f"; {record['value'] / ref:.0%} of the MAMF-finder result {ref / 1000:.1f} TFLOPS"
        lines.append(text)
    return lines or ["no GEMM result on a CUDA device"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", required=True, help="interpreter with CUDA torch (the environment measured)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", default="default", choices=bench.MODES)
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--label", default="gpu-suite")
    args = parser.parse_args()

    started = time.perf_counter()
    target = Target(args.python)
    run = new_run(args.label, mode=args.mode, redact=True, device=args.device)
    collect_facts(target, run)
    print("facts collected", file=sys.stderr, flush=True)
    bench.run_benchmarks(target, run, args.mode, device=args.device, progress=progress)
    run.timings["total_s"] = round(time.perf_counter() - started, 3)
    run = finalize(run, redact=True)
    paths = write_outputs(run, args.out)

    try:
        from stackprof.commands.bench import summary                   # needs click
        text = summary(run)
    except ImportError:
        text = "\n".join(f"{r['id']}: {r['status']} {r.get('value')} {r['unit']} {r.get('reason') or ''}"
                         for r in run.benchmarks) + "\n"
    text += "\nGEMM maxima vs references:\n" + "\n".join("  " + line for line in mamf_lines(run)) + "\n"
    gpus = [d.get("name") for d in (run.environment.get("gpus") or {}).get("devices") or []]
    text += f"GPUs (NVML): {gpus}; peak table row: " + \
        f"{getattr(hardware.gpus.lookup(gpus[0] if gpus else None), 'model', None)}\n"
    (Path(args.out) / "summary.txt").write_text(text, encoding="utf-8")
    print(text)
    print("wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    ok = sum(1 for r in run.benchmarks if r["device"].startswith("cuda") and r["status"] == "ok")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

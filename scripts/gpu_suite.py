"""The GPU suite through stackprof's Python API, for scripts/gpu_suite.sh: facts, the benchmarks on one
CUDA device, the rules, verification by experiment — then run.json, report.md (report.html when plotly
is installed; otherwise render it later with `stackprof report run.json -o report.html`) and
summary.txt, all redacted and ready to commit under reports/examples/.

Needs only what a GPU image already has (torch in the measured interpreter; Python >= 3.10 here; no
click, plotly or network). --dry-run plans the same suite without a GPU and writes the same files from
the facts alone, so the script's logic can be checked on any machine.

    python3 scripts/gpu_suite.py --python PY --out DIR [--mode default] [--device cuda:0] [--dry-run]
    python3 scripts/gpu_suite.py --redact-file SRC DST      (copies a log with paths and UUIDs redacted)
"""
from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))       # stackprof from this checkout

from stackprof import bench, hardware                                   # noqa: E402
from stackprof.pipeline import diagnose, finalize, new_run, run_stage   # noqa: E402
from stackprof.redact import Redactor                                   # noqa: E402
from stackprof.target import Target                                     # noqa: E402

ESTIMATE_OVERHEAD_S = 60.0      # probes (torch + CUDA initialisation), compile groups, process starts


def say(message: str) -> None:
    print(f"gpu_suite: {message}", file=sys.stderr, flush=True)


def progress(done: int, total: int, what: str) -> None:
    if what:
        say(f"[{done + 1:>3}/{total}] {what}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt      # `timeout` sends TERM/INT: keep what was measured and write it


def estimate_s(tasks) -> float:
    """Planned seconds: each case's budget plus its warm-up, and a fixed overhead."""
    total = ESTIMATE_OVERHEAD_S
    for task in tasks:
        cases = task.args.get("cases") or []
        total += len(cases) * float(task.args.get("budget_s") or 0) * 1.5 + float(task.args.get("device_warmup_s") or 0)
    return total


def mamf_lines(run) -> list[str]:
    """The best GEMM per precision on the device against the datasheet peak and the MAMF-finder result,
    naming the GPU that result was measured on."""
    lines = []
    for key, record in sorted(bench.best_by_op_key(run.benchmarks).items()):
        if record.get("op") != "gemm" or not str(record.get("device", "")).startswith("cuda"):
            continue
        peak = record.get("peak") or {}
        text = f"{key}: {record['value'] / 1000:.1f} TFLOPS at {record['id']}"
        if peak.get("value"):
            text += f"; {record['value'] / peak['value']:.0%} of the {peak.get('model')} datasheet peak " \
                    f"({peak['value'] / 1000:.0f})"
        achievable = peak.get("achievable") or {}
        if achievable.get("value"):
            text += f"; {record['value'] / achievable['value']:.0%} of the MAMF-finder result " \
                    f"{achievable['value'] / 1000:.1f} TFLOPS measured on {achievable.get('measured_on')}"
        lines.append(text)
    return lines or ["no GEMM result on a CUDA device"]


def checks(run, device: str) -> list[str]:
    """What this first real run must show: which GPU the device was, that L2 was flushed for GEMM and
    conv, that NVML samples were taken under load, and which findings of each kind came out."""
    cuda = [r for r in run.benchmarks if str(r.get("device", "")).startswith("cuda")]
    ok = [r for r in cuda if r.get("status") == "ok"]
    lines = [f"{device}: {len(ok)} of {len(cuda)} CUDA cases ok"]
    for op in ("gemm", "conv2d"):
        done = [r for r in ok if r.get("op") == op and r.get("framework") == "torch"]
        flushed = [r for r in done if (r.get("params") or {}).get("l2_flush_bytes")]
        lines.append(f"L2 flushed before each timed call: {op} {len(flushed)} of {len(done)}")
    sampled = [r for r in ok if ((r.get("state") or {}).get("gpu"))]
    lines.append(f"NVML samples under load attached: {len(sampled)} of {len(ok)} cases")
    matched = {str(((r.get("peak") or {}).get("nvml_device") or {}).get("matched_by")) for r in ok
               if (r.get("peak") or {}).get("nvml_device")}
    gpus = [d.get("name") for d in (run.environment.get("gpus") or {}).get("devices") or []]
    spec = hardware.gpus.lookup(gpus[0] if gpus else None)
    lines.append(f"GPUs (NVML): {gpus}; peak table row: {getattr(spec, 'model', None)}; "
                 f"CUDA->NVML matched by: {sorted(matched) or 'n/a'}")
    for kind, heading in (("defect", "defects"), ("opportunity", "opportunities"), ("note", "notes")):
        found = [f"{f.get('id')} ({f.get('severity')})" for f in run.findings if f.get("kind", "defect") == kind]
        lines.append(f"{heading}: {', '.join(found) or 'none'}")
    return lines


def write(run, out: Path, summary: str) -> list[Path]:
    """run.json, report.md, report.html only where plotly is installed, summary.txt."""
    from stackprof.render import render
    out.mkdir(parents=True, exist_ok=True)
    written = [run.save(out / "run.json")]
    (out / "report.md").write_text(render(run, "md"), encoding="utf-8")
    written.append(out / "report.md")
    if importlib.util.find_spec("plotly") is not None:
        (out / "report.html").write_text(render(run, "html"), encoding="utf-8")
        written.append(out / "report.html")
    else:
        summary += "\nreport.html: plotly is not installed here; render it elsewhere with\n" \
                   "  stackprof report run.json --format html -o report.html\n"
    (out / "summary.txt").write_text(Redactor(identity=True).walk(summary), encoding="utf-8")
    written.append(out / "summary.txt")
    return written


def redact_file(src: str, dst: str) -> int:
    text = Path(src).read_text(encoding="utf-8", errors="replace") if Path(src).exists() else ""
    Path(dst).write_text(Redactor(identity=True).walk(text), encoding="utf-8")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="interpreter with CUDA torch (the environment measured)")
    parser.add_argument("--out")
    parser.add_argument("--mode", default="default", choices=bench.MODES)
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--label", default="gpu-suite")
    parser.add_argument("--dry-run", action="store_true", help="plan and write the outputs from facts only")
    parser.add_argument("--redact-file", nargs=2, metavar=("SRC", "DST"))
    args = parser.parse_args(argv)
    if args.redact_file:
        return redact_file(*args.redact_file)
    if not args.python or not args.out:
        parser.error("--python and --out are required")
    signal.signal(signal.SIGTERM, _interrupt)

    started = time.perf_counter()
    target = Target(args.python)
    run = new_run(args.label, mode=args.mode, redact=True, device=args.device, dry_run=args.dry_run)
    tasks = bench.plan(run, args.mode, device=args.device)
    planned = f"{sum(len(t.args.get('cases') or []) for t in tasks)} cases in {len(tasks)} groups, about " \
              f"{estimate_s(tasks):.0f} s planned (mode {args.mode}, {args.device})"
    say(planned)
    interrupted = False
    try:
        if args.dry_run:
            from stackprof import analyze
            from stackprof.collect import collect_facts
            run_stage(run, "probe", collect_facts, target, run)
            run_stage(run, "analyze", analyze.analyze, run)
        else:
            diagnose(target, run, args.mode, progress=say, device=args.device)
    except KeyboardInterrupt:
        interrupted = True
        run.add_error("run", "gpu_suite", "interrupted by the time limit: the outputs hold what was finished",
                      kind="partial")
    run.timings["total_s"] = round(time.perf_counter() - started, 3)
    run = finalize(run, redact=True)
    summary = "\n".join([f"stackprof GPU suite ({'dry run, nothing measured' if args.dry_run else 'measured'})",
                         planned, *checks(run, args.device), "", "GEMM maxima vs references:",
                         *("  " + line for line in mamf_lines(run))]) + "\n"
    paths = write(run, Path(args.out), summary)
    print(summary)
    say("wrote " + ", ".join(str(p) for p in paths))
    if args.dry_run:
        return 0
    ok = sum(1 for r in run.benchmarks if str(r.get("device", "")).startswith("cuda") and r.get("status") == "ok")
    return 130 if interrupted else (0 if ok else 1)


if __name__ == "__main__":
    sys.exit(main())

"""Steps shared by the commands: choosing targets, creating and finalizing a Run."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from stackprof.errors import StackprofError
from stackprof.model import Run
from stackprof.redact import Redactor
from stackprof.target import Target


def targets_for(pythons: tuple[str, ...]) -> list[Target]:
    return [Target(p) for p in (pythons or (sys.executable,))]


def labels_for(targets: list[Target], labels: tuple[str, ...]) -> list[str]:
    names = list(labels)
    for target in targets[len(names):]:
        names.append(_default_label(target, names))
    return names


def _default_label(target: Target, taken: list[str]) -> str:
    parts = [p for p in re.split(r"[\\/]", target.executable) if p]
    # ".../envA/bin/python" -> "envA"; else the interpreter name
    name = parts[-3] if len(parts) >= 3 and parts[-2] in ("bin", "Scripts") else parts[-1]
    label, n = name, 2
    while label in taken:
        label, n = f"{name}-{n}", n + 1
    return label


def new_run(label: str, mode: str, redact: bool, **options) -> Run:
    return Run(label=label, options={"mode": mode, "redact": redact, **options})


def finalize(run: Run, redact: bool) -> Run:
    """Last step before anything is written or printed: secrets (always) and identity (default)."""
    clean = Redactor(identity=redact).walk(run.to_dict())
    return Run.from_dict(clean)


# ---- the run flow: probe → bench → analyze → verify → settle (assess + analyze again) → redact → write ---------------------------------

OUTPUT_FILES = {"json": "run.json", "md": "report.md", "html": "report.html"}
VERIFY_BUDGET_S = {"quick": 12.0, "default": 45.0, "full": 150.0}   # when --budget is not given
BENCH_SHARE = 0.6                                                     # of --budget, the rest verifies


def run_stage(run: Run, stage: str, step, *args, **kwargs) -> bool:
    """Run one stage; a failure becomes an errors[] entry and the flow goes on with what exists."""
    started = time.perf_counter()
    try:
        step(*args, **kwargs)
        return True
    except StackprofError as exc:
        run.add_error(stage, stage, str(exc))
    except Exception as exc:           # noqa: BLE001 - never lose the partial result to one stage
        run.add_error(stage, stage, f"{exc.__class__.__name__}: {exc}", kind="exception")
    finally:
        run.timings.setdefault(f"{stage}_s", round(time.perf_counter() - started, 3))
    return False


def diagnose(target: Target, run: Run, mode: str, budget_s: float | None = None, progress=None,
             verify_experiments: bool = True, only=None, device: str | None = None) -> Run:
    """probe + bench + analyze + verify on one target; every stage runs even if an earlier one failed."""
    from stackprof import analyze, noise, verify
    from stackprof.collect import collect_facts

    started = time.perf_counter()
    say = progress or (lambda message: None)
    say(f"probing {target.executable}")
    run_stage(run, "probe", collect_facts, target, run)
    bench_budget = budget_s * BENCH_SHARE if budget_s else None
    say(f"benchmarks ({mode})")
    floor = noise.Floor()                      # the machine's reference before the benchmarks
    run_stage(run, "bench", _benchmarks, target, run, mode, budget_s=bench_budget, only=only, device=device,
              progress=(lambda done, total, what: say(f"  {done}/{total} {what}")) if progress else None)
    run_stage(run, "noise", floor.finish, target, run)     # key cases again + the reference after
    run_stage(run, "analyze", analyze.analyze, run)
    if verify_experiments:
        spent = time.perf_counter() - started
        left = max(0.0, budget_s - spent) if budget_s else VERIFY_BUDGET_S.get(mode, VERIFY_BUDGET_S["default"])
        run_stage(run, "verify", verify.verify, target, run, left, progress=progress)
        run_stage(run, "settle", settle, run)
    run.timings["total_s"] = round(time.perf_counter() - started, 3)
    return run


def settle(run: Run, peers: list[Run] | None = None) -> None:
    """After verify: results re-measured with a confirmed fix count as best on this machine, so the
    benchmarks are assessed again and the rules re-run on those final numbers; the verdicts the
    experiments reached are carried over to the new findings."""
    from stackprof import analyze, bench, verify
    verified = list(run.findings)
    if run.benchmarks:
        bench.finish(run, peers=peers)
    analyze.analyze(run)
    run.findings = verify.carry_over(run.findings, verified)


def _benchmarks(target: Target, run: Run, mode: str, **kwargs) -> None:
    from stackprof import bench            # imported here: a broken bench module must not stop the probe stage
    bench.run_benchmarks(target, run, mode, **kwargs)


def write_outputs(run: Run, outdir: str | Path) -> dict[str, Path]:
    """Write run.json, report.md and report.html into outdir. run.json is written first and rewritten
    last, so a renderer that fails leaves the document (with the failure in errors[])."""
    from stackprof.render import render

    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StackprofError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
    paths = {"json": run.save(out / OUTPUT_FILES["json"])}
    failed = False
    for fmt in ("md", "html"):
        try:
            text = render(run, fmt)
        except Exception as exc:        # noqa: BLE001 - the other outputs still get written
            run.add_error("render", fmt, f"{exc.__class__.__name__}: {exc}", kind="exception")
            failed = True
            continue
        target = out / OUTPUT_FILES[fmt]
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        paths[fmt] = target
    if failed:
        run.save(paths["json"])
    return paths

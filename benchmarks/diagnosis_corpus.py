"""The diagnosis corpus: does `stackprof run --quick` find and prove real causes on THIS machine, and stay
quiet on healthy environments?

Each recipe (benchmarks/corpus/*.toml, one small file each) is a real environment: a venv with packages
(cached like the tests' venvs), or a system interpreter with a distribution package (apt), plus
environment variables and, optionally, a CPU quota (a cgroup made here). The script runs the real CLI
on each and prints, per recipe and in total: causes expected / found, causes proven (an A/B re-run
confirmed them, with the measured ratio), false findings on the healthy recipes (a defect of severity
low or higher), and wall time. Recipes this machine cannot run (a CPU flag it lacks, no root for apt or
a cgroup) are listed as skipped with the reason. Goal: 100% found, 100% proven where an environment
variable can be A/B-tested, 0 false findings.

    python benchmarks/diagnosis_corpus.py [--only thread-cap,aten-capability] [--keep DIR]

Recipe keys: description, packages | system_python (+ apt), env ({NAME = value}; "@4xCPUS" = four times
os.cpu_count()), cpu_quota (cores), expect (cause ids that must be found), prove (ids that must be
confirmed by experiment), healthy (true: no defect may be reported), requires_flags (/proc/cpuinfo),
min_cpus, prove_vendor (prove only on that CPU vendor: oneMKL's caps mean nothing where MKL runs its
generic path).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "corpus"
ALARM = ("critical", "high", "medium", "low")
sys.path.insert(0, str(ROOT / "tests"))


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_vendor() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("vendor_id")), None)


def skip_reason(recipe: dict, flags: set[str]) -> str | None:
    missing = [f for f in recipe.get("requires_flags", []) if f not in flags]
    if missing:
        return "this CPU lacks " + ", ".join(missing)
    if (os.cpu_count() or 1) < recipe.get("min_cpus", 1):
        return f"needs {recipe['min_cpus']} CPUs"
    if recipe.get("apt") and os.geteuid() != 0 and not shutil.which("sudo"):
        return "apt needs root"
    return None


def interpreter(name: str, recipe: dict) -> str:
    if recipe.get("system_python"):
        python = recipe["system_python"]
        if recipe.get("apt"):
            check = subprocess.run([python, "-c", "import numpy"], capture_output=True)
            if check.returncode != 0:
                prefix = [] if os.geteuid() == 0 else ["sudo"]
                subprocess.run(prefix + ["apt-get", "install", "-y", "-qq", *recipe["apt"]], check=True,
                               capture_output=True)
        return python
    from conftest import make_venv          # cached like the tests' venvs; recipes with the same packages share one
    first = recipe["packages"][0].split("=")[0].split("[")[0]
    return str(make_venv(f"corpus-{first}", recipe["packages"]))


def environment(recipe: dict) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in (recipe.get("env") or {}).items():
        env[key] = str(4 * (os.cpu_count() or 1)) if value == "@4xCPUS" else str(value)
    return env


@contextlib.contextmanager
def quota(cores: float | None):
    """A shell prefix that runs a command under the recipe's CPU quota ("" without one)."""
    if not cores:
        yield ""
        return
    from cgroup_quota import cpu_quota
    try:
        with cpu_quota(cores) as (prefix, _version):
            yield prefix
    except BaseException as exc:            # pytest's Skipped: no cgroup can be made here
        if type(exc).__name__ == "Skipped":
            raise RuntimeError(str(exc)) from None
        raise


def run_recipe(name: str, recipe: dict, out: Path) -> dict:
    python = interpreter(name, recipe)
    cmd = [sys.executable, "-m", "stackprof", "run", "--quick", "--python", python, "-o", str(out)]
    started = time.perf_counter()
    with quota(recipe.get("cpu_quota")) as prefix:
        import shlex
        proc = subprocess.run(["bash", "-c", prefix + "exec " + " ".join(map(shlex.quote, cmd))],
                              capture_output=True, text=True, env=environment(recipe), cwd=ROOT, timeout=1800)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200], "wall_s": wall}
    run = json.loads((out / "run.json").read_text())
    findings = run.get("findings") or []
    return {"wall_s": wall, "findings": findings,
            "alarms": [f for f in findings if f.get("kind", "defect") == "defect" and f.get("severity") in ALARM]}


def verdict_text(finding: dict | None) -> str:
    if finding is None:
        return "not found"
    v = finding.get("verification") or {}
    if v.get("status") == "confirmed":
        return f"confirmed {v.get('ratio', 0):.2f}×"
    if v.get("status"):
        ratio = f" {v['ratio']:.2f}×" if isinstance(v.get("ratio"), (int, float)) else ""
        return f"{v['status']}{ratio}"
    return finding.get("status") or "found"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=None, help="comma-separated recipe names")
    parser.add_argument("--keep", type=Path, default=None, help="keep each recipe's report under DIR/<recipe>")
    args = parser.parse_args()
    names = sorted(p.stem for p in CORPUS.glob("*.toml"))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    flags = cpu_flags()
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    print(f"diagnosis corpus: {len(names)} recipes on {model}, {os.cpu_count()} CPUs\n")
    totals = {"expected": 0, "found": 0, "to_prove": 0, "proven": 0, "false": 0, "run": 0, "skipped": 0}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        for name in names:
            recipe = tomllib.loads((CORPUS / f"{name}.toml").read_text())
            reason = skip_reason(recipe, flags)
            if reason:
                totals["skipped"] += 1
                rows.append((name, "skipped", reason, "", ""))
                continue
            try:
                result = run_recipe(name, recipe, base / name)
            except Exception as exc:             # noqa: BLE001 - one recipe's failure is a row, not the end
                result = {"error": f"{exc.__class__.__name__}: {exc}"[:200], "wall_s": 0.0}
            if "error" in result:
                rows.append((name, "error", result["error"], "", f"{result['wall_s']:.0f} s"))
                continue
            totals["run"] += 1
            by_id = {f["id"]: f for f in result["findings"]}
            expect, prove = recipe.get("expect", []), recipe.get("prove", [])
            if recipe.get("prove_vendor") and recipe["prove_vendor"] != cpu_vendor():
                prove = []              # the cause is real only on that vendor's CPUs: the verdict is the answer
            found = [c for c in expect if c in by_id]
            proven = [c for c in prove if (by_id.get(c, {}).get("verification") or {}).get("status") == "confirmed"]
            false = result["alarms"] if recipe.get("healthy") else []
            totals["expected"] += len(expect)
            totals["found"] += len(found)
            totals["to_prove"] += len(prove)
            totals["proven"] += len(proven)
            totals["false"] += len(false)
            causes = "; ".join(f"{c}: {verdict_text(by_id.get(c))}" for c in expect) or "—"
            falses = ", ".join(f"{f['id']} ({f['severity']})" for f in false) or ("0" if recipe.get("healthy") else "")
            rows.append((name, f"{len(found)}/{len(expect)} found, {len(proven)}/{len(prove)} proven", causes, falses,
                         f"{result['wall_s']:.0f} s"))
            print(f"  {name}: {rows[-1][1]}  [{causes}]  false: {falses or '—'}  {rows[-1][4]}", flush=True)
    print()
    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"{'recipe':<{width}}  {'result':<26}  {'causes (verdict)':<44}  {'false findings':<18}  wall")
    for name, result, causes, falses, wall in rows:
        print(f"{name:<{width}}  {result:<26}  {causes:<44}  {falses:<18}  {wall}")
    pct = lambda a, b: f"{a}/{b} ({100 * a / b:.0f}%)" if b else "—"     # noqa: E731
    print(f"\ntotal: {totals['run']} recipes run, {totals['skipped']} skipped on this machine; causes found "
          f"{pct(totals['found'], totals['expected'])}, proven {pct(totals['proven'], totals['to_prove'])}, "
          f"false findings on healthy recipes {totals['false']}")
    print("goal: 100% found, 100% proven where an environment variable can be A/B-tested, 0 false findings")


if __name__ == "__main__":
    main()

"""The Comparison document (``"schema": "stackprof.comparison/1"``): runs × runs → env diff, verdicts,
attribution. Every run is compared with the first one (the baseline). See docs/schema-comparison.md."""
from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from stackprof import __version__
from stackprof.compare.attribution import attribute
from stackprof.compare.envdiff import diff_environments, pair_entries
from stackprof.compare.text import facts_differ, side_letter
from stackprof.compare.drift import apart_threshold
from stackprof.compare.verdicts import BASES, VERDICTS, compare_benchmarks, method_text
from stackprof.errors import DocumentError
from stackprof.profile.compare import compare_profiles
from stackprof.model import Run, check_schema, read_json_document

COMPARISON_SCHEMA = "stackprof.comparison/1"


def load_runs(paths: list[str | Path]) -> list[Run]:
    """Read Run documents (run.json or report.html); one clear line for anything unusable."""
    runs = []
    for path in paths:
        data = read_json_document(path)
        if isinstance(data, dict) and str(data.get("schema", "")).startswith("stackprof.comparison/"):
            raise DocumentError(f"{path}: is a comparison, not a run; compare the run.json files it was made from")
        runs.append(Run.from_dict(data, source=str(path)))
    check_distinct(runs, [str(p) for p in paths])
    return runs


def check_distinct(runs: list[Run], names: list[str]) -> None:
    seen: dict[str, str] = {}
    for run, name in zip(runs, names):
        if run.run_id in seen:
            raise DocumentError(f"{seen[run.run_id]} and {name} are the same run (run_id {run.run_id}); "
                                "compare two different runs")
        seen[run.run_id] = name


def compare_runs(runs: list[Run]) -> dict:
    """The comparison of runs[1:] each against runs[0]."""
    if len(runs) < 2:
        raise DocumentError("a comparison needs at least two runs")
    check_distinct(runs, [f"run '{r.label}'" for r in runs])
    env_diff = diff_environments([r.environment for r in runs])
    pairs = []
    for i in range(1, len(runs)):
        names = (side_letter(0), side_letter(i))
        measured = bool(runs[0].benchmarks) and bool(runs[i].benchmarks)
        together = interleaved(runs[0], runs[i])
        basis = ("remeasured" if together and remeasured(runs[0]) else "interleaved") if together else "apart"
        threshold = apart_threshold(runs[0], runs[i], names) if measured and not together else None
        per_op = (lambda op, bench_id, a=runs[0], b=runs[i], n=names: apart_threshold(a, b, n, op, bench_id)) \
            if threshold else None
        benchmarks = compare_benchmarks(runs[0], runs[i], names, basis=basis, threshold=per_op)
        attribute(benchmarks, env_diff, runs[0], runs[i], 0, i)
        if threshold:
            for bench in benchmarks:
                if bench["verdict"] in ("faster", "slower"):
                    bench["reason"] += (f"; measured at different times: beyond the ±{bench['threshold']:.0%} "
                                        "these runs can drift")
        pairs.append({
            "a": 0, "b": i, "interleaved": together if measured else None, "basis": basis,
            "basis_text": BASES[basis], "threshold": threshold,
            "first_run_costs": first_run_costs(runs[0], runs[i]),
            "counts": {v: n for v, n in Counter(b["verdict"] for b in benchmarks).items()},
            "benchmarks": benchmarks,
            "headline": _headlines(runs[0], runs[i]),
            "what_changed": what_changed(env_diff, 0, i),
        })
    notes = []
    if not env_diff["same_hardware"]:
        notes.append("These runs come from different machines: "
                     f"{facts_differ(len(env_diff['hardware_differences']), 'hardware fact')} "
                     f"({', '.join(env_diff['hardware_differences'][:4])}…). Hardware is the first explanation "
                     "of every difference in speed below.")
    apart = [p for p in pairs if p["interleaved"] is False]
    if apart:
        which = ", ".join(f"{side_letter(p['b'])} and {side_letter(p['a'])}" for p in apart)
        notes.append(f"{which} were measured at different times, not interleaved: a change is called faster or "
                     "slower only beyond the drift the runs show (threshold per pair below); smaller changes are "
                     "'within drift'. For a controlled comparison: stackprof compare --remeasure (when both "
                     "interpreters are on this machine) or stackprof run --python A --python B.")
    schemas = {r.schema for r in runs}
    return {
        "schema": COMPARISON_SCHEMA,
        "tool": {"name": "stackprof", "version": __version__},
        "comparison_id": uuid.uuid4().hex,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "baseline": 0,
        "runs": [_run_summary(r) for r in runs],
        "same_hardware": env_diff["same_hardware"],
        "notes": notes + ([f"run schemas differ: {sorted(schemas)}"] if len(schemas) > 1 else []),
        "method": method_text(),
        "verdicts": list(VERDICTS),
        "environment_diff": env_diff,
        "pairs": pairs,
        "profile": compare_profiles(runs),        # category shares of profiled runs, or None
    }


def first_run_costs(run_a: Run, run_b: Run) -> list[dict]:
    """Cold costs compared on their own, never inside a verdict: torch.compile's compile time per case
    and whether inductor's cache had the graph (a cold and a warm cache are not the same cost)."""
    def costs(run: Run) -> dict:
        return {b["id"]: {"compile_s": (b.get("params") or {}).get("compile_s"),
                          "cache": (b.get("params") or {}).get("compile_cache")}
                for b in run.benchmarks if isinstance(b, dict) and isinstance((b.get("params") or {}).get("compile_s"),
                                                                               (int, float))}
    a, b = costs(run_a), costs(run_b)
    out = []
    for bench_id in list(a) + [i for i in b if i not in a]:
        sa, sb = a.get(bench_id), b.get(bench_id)
        ratio = sb["compile_s"] / sa["compile_s"] if sa and sb and sa["compile_s"] else None
        same_cache = sa is not None and sb is not None and sa["cache"] == sb["cache"]
        out.append({"id": bench_id, "a": sa, "b": sb, "ratio": None if ratio is None else round(ratio, 3),
                    "note": None if same_cache or not (sa and sb) else
                    f"not like for like: cache {sa['cache'] or 'unknown'} in A, {sb['cache'] or 'unknown'} in B"})
    return out


def remeasured(run: Run) -> bool:
    """A run made by `stackprof compare --remeasure` (its benchmarks re-measured interleaved)."""
    return isinstance(run.options, dict) and bool(run.options.get("remeasured_from"))


def interleaved(run_a: Run, run_b: Run) -> bool:
    """Whether two runs were measured in the same interleaved `stackprof run --python … --python …`."""
    a, b = (run.options.get("interleaved") if isinstance(run.options, dict) else None for run in (run_a, run_b))
    return isinstance(a, dict) and isinstance(b, dict) and bool(a.get("id")) and a.get("id") == b.get("id")


def check_comparison(data: dict, source: str = "comparison") -> dict:
    check_schema(data, COMPARISON_SCHEMA, source)
    return data


def _run_summary(run: Run) -> dict:
    cpu = run.fact("system.cpu", {}) or {}
    gpus = run.fact("gpus.devices", []) or []
    return {
        "label": run.label, "run_id": run.run_id, "created_utc": run.created_utc, "schema": run.schema,
        "tool": run.tool, "target": run.target, "mode": (run.options or {}).get("mode"),
        "headline": run.headline or {},
        "machine": {"cpu": cpu.get("model") if isinstance(cpu, dict) else None,
                    "logical_cpus": cpu.get("logical_cpus") if isinstance(cpu, dict) else None,
                    "gpus": [g.get("name") for g in gpus if isinstance(g, dict)]},
        "benchmarks": len(run.benchmarks), "findings": len(run.findings), "errors": len(run.errors),
    }


def _headlines(run_a: Run, run_b: Run) -> dict:
    sa, sb = (run_a.headline or {}).get("score"), (run_b.headline or {}).get("score")
    ratio = sb / sa if isinstance(sa, (int, float)) and isinstance(sb, (int, float)) and sa > 0 else None
    return {"a": sa, "b": sb, "ratio": ratio}


# Sections whose differences best say "what this comparison is about", in this order.
_CHANGE_PRIORITY = ("system", "gpus", "packages", "env_vars", "native_libs", "numpy", "torch", "python")
_KEY_PACKAGES = ("torch", "numpy", "scipy", "tensorflow", "jax", "jaxlib", "triton", "mkl", "scipy-openblas64",
                 "scipy-openblas32", "threadpoolctl")
_PER_SECTION = 2             # what-changed takes at most this many facts per section before a second pass


def what_changed(env_diff: dict, a: int, b: int, limit: int = 6) -> list[dict]:
    """A few headline differences between two runs (PTS auto-titles a comparison the same way).
    Facts that only one run has are counted per section ("torch.*: 14 facts only in B"), not listed."""
    entries = pair_entries(env_diff, a, b)
    one_sided: dict[tuple, list[dict]] = {}
    candidates = []
    for e in entries:
        if e["present"][a] and e["present"][b]:
            candidates.append((e, {"path": e["path"], "a": e["values"][a], "b": e["values"][b],
                                   "present": [True, True]}))
        else:
            one_sided.setdefault((e["section"], e["present"][b]), []).append(e)
    for (section, in_b), items in one_sided.items():
        e = items[0]
        if len(items) == 1:
            candidates.append((e, {"path": e["path"], "a": e["values"][a] if e["present"][a] else None,
                                   "b": e["values"][b] if e["present"][b] else None,
                                   "present": [e["present"][a], e["present"][b]]}))
        else:
            bundle = {"path": f"{section}.*", "count": len(items), "only_in": side_letter(b if in_b else a),
                      "a": None, "b": None, "present": [not in_b, in_b]}
            if section == "packages":        # the names are the news: "torch, sympy, … only in B"
                names = [i["path"][len("packages["):-1] for i in items if i["path"].startswith("packages[")]
                bundle["names"] = sorted(names, key=lambda n: (n not in _KEY_PACKAGES, n))
            candidates.append((e, bundle))

    def rank(item):
        e, shown = item
        sec = _CHANGE_PRIORITY.index(e["section"]) if e["section"] in _CHANGE_PRIORITY else len(_CHANGE_PRIORITY)
        return (0 if e["hardware"] else 1, 1 if _BOOKKEEPING.search(e["path"]) else 0, sec, "count" in shown)

    ranked = sorted(candidates, key=rank)
    first, rest, per_section = [], [], {}
    for e, shown in ranked:              # a few per section first, so one busy section cannot fill the list
        per_section[e["section"]] = per_section.get(e["section"], 0) + 1
        (first if per_section[e["section"]] <= _PER_SECTION else rest).append(shown)
    return (first + rest)[:limit]


# Facts that differ as a consequence of others (paths, counters): last in "what changed".
_BOOKKEEPING = re.compile(r"(executable|prefix|filepath|direct_url|path|\.count|locations.*|installers.*)$")

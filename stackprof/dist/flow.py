"""The `stackprof dist` flow (host side): launch (or take) the rank folders, merge them into one Run,
add the distributed analyses to run.dist (N-way environment diff, collectives table, stragglers,
what-if), then the usual stages: rules, verify by experiment, statistics, redaction, outputs."""
from __future__ import annotations

from pathlib import Path

from stackprof.dist import envdiff, merge as merging, outdir, stragglers, whatif
from stackprof.errors import StackprofError
from stackprof.model import Run

VERIFY_BUDGET_S = {"quick": 20.0, "default": 60.0, "full": 150.0}


def clear_previous(root: Path) -> None:
    """A job.json left by an earlier run would make the merge take the new ranks for stale ones."""
    job = root / "job.json"
    data = outdir.read_json(job)
    if isinstance(data, dict) and data.get("schema") == outdir.JOB_SCHEMA:
        job.unlink()


def build(root: Path, *, redact: bool, exits: dict | None = None, model: dict | None = None) -> Run:
    """The Run of a distributed run's folder, with run.dist complete (before rules and statistics)."""
    run, ranks = merging.merge(root, redact=redact, exits=exits)
    dist = run.dist
    dist["model"] = {**(dist.get("model") or {}), **{k: v for k, v in (model or {}).items() if v is not None}}
    entries = merging.per_rank(ranks, run.environment)
    dist["per_rank"] = merging.to_table(entries)
    dist["env_diff"] = envdiff.rank_diff({r.rank: r.environment for r in ranks},
                                         {r.rank: r.identity.get("node") for r in ranks})
    dist["stragglers"] = stragglers.analyze(ranks, entries)
    dist["relative"] = stragglers.relative(entries)
    return run


def finish(run: Run) -> None:
    """After bench statistics: the collectives table (algbw = the record's value, busbw = × factor),
    the link peaks, and the what-if (it needs the collectives' values)."""
    dist = run.dist
    rows = []
    for rec in run.benchmarks:
        if rec.get("op") not in merging.COLLECTIVE_OPS:
            continue
        params = rec.get("params") or {}
        value, factor = rec.get("value"), params.get("busbw_factor")
        rows.append({"id": rec.get("id"), "op": rec.get("op"), "bytes": (rec.get("shape") or {}).get("bytes"),
                     "ranks": params.get("ranks"), "backend": params.get("backend"), "dtype": rec.get("dtype"),
                     "status": rec.get("status"), "reason": rec.get("reason"),
                     "median_s": (rec.get("stats") or {}).get("median_s"), "algbw_gbps": value,
                     "busbw_factor": factor, "busbw_gbps": value * factor if value is not None and factor is not None
                     else None, "check_ok": (rec.get("check") or {}).get("ok"),
                     "per_rank_median_s": params.get("per_rank_median_s")})
    dist["collectives"] = rows
    dist["link_peak"] = link_peak(dist)
    nodes = dist.get("nnodes") or 1
    link_text = (f"{dist.get('backend')} between {dist.get('world_size')} ranks on {nodes} node"
                 f"{'s' if nodes != 1 else ''} ({dist.get('device_type')})")
    dist["what_if"] = whatif.estimate(dist.get("model") or {}, int(dist.get("world_size") or 1),
                                      [r for r in run.benchmarks if r.get("op") in merging.COLLECTIVE_OPS],
                                      merging.from_table(dist.get("per_rank") or {}), link_text)


def link_peak(dist: dict) -> dict:
    """The peak the collectives' bus bandwidth can be held against — only where it can be known: GPUs of
    one node without an active NVLink talk over PCIe, whose per-direction rate (the slowest rank's link,
    under load where NVML saw it) bounds busbw. NVLink/NVSwitch and networks are not tabulated: no peak."""
    if dist.get("device_type") != "cuda":
        return {"gbps": None, "text": "no peak: gloo between CPU processes goes through the kernel's TCP stack "
                "(loopback on one machine); there is no hardware link figure to compare with"}
    if (dist.get("nnodes") or 1) > 1:
        return {"gbps": None, "text": "no peak: the network between nodes is not probed (NIC model and speed "
                "unknown to this run)"}
    rows = [r for r in dist.get("ranks") or [] if isinstance(r, dict)]
    states = [r.get("gpu_state") if isinstance(r.get("gpu_state"), dict) else {} for r in rows]
    if any((s.get("nvlink_active") or 0) > 0 for s in states):
        links = sorted({s.get("nvlink_active") for s in states if s.get("nvlink_active")})
        return {"gbps": None, "text": f"no peak: NVLink is active ({'/'.join(map(str, links))} links per GPU); "
                "its per-link rate by generation is not tabulated here"}
    from stackprof.hardware.gpus import pcie_gbps
    rates = []
    for row, state in zip(rows, states):
        pcie = ((row.get("gpu") or {}).get("pcie") or {}) if isinstance(row.get("gpu"), dict) else {}
        gen, width = state.get("pcie_gen") or pcie.get("gen"), state.get("pcie_width") or pcie.get("width")
        rate = pcie_gbps(gen, width)
        if rate:
            rates.append((rate, row.get("rank"), gen, width))
    if not rates or len(rates) < len(rows):
        return {"gbps": None, "text": "no peak: the GPUs' links are not known (no NVML, no sysfs PCIe link)"}
    rate, rank, gen, width = min(rates)
    return {"gbps": rate, "text": f"PCIe gen {gen} x{width} of rank {rank} (the slowest link): {rate:g} GB/s per "
            "direction (no active NVLink: GPU-to-GPU traffic crosses PCIe)", "source": "hardware.gpus.pcie_gbps"}


def diagnose(run: Run, target, *, verify_budget_s: float | None, echo) -> None:
    """Rules, verify (when an interpreter is at hand), statistics; each stage failing is an errors[] entry."""
    from stackprof import analyze, bench, verify
    from stackprof.pipeline import run_stage

    run_stage(run, "bench", bench.finish, run)
    run_stage(run, "dist", finish, run)
    run_stage(run, "analyze", analyze.analyze, run)
    if target is not None and verify_budget_s:
        held = _hold_single_process_experiments(run)
        run_stage(run, "verify", verify.verify, target, run, verify_budget_s, progress=echo)
        _restore(run, held)
        run_stage(run, "rescore", bench.finish, run)


SINGLE_PROCESS_NOTE = ("not re-measured here: the benchmarks ran inside torchrun's ranks (torchrun sets variables "
                       "such as OMP_NUM_THREADS, and ranks shared the machine), which a single re-run cannot "
                       "reproduce; prove it with `stackprof run --python <the environment's python>`")


def _hold_single_process_experiments(run: Run) -> dict:
    """verify re-runs an experiment's records as their tasks say: a collective re-launches its ranks
    through torchrun (the rank's conditions reproduced), a per-device benchmark would run in a plain
    process — not the patient a rank was. Those experiments are held back and say why."""
    held = {}
    for finding in run.findings:
        exp = finding.get("experiment") if isinstance(finding, dict) else None
        ids = exp.get("benchmarks") if isinstance(exp, dict) else None
        if not ids:
            continue
        records = [run.benchmark(i) or {} for i in ids]
        if not all(r.get("op") in merging.COLLECTIVE_OPS for r in records):
            held[(finding.get("id"), finding.get("title"))] = exp
            finding["experiment"] = None
    return held


def _restore(run: Run, held: dict) -> None:
    for finding in run.findings:
        key = (finding.get("id"), finding.get("title"))
        if key in held:
            finding["experiment"] = held[key]
            finding.setdefault("verification", {"status": "skipped", "note": SINGLE_PROCESS_NOTE})


def outcome(run: Run) -> tuple[int, list[str]]:
    """Exit status and one line per rank that did not finish."""
    lines = []
    for row in (run.dist or {}).get("ranks") or []:
        if row.get("state") != "done":
            lines.append(f"rank {row['rank']} (node {row.get('node')}): {row.get('state')}"
                         + (f" — {row['error']}" if row.get("error") else ""))
    return (1 if lines else 0), lines


def require_folder(root: Path) -> Path:
    if not root.is_dir():
        raise StackprofError(f"{root}: no such folder")
    return root

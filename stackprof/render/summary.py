"""What every report shows, computed once from the Run: environment essentials, ranked findings with
their impact, benchmark rows. Plain strings and numbers only — each renderer escapes for its format.
Input may come from any Run document (older tools, partial runs), so every lookup is tolerant.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from stackprof import provenance
from stackprof.render import fmt

MEASURED_STATUSES = ("confirmed", "no_effect", "worse", "inconclusive")
DEMOTED_STATUSES = ("no_effect", "worse", "not_confirmed")


def get(node: object, path: str, default=None):
    """Dotted lookup that never raises: get(env, 'torch.config.build_settings.BLAS_INFO')."""
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return default if node is None else node


def _join(*parts: object, sep: str = " · ") -> str:
    return sep.join(str(p) for p in parts if p not in (None, False, "", [], {}))


# ---------------------------------------------------------------- environment essentials

def essentials(run) -> list[tuple[str, str]]:
    """The few facts a maintainer reads first, as (label, text) rows; absent sections are skipped."""
    env = run.environment if isinstance(run.environment, dict) else {}
    rows: list[tuple[str, str]] = []

    def add(label: str, text: str | None) -> None:
        if text:
            rows.append((label, text))

    system = env.get("system") if isinstance(env.get("system"), dict) else {}
    add("OS", _join(get(system, "os.distro") or get(system, "os.name"),
                    get(system, "os.kernel") and f"kernel {get(system, 'os.kernel')}", get(system, "os.arch"),
                    get(system, "container.detected") and f"container ({get(system, 'container.kind', '?')})"))
    add("CPU", _cpu_text(system))
    add("Memory", _memory_text(system))
    add("GPU", _gpu_text(env))
    add("Python", _join(get(env, "python.version"), get(env, "python.implementation"),
                        get(env, "python.env_kind"), get(env, "python.free_threaded") and "free-threaded",
                        get(env, "python.debug_build") and "debug build"))
    add("torch", _torch_text(env.get("torch")))
    add("numpy", _numpy_text(env.get("numpy")))
    for name, text in provenance.framework_lines(env):     # where each framework build came from, in words
        add(f"{name} build", text)
    for name in ("tensorflow", "jax"):
        section = env.get(name)
        if isinstance(section, dict) and section.get("installed"):
            add(name, _join(section.get("version"), section.get("backend"),
                            section.get("import_error") and "import failed"))
    add("Loaded BLAS / OpenMP", _native_text(env.get("native_libs")))
    add("Perf env vars", _env_vars_text(env.get("env_vars")))
    for section, facts in env.items():
        if isinstance(facts, dict) and facts.get("status") == "error":
            add(f"{section} (probe failed)", facts.get("error") or "error")
    return rows


def cpu_features(cpu: dict) -> str:
    """The ISA features that decide which ML kernels run, in words: "AVX-512 (BF16, VNNI) · AMX (BF16,
    INT8; tiles not granted by the OS)", "SVE 256-bit, BF16, I8MM"."""
    flags = cpu.get("flags") if isinstance(cpu.get("flags"), dict) else {}
    on = {k for k, v in flags.items() if v is True}
    parts = []
    if "avx512f" in on:
        extra = [n for f, n in (("avx512_bf16", "BF16"), ("avx512_fp16", "FP16"), ("avx512_vnni", "VNNI")) if f in on]
        parts.append("AVX-512" + (f" ({', '.join(extra)})" if extra else ""))
    elif "avx2" in on:
        parts.append("AVX2" + (" (VNNI)" if "avx_vnni" in on else "") + ("" if "fma" in on else " without FMA"))
    elif "avx" in on:
        parts.append("AVX")
    if "amx_tile" in on:
        kinds = [n for f, n in (("amx_bf16", "BF16"), ("amx_int8", "INT8"), ("amx_fp16", "FP16")) if f in on]
        amx = cpu.get("amx") if isinstance(cpu.get("amx"), dict) else {}
        state = {True: "tiles granted", False: "tiles NOT granted by the OS"}.get(amx.get("granted"))
        parts.append("AMX (" + ", ".join(kinds + ([state] if state else [])) + ")")
    if "sve" in on:
        bits = cpu.get("sve_vector_bits")
        parts.append(("SVE2" if "sve2" in on else "SVE") + (f" {bits}-bit" if bits else ""))
    elif "neon" in on:
        parts.append("NEON")
    parts += [n for f, n in (("bf16", "BF16"), ("i8mm", "I8MM"), ("sme", "SME")) if f in on]
    return " · ".join(parts)


def _cpu_text(system: dict) -> str | None:
    cpu = system.get("cpu") if isinstance(system.get("cpu"), dict) else {}
    if not cpu:
        return None
    cores = _join(_count(get(cpu, "physical_cores"), "core"), _count(get(cpu, "logical_cpus"), "thread"),
                  sep=" / ")
    quota = get(system, "cgroup.cpu_quota_cores")
    usable = get(system, "affinity.count")
    return _join(cpu.get("model"), cpu_features(cpu) or cpu.get("isa_level"), cores,
                 usable is not None and f"{usable} usable (affinity)",
                 quota is not None and f"cgroup quota {fmt.num(quota, 3)} cores",
                 cpu.get("governor") and f"governor {cpu['governor']}")


def _count(n: object, noun: str) -> str | None:
    return f"{n} {noun}{'' if n == 1 else 's'}" if fmt.is_num(n) else None


def _memory_text(system: dict) -> str | None:
    total = get(system, "memory.total_bytes")
    limit = get(system, "cgroup.memory_limit_bytes")
    return _join(fmt.is_num(total) and f"{fmt.nbytes(total)} total",
                 fmt.is_num(limit) and f"cgroup limit {fmt.nbytes(limit)}",
                 get(system, "thp.enabled") and f"THP {get(system, 'thp.enabled')}") or None


def _gpu_text(env: dict) -> str | None:
    gpus = env.get("gpus")
    if not isinstance(gpus, dict):
        return None
    devices = gpus.get("devices") if isinstance(gpus.get("devices"), list) else []
    if not gpus.get("available") or not devices:
        return f"none ({gpus.get('reason')})" if gpus.get("reason") else "none"
    names: dict[str, int] = {}
    for dev in devices:
        name = str(get(dev, "name", "?"))
        names[name] = names.get(name, 0) + 1
    return _join(", ".join(f"{n}× {name}" for name, n in names.items()),
                 gpus.get("driver_version") and f"driver {gpus['driver_version']}",
                 gpus.get("cuda_driver_version") and f"CUDA driver {gpus['cuda_driver_version']}")


def _torch_text(torch: object) -> str | None:
    if not isinstance(torch, dict) or not torch.get("installed"):
        return None
    build = get(torch, "config.build_settings", {})
    cuda = get(torch, "cuda.built_version")
    return _join(torch.get("version"), torch.get("import_error") and "import failed",
                 get(build, "BLAS_INFO") and f"BLAS {get(build, 'BLAS_INFO')}",
                 torch.get("cpu_capability") and f"CPU capability {torch['cpu_capability']}",
                 get(torch, "parallel.num_threads") and f"{get(torch, 'parallel.num_threads')} threads",
                 f"CUDA {cuda}" if cuda else "CPU build" if "cuda" in torch else None)


def _numpy_text(numpy: object) -> str | None:
    if not isinstance(numpy, dict) or not numpy.get("installed"):
        return None
    blas = _join(get(numpy, "blas.name"), get(numpy, "blas.version"), sep=" ")
    return _join(numpy.get("version"), numpy.get("import_error") and "import failed",
                 blas and f"BLAS {blas}")


def _native_text(native: object) -> str | None:
    libs = get(native, "libraries", [])
    if not isinstance(libs, list) or not libs:
        return None
    parts = []
    for lib in libs:
        if not isinstance(lib, dict):
            continue
        detail = _join(lib.get("architecture"), lib.get("threading_layer"),
                       fmt.is_num(lib.get("num_threads")) and f"{lib['num_threads']} threads", sep=", ")
        parts.append(_join(lib.get("internal_api") or lib.get("prefix"), lib.get("version"), sep=" ")
                     + (f" ({detail})" if detail else ""))
    if get(native, "multiple_openmp"):
        parts.append("⚠ several OpenMP runtimes")
    return "; ".join(parts) or None


def _env_vars_text(env_vars: object) -> str | None:
    variables = get(env_vars, "vars", {})
    if not isinstance(variables, dict):
        return None
    text = ", ".join(f"{k}={v}" for k, v in variables.items())
    dropped = get(env_vars, "dropped_secret", [])
    if dropped:
        text = _join(text, f"{len(dropped)} secret-looking value(s) not recorded", sep="; ")
    return text or "none set"


# ---------------------------------------------------------------- headline

def headline(run) -> dict | None:
    """{score_text, text, method, components} or None when the run has no headline."""
    head = run.headline if isinstance(run.headline, dict) else {}
    if not head or (head.get("score") is None and not head.get("text")):
        return None
    return {"score": head.get("score"), "score_text": fmt.fraction_pct(head.get("score")),
            "text": head.get("text") or "", "method": head.get("method") or "",
            "components": [c for c in head.get("components") or [] if isinstance(c, dict)]}


# ---------------------------------------------------------------- findings

@dataclass
class FindingView:
    """A finding prepared for display; raw dict in ``raw``."""
    raw: dict
    id: str
    kind: str                           # defect | opportunity | note (an older document's are defects)
    severity: str
    title: str
    status: str
    evidence: list[tuple[str, str]]
    impact_kind: str                    # measured | estimated | none
    impact_text: str
    measured: dict | None               # {before, after, unit, ratio, ci, p, status, note} when verified
    fix: str
    references: list[tuple[str, str | None]]
    ab: bool
    experiment_text: str
    demoted: bool
    checks: list[dict] = field(default_factory=list)   # per re-measured benchmark: id, status, text


KINDS = ("defect", "opportunity", "note")
KIND_HEADINGS = {"defect": "Findings", "opportunity": "Opportunities", "note": "Notes"}
KIND_BLURBS = {
    "defect": "install or environment choices that make this environment slower than it should be",
    "opportunity": "choices in your program or in defaults that trade something (precision, determinism, "
                   "memory, start-up) for speed — yours to take or leave",
    "note": "about the measurement itself",
}


def ranked_findings(run) -> list[FindingView]:
    """Findings in the document's order: analyze/verify rank them by impact (defects first, measured
    effects first, then severity, then the estimated ratio; see docs/schema-findings.md). One ranking."""
    return [finding_view(run, f) for f in run.findings if isinstance(f, dict)]


def findings_by_kind(run) -> dict[str, list[FindingView]]:
    """The ranked findings split into defects, opportunities and notes (each keeps the ranking), so
    an opportunity or note is never shown among, or above, the defects."""
    out: dict[str, list[FindingView]] = {kind: [] for kind in KINDS}
    for view in ranked_findings(run):
        out[view.kind].append(view)
    return out


def finding_view(run, f: dict) -> FindingView:
    verification = f.get("verification") if isinstance(f.get("verification"), dict) else None
    impact = f.get("impact") if isinstance(f.get("impact"), dict) else {}
    measured = _measured(run, f, verification)
    status = str(f.get("status") or "")
    vstatus = str(get(verification, "status", ""))
    kind, text = _impact(impact, measured)
    kind = f.get("kind") if f.get("kind") in KINDS else "defect"
    return FindingView(
        raw=f, id=str(f.get("id", "?")), kind=kind, severity=str(f.get("severity") or "info"),
        title=str(f.get("title") or f.get("id") or "finding"), status=status,
        evidence=[_evidence(e) for e in f.get("evidence") or []],
        impact_kind=kind, impact_text=text, measured=measured, fix=str(f.get("fix") or ""),
        references=[reference(r) for r in f.get("references") or []], ab=bool(f.get("ab")),
        experiment_text=_experiment_text(f.get("experiment"), verification),
        demoted=status in DEMOTED_STATUSES or vstatus in DEMOTED_STATUSES, checks=_checks(verification))


def _checks(verification: dict | None) -> list[dict]:
    """The experiment's verdict per re-measured benchmark (verification.benchmarks)."""
    out = []
    for item in get(verification, "benchmarks", []) or []:
        if not isinstance(item, dict):
            continue
        ci = item.get("ci")
        ci_ok = isinstance(ci, (list, tuple)) and len(ci) == 2 and all(map(fmt.is_num, ci))
        n = item.get("n")
        out.append({"id": str(item.get("id", "?")), "status": str(item.get("status") or ""),
                    "text": _join(fmt.ratio(item.get("ratio")) if fmt.is_num(item.get("ratio")) else None,
                                  ci_ok and f"95% CI {fmt.num(ci[0], 3)}–{fmt.num(ci[1], 3)}",
                                  fmt.is_num(item.get("p_value")) and fmt.pvalue(item["p_value"]),
                                  isinstance(n, list) and len(n) == 2 and f"n = {n[0]} / {n[1]}", sep=", ")})
    return out


def _scalar(item: object) -> float | None:
    if fmt.is_num(item):
        return float(item)
    if isinstance(item, dict):
        for key in ("value", "median", "median_value"):
            if fmt.is_num(item.get(key)):
                return float(item[key])
    return None


def _measured(run, f: dict, verification: dict | None) -> dict | None:
    if not verification or verification.get("status") not in MEASURED_STATUSES:
        return None
    unit = None
    for bench_id in get(f, "experiment.benchmarks", []) or []:
        record = run.benchmark(bench_id) if hasattr(run, "benchmark") else None
        if record and record.get("unit"):
            unit = record["unit"]
            break
    before, after = verification.get("before"), verification.get("after")
    if isinstance(before, dict) and before.get("unit"):
        unit = before["unit"]
    ci = verification.get("ci")
    return {"status": verification["status"], "before": _scalar(before), "after": _scalar(after),
            "unit": unit or "", "ratio": _scalar(verification.get("ratio")),
            "ci": ci if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(map(fmt.is_num, ci)) else None,
            "p": verification.get("p_value") if fmt.is_num(verification.get("p_value")) else None,
            "note": str(verification.get("note") or "")}


def measured_text(m: dict) -> str:
    """'130.2 → 179.7 GFLOP/s (1.38×, 95% CI 1.31–1.45, p = 0.0002)'."""
    unit = f" {m['unit']}" if m["unit"] else ""
    numbers = f"{fmt.num(m['before'])} → {fmt.num(m['after'])}{unit}"
    stats = _join(fmt.ratio(m["ratio"]) if m["ratio"] is not None else None,
                  m["ci"] and f"95% CI {fmt.num(m['ci'][0], 3)}–{fmt.num(m['ci'][1], 3)}",
                  m["p"] is not None and fmt.pvalue(m["p"]), sep=", ")
    return numbers + (f" ({stats})" if stats else "")


VERDICTS = {"confirmed": "confirmed by experiment", "no_effect": "experiment showed no effect",
            "worse": "experiment made it worse", "failed": "experiment failed", "skipped": "experiment skipped",
            "inconclusive": "experiment too noisy to decide"}


def _impact(impact: dict, measured: dict | None) -> tuple[str, str]:
    if measured:
        return "measured", f"{VERDICTS.get(measured['status'], measured['status'])}: {measured_text(measured)}"
    text = str(impact.get("text") or "")
    if not text and fmt.is_num(impact.get("ratio")):
        text = f"{fmt.ratio(impact['ratio'])}"
    if not text:
        return "none", ""
    kind = str(impact.get("kind") or "estimated")
    source = impact.get("source")
    return kind, f"{kind}: {text}" + (f" (source: {source})" if source else "")


def _evidence(item: object) -> tuple[str, str]:
    """(what, value): a fact path and its value, or a benchmark and what was measured."""
    if not isinstance(item, dict):
        return "", fmt.fact(item)
    label_key = next((k for k in ("fact", "benchmark", "measure", "name") if k in item), None)
    rest = {k: v for k, v in item.items() if k != label_key}
    parts = []
    if "value" in rest:
        value = rest.pop("value")
        unit = rest.pop("unit", None)
        parts.append((fmt.num(value) if fmt.is_num(value) else fmt.fact(value)) + (f" {unit}" if unit else ""))
    peak = rest.pop("peak", None)
    for key, label in (("pct_of_best", "of the best"), ("pct_of_peak", "of peak")):
        if fmt.is_num(rest.get(key)):
            text = f"{fmt.share(rest.pop(key))} {label}"
            if key == "pct_of_peak" and isinstance(peak, dict) and fmt.is_num(peak.get("value")):
                text += f" ({fmt.num(peak['value'])} {peak.get('unit') or ''})".rstrip(" )") + ")"
            parts.append(text)
    if fmt.is_num(rest.get("iqr_rel")):
        parts.append(f"IQR/median {fmt.share(rest.pop('iqr_rel'))}")
    parts += [f"{k} = {fmt.one_line(fmt.fact(v, k), 120)}" for k, v in rest.items()]
    return (str(item[label_key]) if label_key else ""), ", ".join(parts)


_GH_REF = re.compile(r"([A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+)#(\d+)")


def reference(ref: object) -> tuple[str, str | None]:
    """(text, url or None): URLs are kept only for http(s); 'owner/repo#123' links to GitHub."""
    if isinstance(ref, dict):
        text, url = str(ref.get("title") or ref.get("url") or ref), ref.get("url")
    else:
        text, url = str(ref), str(ref)
    if isinstance(url, str) and re.match(r"https?://[^\s\"'<>]+$", url):
        return text, url
    match = _GH_REF.fullmatch(text.strip())
    if match:
        return text, f"https://github.com/{match.group(1)}/issues/{match.group(2)}"
    return text, None


def _experiment_text(experiment: object, verification: dict | None) -> str:
    if not isinstance(experiment, dict):
        return ""
    changes = ", ".join(f"unset {k}" if v is None else f"{k}={v}"
                        for k, v in (experiment.get("env") or {}).items())
    benches = experiment.get("benchmarks") or []
    text = experiment.get("description") or _join(changes, benches and f"re-run {', '.join(map(str, benches))}",
                                                   sep="; ")
    if verification is None:
        text += " (not run)"
    elif verification.get("status") in ("failed", "skipped"):
        text += f" ({verification['status']}: {verification.get('note') or 'no reason given'})"
    return text


# ---------------------------------------------------------------- benchmarks

def benchmark_rows(run) -> list[dict]:
    rows = []
    for rec in run.benchmarks:
        if not isinstance(rec, dict):
            continue
        stats = rec.get("stats") if isinstance(rec.get("stats"), dict) else {}
        best = rec.get("best_on_machine") if isinstance(rec.get("best_on_machine"), dict) else {}
        check = rec.get("check") if isinstance(rec.get("check"), dict) else None
        rows.append({
            "id": str(rec.get("id", "?")), "op": rec.get("op"), "status": str(rec.get("status") or "?"),
            "value": rec.get("value"), "value_text": fmt.num(rec.get("value")), "unit": str(rec.get("unit") or ""),
            "direction": rec.get("direction"), "n": stats.get("n"),
            "median_s": stats.get("median_s"), "iqr_rel": stats.get("iqr_rel"),
            "iqr_text": fmt.pct(100 * stats["iqr_rel"], 2) if fmt.is_num(stats.get("iqr_rel")) else fmt.NONE,
            "noisy": bool(stats.get("noisy")),
            "pct_of_peak": rec.get("pct_of_peak"), "pct_of_best": rec.get("pct_of_best"),
            "peak_share": _peak_share(rec),
            "peak_text": _peak_text(rec.get("peak")), "best_id": best.get("id"),
            "check": None if check is None else bool(check.get("ok")),
            "reason": "; ".join(t for t in (str(rec.get("reason") or ""), state_note(rec.get("state"))) if t),
        })
    return rows


STATE_WORDS = {"throttled": "throttled by the CPU quota (sustained: part of the result)",
               "stolen": "CPU time stolen by the hypervisor", "contended": "other work held the CPUs",
               "gpu_clock_events": "GPU clock events while it ran"}


def state_note(state) -> str:
    """What the machine did while a case ran, when it makes the result suspect (machine_state.py)."""
    flags = state.get("flags") if isinstance(state, dict) and isinstance(state.get("flags"), list) else []
    return ", ".join(STATE_WORDS.get(str(f), str(f)) for f in flags)


ESTIMATE_MARK = "*"


def _peak_share(rec: dict) -> str:
    """% of peak, marked when the peak is a CPU estimate that a measured result exceeded."""
    peak = rec.get("peak") if isinstance(rec.get("peak"), dict) else {}
    text = fmt.share(rec.get("pct_of_peak"))
    return text + ESTIMATE_MARK if peak.get("estimate_too_low") and text != fmt.NONE else text


def peak_estimate_note(run) -> str | None:
    """One sentence when the CPU peak estimate proved too low on this machine, else None."""
    for rec in run.benchmarks:
        peak = rec.get("peak") if isinstance(rec, dict) and isinstance(rec.get("peak"), dict) else {}
        if peak.get("estimate_too_low"):
            over = str(peak.get("exceeded_by") or "a result")
            return (f"{ESTIMATE_MARK} % of peak against an estimated CPU peak that {over} exceeded: an input of "
                    "the estimate (usually the clock the CPU or VM reports) is lower than the real one, so "
                    "these percentages are upper bounds.")
    return None


def _peak_text(peak: object) -> str:
    if not isinstance(peak, dict) or not fmt.is_num(peak.get("value")):
        return ""
    return f"{fmt.num(peak['value'])} {peak.get('unit') or ''}".strip()


def count_by_status(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts

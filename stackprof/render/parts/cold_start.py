"""Report part: first-run costs, each its own number — never silently inside a benchmark's figure.

What a program pays once before it runs at speed: starting the interpreter and agent
(timings.agent_start_s), importing each framework (<framework>.import_s from the probes), torch.compile's
compile and whether inductor's cache had the graph (params.compile_s / compile_cache), and first calls
that cost much more than a steady call (params.first_call_s against the median: allocation, page
faults, kernel selection, autotuning). Present when the Run has any of them.
"""
from __future__ import annotations

from stackprof.render import fmt
from stackprof.render.escape import md_code, md_text

FRAMEWORKS = ("numpy", "torch", "tensorflow", "jax")
FIRST_CALL_FACTOR = 5.0       # a first call this many times a steady call is worth a line
FIRST_CALL_MIN_S = 0.05       # … and at least this long
MAX_FIRST_CALLS = 8


def rows(run) -> list[tuple[str, str, str]]:
    """(what, seconds text, where the number comes from)."""
    out = []
    start = (run.timings or {}).get("agent_start_s")
    if fmt.is_num(start):
        out.append(("interpreter + probe agent start", fmt.seconds(start), "timings.agent_start_s"))
    for name in FRAMEWORKS:
        seconds = run.fact(f"{name}.import_s")
        if fmt.is_num(seconds):
            out.append((f"import {name}", fmt.seconds(seconds), f"{name}.import_s"))
    first_calls = []
    for rec in run.benchmarks:
        if not isinstance(rec, dict) or rec.get("status") != "ok":
            continue
        params = rec.get("params") if isinstance(rec.get("params"), dict) else {}
        if fmt.is_num(params.get("compile_s")):
            cache = {"cold": "inductor compiled from scratch", "warm": "from inductor's cache"}.get(
                params.get("compile_cache"), "cache state unknown")
            out.append((f"torch.compile of {rec.get('id')}", fmt.seconds(params["compile_s"]),
                        f"params.compile_s ({cache})"))
        median = (rec.get("stats") or {}).get("median_s") if isinstance(rec.get("stats"), dict) else None
        first = params.get("first_call_s")
        if fmt.is_num(first) and fmt.is_num(median) and median > 0 and first >= FIRST_CALL_MIN_S \
                and first >= FIRST_CALL_FACTOR * median:
            first_calls.append((first, rec.get("id"), median))
    for first, rid, median in sorted(first_calls, reverse=True)[:MAX_FIRST_CALLS]:
        out.append((f"first call of {rid}", fmt.seconds(first),
                    f"params.first_call_s ({first / median:.0f}× a steady call)"))
    return out


def html(run):
    from stackprof.render.html import Section, macros
    found = rows(run)
    if not found:
        return None
    body = macros().data_table(["first-run cost", "seconds", "measured as"], [list(r) for r in found])
    return Section("cold-start", "First-run costs", body)


def figures(run) -> list:
    return []


def markdown(run) -> str | None:
    found = rows(run)
    if not found:
        return None
    lines = ["<details><summary>First-run costs (paid once, not part of any benchmark's figure)</summary>\n",
             "| first-run cost | seconds | measured as |", "|---|---|---|"]
    lines += [f"| {md_code(what, 120)} | {md_text(secs)} | {md_text(source, 120)} |" for what, secs, source in found]
    return "\n".join(lines) + "\n\n</details>\n\n"

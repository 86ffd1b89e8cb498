"""Terminal summary of a Comparison: what differs, the verdict per benchmark and its explanation."""
from __future__ import annotations

from stackprof.render.parts import profile as profile_parts
from stackprof.compare.text import basis_text
from stackprof.compare.text import (VERDICT_MARK, VERDICT_TEXT, absent_text, bundle_text, change_text,
                                    collapse_groups, counts_text, excerpts, fact_change, facts_differ,
                                    interval_text, run_name, short_path, side_letter, unmeasured_in_both,
                                    unmeasured_summary)

MAX_ENV_ROWS = 40


def render(comparison: dict) -> str:
    runs = comparison["runs"]
    lines = [f"stackprof compare — baseline {side_letter(0)} = {run_name(runs[0])}"]
    for i, run in enumerate(runs[1:], 1):
        lines.append(f"                    {side_letter(i)} = {run_name(run)}")
    for note in comparison["notes"]:
        lines.append(f"NOTE: {note}")
    lines += _environment(comparison)
    method = comparison["method"]
    lines.append("")
    lines.append(f"Benchmarks (speed change vs {side_letter(0)} with its {method['ci']['confidence']:.0%} interval; "
                 f"{method['text']})")
    for pair in comparison["pairs"]:
        lines += _pair(pair, runs)
    profile = profile_parts.comparison_terminal(comparison.get("profile"))
    if profile:
        lines += ["", profile.rstrip("\n")]
    return "\n".join(lines) + "\n"


def _environment(comparison: dict) -> list[str]:
    diff = comparison["environment_diff"]
    runs = comparison["runs"]
    letters = " | ".join(side_letter(i) for i in range(len(runs)))
    lines = ["", f"Environment: {facts_differ(diff['differing_count'])}, {diff['identical_count']} identical "
                 f"(volatile facts such as current clocks excluded); values {letters}"]
    shown = 0
    for section in diff["sections"]:
        if not section["differing"]:
            continue
        rows, bundles = collapse_groups(section["differing"])
        lines.append(f"  {section['name']} ({len(section['differing'])} differ, {section['identical']} identical)")
        for e in rows:
            if shown >= MAX_ENV_ROWS:
                break
            values = " | ".join(excerpts(e["values"], e["present"], 40, absent_text(e["path"])))
            lines.append(f"    {short_path(e['path'], section['name'])}: {values}")
            shown += 1
        for title, _ in bundles:
            lines.append(f"    … {title}")
    if shown >= MAX_ENV_ROWS:
        lines.append(f"  … (first {MAX_ENV_ROWS} rows; the full diff is in comparison.md/.html/.json)")
    return lines


def _pair(pair: dict, runs: list[dict]) -> list[str]:
    a, b = pair["a"], pair["b"]
    lines = ["", f"  {side_letter(b)} vs {side_letter(a)}: {counts_text(pair['counts'])}",
             f"    verdicts from {basis_text(pair)}"]
    changed = [f"{c['path']} ({bundle_text(c)})" if c.get("count") else fact_change(c)
               for c in pair["what_changed"]]
    if changed:
        lines.append("    what changed: " + "; ".join(changed))
    head = pair["headline"]
    if head.get("ratio") is not None:
        lines.append(f"    headline score {head['a']:.2f} → {head['b']:.2f}")
    idle = [b for b in pair["benchmarks"] if unmeasured_in_both(b)]
    for bench in pair["benchmarks"]:
        if bench in idle:
            continue
        verdict = bench["verdict"]
        speed = change_text(bench["speedup"])
        ci = interval_text(bench["speedup_ci"])
        lines.append(f"    {VERDICT_MARK[verdict]} {VERDICT_TEXT[verdict]:<14} {speed:>8} {ci:<20} {bench['id']}")
        if verdict not in ("faster", "slower", "same"):
            lines.append(f"        {bench['reason']}")
        attribution = bench.get("attribution")
        if attribution:
            lines.append(f"        why: {attribution['text']}")
            for fact in attribution["facts"][:4]:
                lines.append(f"          {fact_change(fact)}")
            for finding in attribution["findings"][:3]:
                lines.append(f"          finding {finding['id']} only in {finding['only_in']}: {finding['title']}")
    if idle:
        lines.append(f"    - {unmeasured_summary(idle)}")
    return lines

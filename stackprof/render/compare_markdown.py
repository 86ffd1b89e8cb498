"""Markdown of a Comparison (GitHub-flavoured, to paste into an issue): runs, what changed,
verdict per benchmark with its explanation, the environment diff. Every value from a run goes
through escape.md_code / md_text, so nothing in it is interpreted as markup, a link or a mention."""
from __future__ import annotations

from stackprof.render.parts import profile as profile_parts
from stackprof.compare.text import basis_text
from stackprof.compare.text import (VERDICT_MARK, VERDICT_TEXT, absent_text, bundle_text, change_text,
                                    collapse_groups, counts_text, excerpts, facts_differ, interval_text,
                                    short_path, side_letter, unmeasured_in_both, unmeasured_summary,
                                    value_text)
from stackprof.render.escape import md_code, md_text

MAX_BENCH_ROWS = 200
LIMIT = 65_536              # GitHub's limit for an issue body or comment (UTF-16 code units)
COMPACT_ENV_ROWS = 8        # per section, when the full comparison does not fit


def render(comparison: dict) -> str:
    """The full comparison; if it would not fit in a GitHub comment, a compact one (environment
    tables cut, "same" benchmarks counted, not listed); as a last resort, cut with a note."""
    text = _render(comparison, compact=False)
    if _size(text) <= LIMIT:
        return text
    text = _render(comparison, compact=True)
    if _size(text) <= LIMIT:
        return text
    note = "\n\n(cut here to fit a GitHub comment; the complete comparison is in comparison.html and .json)\n"
    while _size(text) + _size(note) > LIMIT:
        text = text[: max(len(text) - max(_size(text) + _size(note) - LIMIT, 256), 0)]
        text = text[: text.rfind("\n")] if "\n" in text else text
    return text + note


def _size(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _render(comparison: dict, compact: bool) -> str:
    runs = comparison["runs"]
    out = [f"# stackprof comparison: {' vs '.join(md_text(r['label']) for r in runs)}", ""]
    for note in comparison["notes"]:
        out += [f"> **Note:** {md_text(note)}", ""]
    out += _runs(runs)
    for pair in comparison["pairs"]:
        out += _what_changed(pair, runs)
    out += _benchmarks(comparison, compact)
    profile = profile_parts.comparison_markdown(comparison.get("profile"))
    if profile:
        out += [profile, ""]
    out += _environment(comparison, compact)
    out.append(f"<sub>stackprof {md_text(comparison['tool']['version'])} · comparison "
               f"{md_code(comparison['comparison_id'][:8], table=False)} · {md_text(comparison['created_utc'])}</sub>")
    return "\n".join(out) + "\n"


def _runs(runs: list[dict]) -> list[str]:
    out = ["| | label | run | created (UTC) | Python | mode | headline |", "|---|---|---|---|---|---|---|"]
    for i, r in enumerate(runs):
        head = (r.get("headline") or {}).get("score")
        out.append(f"| **{side_letter(i)}**{' (baseline)' if i == 0 else ''} | {md_code(r['label'])} "
                   f"| {md_code(str(r['run_id'])[:8])} | {md_text(r.get('created_utc') or '')} "
                   f"| {md_code((r.get('target') or {}).get('version') or '?')} | {md_text(r.get('mode') or '—')} "
                   f"| {f'{head:.0%}' if isinstance(head, (int, float)) else '—'} |")
    return out + [""]


def _what_changed(pair: dict, runs: list[dict]) -> list[str]:
    a, b = pair["a"], pair["b"]
    out = [f"## {side_letter(b)} vs {side_letter(a)}: {md_text(counts_text(pair['counts']))}", ""]
    if pair["what_changed"]:
        out.append("What changed: " + "; ".join(_change(c) for c in pair["what_changed"]))
    else:
        out.append("What changed: no environment fact differs.")
    return out + [""]


def _change(c: dict) -> str:
    if c.get("count"):
        return f"{md_code(c['path'], table=False)} {md_text(bundle_text(c))}"
    return (f"{md_code(c['path'], table=False)} {_val(c['a'], c['present'][0], c['path'], False)} → "
            f"{_val(c['b'], c['present'][1], c['path'], False)}")


def _cost(side: dict | None) -> str:
    if not side:
        return "—"
    return f"{side['compile_s']:.2f} s" + (f" ({side['cache']} cache)" if side.get("cache") else "")


def _benchmarks(comparison: dict, compact: bool = False) -> list[str]:
    method = comparison["method"]
    runs = comparison["runs"]
    out = ["## Benchmarks", "",
           f"Change = speed of the later run relative to {side_letter(0)} (median per-call time), with its "
           f"{method['ci']['confidence']:.0%} bootstrap interval. {md_text(method['text'])}", ""]
    for pair in comparison["pairs"]:
        a, b = pair["a"], pair["b"]
        la, lb = side_letter(a), side_letter(b)
        out += [f"### {lb} ({md_text(runs[b]['label'])}) vs {la} ({md_text(runs[a]['label'])})", "",
                f"_Verdicts from {md_text(basis_text(pair), 400)}._", ""]
        if not pair["benchmarks"]:
            out += ["No benchmarks in either run.", ""]
            continue
        idle = [b for b in pair["benchmarks"] if unmeasured_in_both(b)]
        rows = [b for b in pair["benchmarks"] if b not in idle]
        if compact:
            same = [b for b in rows if b["verdict"] == "same"]
            rows = [b for b in rows if b["verdict"] != "same"]
            if same:
                out += [f"{len(same)} benchmarks are the same within ±{comparison['method']['min_effect']:.0%} "
                        "(listed in comparison.html).", ""]
        header = [f"| verdict | benchmark | {la} | {lb} | change | interval | p | why |",
                  "|---|---|---:|---:|---:|---|---:|---|"]
        if rows:
            out += header + [_bench_row(b) for b in rows[:MAX_BENCH_ROWS]]
            if len(rows) > MAX_BENCH_ROWS:
                out.append(f"\n({len(rows) - MAX_BENCH_ROWS} more in comparison.json)")
            out.append("")
        costs = pair.get("first_run_costs") or []
        if costs:
            out += ["First-run costs (not part of any verdict): " + "; ".join(
                f"{md_code(c['id'], 80)} compile {_cost(c['a'])} → {_cost(c['b'])}" + (f" ({md_text(c['note'])})" if c["note"] else "")
                for c in costs), ""]
        if idle and compact:
            out += [md_text(unmeasured_summary(idle)), ""]
        elif idle:
            out += [f"<details><summary>{md_text(unmeasured_summary(idle))}</summary>", ""]
            out += header + [_bench_row(b) for b in idle[:MAX_BENCH_ROWS]] + ["", "</details>", ""]
        out += _explanations(pair)
    return out


def _bench_row(bench: dict) -> str:
    verdict = bench["verdict"]
    p = bench.get("p_value")
    why = bench["attribution"]["text"] if bench.get("attribution") else bench.get("reason") or ""
    return (f"| {VERDICT_MARK[verdict]} {VERDICT_TEXT[verdict]} | {md_code(bench['id'])} "
            f"| {_quantity(bench['a'], bench.get('unit'))} | {_quantity(bench['b'], bench.get('unit'))} "
            f"| {change_text(bench.get('speedup'))} | {interval_text(bench.get('speedup_ci'))} "
            f"| {'' if p is None else f'{p:.2g}'} | {md_text(why, 300)} |")


def _explanations(pair: dict) -> list[str]:
    significant = [b for b in pair["benchmarks"] if b.get("attribution")]
    if not significant:
        return []
    out = ["Explanations:", ""]
    for bench in significant:
        att = bench["attribution"]
        out.append(f"- {md_code(bench['id'], table=False)} {VERDICT_TEXT[bench['verdict']]} "
                   f"{change_text(bench['speedup'])}: {md_text(att['text'])}")
        for fact in att["facts"]:
            va = _val(fact["a"], fact["present"][0], fact["path"], False)
            vb = _val(fact["b"], fact["present"][1], fact["path"], False)
            out.append(f"  - {md_code(fact['path'], table=False)} {va} → {vb} ({md_text(fact['why'])})")
        for finding in att["findings"]:
            out.append(f"  - finding {md_code(finding['id'], table=False)} only in {finding['only_in']}: "
                       f"{md_text(finding.get('title') or '')}")
    return out + [""]


def _environment(comparison: dict, compact: bool = False) -> list[str]:
    diff = comparison["environment_diff"]
    runs = comparison["runs"]
    letters = [side_letter(i) for i in range(len(runs))]
    out = ["## Environment differences", "",
           f"{facts_differ(diff['differing_count'])}, {diff['identical_count']} are identical and hidden. Volatile "
           "facts (current clocks, temperatures, available memory, timings) are excluded.", ""]
    if not diff["differing_count"]:
        return out + ["The environments are identical in every recorded fact.", ""]
    for section in diff["sections"]:
        if not section["differing"]:
            continue
        rows, bundles = collapse_groups(section["differing"])
        out += [f"### {md_text(section['name'])} ({len(section['differing'])} differ, "
                f"{section['identical']} identical)", ""]
        if compact:
            left = len(section["differing"]) - min(len(rows), COMPACT_ENV_ROWS)
            out += _env_table(rows[:COMPACT_ENV_ROWS], section["name"], letters)
            out += [f"({left} more in comparison.html)", ""] if left else []
            continue
        out += _env_table(rows, section["name"], letters)
        for title, items in bundles:
            out += [f"<details><summary>{md_text(title)}</summary>", ""]
            out += _env_table(items, section["name"], letters)
            out += ["</details>", ""]
    return out


def _env_table(entries: list[dict], section: str, letters: list[str]) -> list[str]:
    if not entries:
        return []
    out = ["| fact | " + " | ".join(letters) + " |", "|---|" + "---|" * len(letters)]
    for e in entries:
        texts = excerpts(e["values"], e["present"], 120, absent_text(e["path"]))
        cells = " | ".join(md_code(t, limit=None) if p else f"*{md_text(t)}*" for t, p in zip(texts, e["present"]))
        out.append(f"| {md_code(short_path(e['path'], section))} | {cells} |")
    return out + [""]


def _val(value, present: bool, path: str, table: bool = True) -> str:
    if not present:
        return f"*{md_text(absent_text(path))}*"
    return md_code(value_text(value, limit=None), limit=120, table=table)


def _quantity(side: dict | None, unit: str | None) -> str:
    if not side:
        return "—"
    if side.get("status") != "ok":
        return md_text(side.get("status") or "?")
    value = side.get("value")
    if isinstance(value, (int, float)):
        return f"{value:.4g} {md_text(unit or '')}".strip()
    median = side.get("median_s")
    return f"{median * 1e3:.4g} ms" if isinstance(median, (int, float)) else "—"

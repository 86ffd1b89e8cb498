"""Terminal summary: environment essentials, top findings, benchmark table, errors. Colours only
when writing to a terminal (``color=None`` asks stdout; NO_COLOR turns them off). Every string from
the Run has its control characters made visible, so no value can move the cursor or recolour text."""
from __future__ import annotations

import os
import sys
import textwrap

from stackprof.render import fmt, parts, summary
from stackprof.render.escape import one_line

TOP_FINDINGS = 5
MAX_BENCH_ROWS = 30
WIDTH = 110
SEVERITY_COLOR = {"critical": "red", "high": "red", "medium": "yellow", "low": "cyan", "info": "bright_black"}
STATUS_COLOR = {"ok": "green", "skipped": "bright_black", "failed": "red"}


def render(run, color: bool | None = None) -> str:
    if color is None:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")

    def style(text: str, **kw) -> str:
        if not color:
            return text
        import click
        return click.style(text, **kw)

    def clean(text: object, limit: int = WIDTH) -> str:
        return one_line(text, limit)

    out: list[str] = []
    mode = (run.options or {}).get("mode")
    out.append(style(f"stackprof — {clean(run.label, 60)}", bold=True)
               + (f"  ({clean(mode, 20)}, {clean(run.created_utc, 30)})" if mode else ""))
    head = summary.headline(run)
    if head:
        out.append(style("Headline: ", bold=True) + style(clean(head["score_text"]), bold=True, fg="blue")
                   + f"  {clean(head['text'], WIDTH)}")
        if head["method"]:
            out.append(style(f"  how: {clean(head['method'], WIDTH)}", dim=True))
    out.append("")

    essentials = summary.essentials(run)
    if essentials:
        out.append(style("Environment", bold=True))
        width = min(max(len(label) for label, _ in essentials), 24)
        for label, text in essentials:
            out.append(f"  {clean(label, 24):<{width}}  {clean(text, WIDTH - width)}")
        out.append("")

    by_kind = summary.findings_by_kind(run)
    findings = by_kind["defect"]
    if findings:
        shown = findings[:TOP_FINDINGS]
        extra = f"; top {len(shown)}" if len(shown) < len(findings) else ""
        out.append(style(f"Findings ({len(findings)}, ranked by impact{extra})", bold=True))
        out += _finding_lines(shown, style, clean)
        out.append("")
    elif run.benchmarks or any(by_kind.values()):
        out.append(style("Findings", bold=True) + ": none (no install or environment choice found that slows "
                   "this environment)")
        out.append("")
    for kind in ("opportunity", "note"):           # their own sections, after the defects
        views = by_kind[kind]
        if views:
            out.append(style(f"{summary.KIND_HEADINGS[kind]} ({len(views)})", bold=True)
                       + style(f" — {summary.KIND_BLURBS[kind]}", dim=True))
            out += _finding_lines(views[:TOP_FINDINGS], style, clean)
            if len(views) > TOP_FINDINGS:
                out.append(style(f"  … {len(views) - TOP_FINDINGS} more in report.html / run.json", dim=True))
            out.append("")

    rows = summary.benchmark_rows(run)
    if rows:
        out += _bench_table(rows, style, clean)
        note = summary.peak_estimate_note(run)
        if note:
            out += _wrapped("", clean(note, 400), lambda s: style(s, dim=True))
        out.append("")

    for part in parts.modules():               # optional sections that have a terminal form (profile, ranks…)
        text = part.terminal(run) if hasattr(part, "terminal") else ""
        if text:
            out += [text.rstrip("\n"), ""]

    if run.errors:
        out.append(style(f"Errors ({len(run.errors)})", bold=True, fg="red"))
        for err in run.errors:
            if isinstance(err, dict):
                out.append(f"  {clean(err.get('stage'), 12)} {clean(err.get('source'), 30)}: "
                           f"{clean(err.get('message'), WIDTH)}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _finding_lines(views, style, clean) -> list[str]:
    out: list[str] = []
    for index, view in enumerate(views, 1):
        sev = style(f"[{clean(view.severity, 10).upper()}]", fg=SEVERITY_COLOR.get(view.severity), bold=True)
        status = f"  ({clean(view.status.replace('_', ' '), 20)})" if view.status else ""
        head = f"  {index}. [{clean(view.severity, 10).upper()}] {clean(view.id, 12)} "
        title = textwrap.wrap(clean(view.title, 300) + status, WIDTH - len(head), max_lines=3, placeholder=" …")
        out.append(f"  {index}. {sev} {clean(view.id, 12)} {title[0] if title else ''}")
        out += [" " * 5 + line for line in title[1:]]
        if view.measured:
            text = summary.measured_text(view.measured)
            verdict = summary.VERDICTS.get(view.measured["status"], view.measured["status"])
            out.append(f"     measured: {style(clean(text, WIDTH), bold=True)} — {verdict}")
        elif view.impact_text:
            out += _wrapped("impact: ", clean(view.impact_text, 400), lambda s: s)
        if view.fix:
            out += _wrapped("fix: ", clean(view.fix, 400), lambda s: style(s, fg="green"))
    return out


def _wrapped(label: str, text: str, paint, lines: int = 3) -> list[str]:
    """``label`` + text wrapped under the finding, at most ``lines`` lines."""
    indent = " " * 5
    parts = textwrap.wrap(text, WIDTH - len(indent) - len(label), max_lines=lines, placeholder=" …")
    return [indent + (label if i == 0 else " " * len(label)) + paint(part) for i, part in enumerate(parts)]


def _bench_table(rows: list[dict], style, clean) -> list[str]:
    counts = summary.count_by_status(rows)
    out = [style("Benchmarks", bold=True) + " (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")"]
    ok = [r for r in rows if r["status"] == "ok"]
    other = [r for r in rows if r["status"] != "ok"]
    if ok:
        id_width = min(max(len(r["id"]) for r in ok), 48)
        out.append(style(f"  {'benchmark':<{id_width}} {'median':>10} {'unit':<8} {'IQR':>7} "
                         f"{'%peak':>7} {'%best':>7}", dim=True))
        for r in ok[:MAX_BENCH_ROWS]:
            iqr = r["iqr_text"] + ("!" if r["noisy"] else " ")
            out.append(f"  {clean(r['id'], id_width):<{id_width}} {r['value_text']:>10} {clean(r['unit'], 8):<8} "
                       f"{iqr:>8}{r['peak_share']:>7} {fmt.share(r['pct_of_best']):>7}")
        if len(ok) > MAX_BENCH_ROWS:
            out.append(style(f"  … {len(ok) - MAX_BENCH_ROWS} more in report.html / run.json", dim=True))
        if any(r["noisy"] for r in ok[:MAX_BENCH_ROWS]):
            out.append(style("  ! noisy: IQR/median above 10%, result unreliable", dim=True))
    for r in (r for r in other if r["status"] != "skipped"):
        out.append("  " + style(f"{r['status']}:", fg=STATUS_COLOR.get(r["status"]))
                   + f" {clean(r['id'], 60)} — {clean(r['reason'] or 'no reason given', WIDTH - 40)}")
    by_reason: dict[str, list[str]] = {}
    for r in (r for r in other if r["status"] == "skipped"):
        by_reason.setdefault(r["reason"] or "no reason given", []).append(r["id"])
    for reason, ids in by_reason.items():
        names = ", ".join(ids[:2]) + (f" and {len(ids) - 2} more" if len(ids) > 2 else "")
        out.append("  " + style(f"skipped ({len(ids)}):", fg=STATUS_COLOR["skipped"])
                   + f" {clean(reason, 70)} — {clean(names, WIDTH - 20)}")
    return out

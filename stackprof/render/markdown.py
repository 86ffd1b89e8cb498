"""Markdown for a GitHub issue or comment: a short table on top, top findings, headline numbers, the
rest in <details> blocks. Always under GitHub's 65,536-character limit: details that do not fit are
cut with a note. Environment values are code spans, prose is backslash-escaped (escape.py)."""
from __future__ import annotations

from dataclasses import dataclass

from stackprof.render import envtables, fmt, parts, summary
from stackprof.render.escape import md_code, md_html, md_text

LIMIT = 65_536            # GitHub's limit for an issue body or comment
BUDGET = LIMIT - 1_500    # room for the truncation notes and the footer
TOP_FINDINGS = 5
TOP_BENCHMARKS = 12
SEVERITY_MARK = {"critical": "‼ critical", "high": "high", "medium": "medium", "low": "low", "info": "info"}


def size(text: str) -> int:
    """Length as GitHub counts it, conservatively (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Block:
    """A <details> block whose rows may be cut; ``note`` is formatted with the number cut."""
    head: str
    rows: list[str]
    tail: str
    name: str
    note: str

    @property
    def full_size(self) -> int:
        return size(self.head) + sum(size(r) for r in self.rows) + size(self.tail)

    def fitted(self, room: int) -> str | None:
        if self.full_size <= room:
            return self.head + "".join(self.rows) + self.tail
        room -= size(self.head) + size(self.tail) + size(self.note) + 12
        kept, used = [], 0
        for row in self.rows:
            if used + size(row) > room:
                break
            kept.append(row)
            used += size(row)
        if not kept and self.rows:
            return None
        cut = len(self.rows) - len(kept)
        return self.head + "".join(kept) + (self.note.format(n=cut) if cut else "") + self.tail


class _Doc:
    """The top parts in order, then the detail blocks sharing what is left of the budget fairly
    (each gets an equal share; what small blocks do not use goes to the large ones)."""

    def __init__(self, budget: int) -> None:
        self.parts: list[str] = []
        self.blocks: list[_Block] = []
        self.budget = budget
        self.left_out: list[str] = []

    @property
    def used(self) -> int:
        return sum(size(p) for p in self.parts)

    def add(self, text: str, name: str = "") -> None:
        if self.used + size(text) > self.budget:
            self.left_out.append(name or "a section")
        else:
            self.parts.append(text)

    def details(self, head: str, rows: list[str], tail: str, name: str, note: str) -> None:
        self.blocks.append(_Block(head, rows, tail, name, note))

    def finish(self) -> str:
        shares = _water_fill([b.full_size for b in self.blocks], self.budget - self.used)
        for block, share in zip(self.blocks, shares):
            text = block.fitted(share)
            if text is None:
                self.left_out.append(block.name)
            else:
                self.parts.append(text)
        return "".join(self.parts)


def _water_fill(sizes: list[int], room: int) -> list[int]:
    shares, left, open_ = [0] * len(sizes), max(room, 0), set(range(len(sizes)))
    while open_:
        share = left // len(open_)
        small = [i for i in open_ if sizes[i] <= share]
        if not small:
            for i in open_:
                shares[i] = share
            break
        for i in small:
            shares[i] = sizes[i]
            left -= sizes[i]
            open_.discard(i)
    return shares


def _table(header: list[str]) -> str:
    return "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |\n"


def render(run, budget: int = BUDGET) -> str:
    doc = _Doc(budget)
    doc.add(f"## stackprof report: {md_code(run.label, 80, table=False)}\n\n")
    doc.add(_summary_table(run))
    by_kind = summary.findings_by_kind(run)
    findings = by_kind["defect"]
    doc.add(_findings_head(findings, by_kind))
    for index, view in enumerate(findings[:TOP_FINDINGS], 1):
        doc.add(_finding(run, index, view), f"finding {view.id}")
    bench_rows = summary.benchmark_rows(run)
    doc.add(_headline_numbers(run, bench_rows), "headline numbers")
    if len(findings) > TOP_FINDINGS:
        more = findings[TOP_FINDINGS:]
        doc.details(f"<details><summary>{len(more)} more findings</summary>\n\n",
                     [_finding(run, i, v) for i, v in enumerate(more, TOP_FINDINGS + 1)], "</details>\n\n",
                     "more findings", "\n_{n} more findings cut to fit a GitHub comment; see report.html._\n")
    for kind in ("opportunity", "note"):          # their own sections: never among or above the defects
        views = by_kind[kind]
        if views:
            heading = summary.KIND_HEADINGS[kind]
            doc.details(f"<details><summary>{heading} ({len(views)}): {md_html(summary.KIND_BLURBS[kind])}"
                        "</summary>\n\n", [_finding(run, i, v) for i, v in enumerate(views, 1)], "</details>\n\n",
                        heading.lower(), "\n_{n} more cut to fit a GitHub comment; see report.html._\n")
    if bench_rows:
        doc.details(f"<details><summary>All benchmarks ({len(bench_rows)})</summary>\n\n"
                     + _table(["benchmark", "status", "median", "unit", "IQR/median", "n", "% of peak",
                               "% of best", "note"]),
                     [_bench_row(b) for b in bench_rows], "\n</details>\n\n", "benchmark table",
                     "\n_{n} more benchmarks cut to fit a GitHub comment; see report.html or run.json._\n")
    for part in parts.modules():               # optional sections (profile, ranks…)
        block = part.markdown(run)
        if block:
            doc.add(block, part.__name__.rsplit(".", 1)[-1])
    for view in envtables.section_views(run.environment):
        _environment_section(doc, view)
    if run.errors:
        doc.details(f"<details><summary>Errors ({len(run.errors)})</summary>\n\n"
                     + _table(["stage", "source", "kind", "message"]),
                     [_row([md_code(e.get(k), 300) for k in ("stage", "source", "kind", "message")])
                      for e in run.errors if isinstance(e, dict)], "\n</details>\n\n", "errors",
                     "\n_{n} more errors cut to fit; see run.json._\n")
    body = doc.finish()
    footer = ""
    if doc.left_out:
        footer += (f"_Cut to fit a GitHub comment: {md_text(', '.join(doc.left_out), 400)}. "
                   "The attached report.html / run.json have everything._\n\n")
    footer += (f"<sub>stackprof {md_text((run.tool or {}).get('version', '?'))} · run "
               f"{md_code(run.run_id, 40, table=False)} · {md_text(run.created_utc)}</sub>\n")
    return body + footer


def _summary_table(run) -> str:
    out = _table(["", ""])
    head = summary.headline(run)
    if head:
        out += _row(["**Headline**", f"**{md_text(head['score_text'])}** {md_text(head['text'], 300)}"])
    else:
        out += _row(["**Headline**", "no benchmarks in this run"])
    for label, text in summary.essentials(run):
        out += _row([f"**{md_text(label)}**", md_text(text, 400)])
    counts = summary.count_by_status(summary.benchmark_rows(run))
    if counts:
        out += _row(["**Benchmarks**", md_text(", ".join(f"{n} {s}" for s, n in counts.items()))])
    if run.errors:
        out += _row(["**Errors**", f"{len(run.errors)} (see below)"])
    if head and head["method"]:
        out += f"\n<sub>Headline: {md_text(head['method'], 400)}.</sub>\n"
    return out + "\n"


def _findings_head(findings: list, by_kind: dict) -> str:
    others = ", ".join(f"{len(by_kind[k])} {k if len(by_kind[k]) == 1 else summary.KIND_HEADINGS[k].lower()}"
                       for k in ("opportunity", "note") if by_kind[k])
    below = f"\n\n_Also {others}, in their own sections below._" if others else ""
    if not findings:
        return "### Findings\n\nNo findings: no install or environment choice found that slows this environment." \
            + below + "\n\n"
    shown = min(len(findings), TOP_FINDINGS)
    return (f"### Findings ({len(findings)}, ranked by impact{'' if shown == len(findings) else f'; top {shown}'})"
            + below + "\n\n")


def _finding(run, index: int, view) -> str:
    status = f" — _{md_text(view.status.replace('_', ' '))}_" if view.status else ""
    ab = " — _cuts both ways: measure both_" if view.ab else ""
    lines = [f"{index}. **{md_text(SEVERITY_MARK.get(view.severity, view.severity))} · {md_text(view.id, 40)}: "
             f"{md_text(view.title, 300)}**{status}{ab}"]
    if view.measured:
        m = view.measured
        lines.append(f"   - **Measured:** {md_text(summary.measured_text(m), 300)} — "
                     f"**{md_text(summary.VERDICTS.get(m['status'], m['status']))}**")
    elif view.impact_text:
        lines.append(f"   - **Impact:** {md_text(view.impact_text, 400)}")
    if view.evidence:
        items = "; ".join((f"{md_code(label, 120, table=False)} = " if label else "")
                          + md_code(value, 160, table=False) for label, value in view.evidence[:6])
        more = f" (+{len(view.evidence) - 6} more)" if len(view.evidence) > 6 else ""
        lines.append(f"   - Evidence: {items}{more}")
    if view.fix:
        lines.append(f"   - **Fix:** {md_code(view.fix, 400, table=False)}")
    if view.experiment_text and not view.measured:
        lines.append(f"   - Experiment: {md_text(view.experiment_text, 300)}")
    if view.references:
        refs = ", ".join(f"[{md_text(text, 100)}](<{url}>)" if url else md_text(text, 100)
                         for text, url in view.references[:5])
        lines.append(f"   - References: {refs}")
    return "\n".join(lines) + "\n\n"


def _headline_numbers(run, rows: list[dict]) -> str:
    """The key benchmarks: the headline's components if any, else the first successful ones."""
    if not rows:
        return ""
    component_ids = [c.get("id") for c in (summary.headline(run) or {}).get("components", [])]
    by_id = {r["id"]: r for r in rows}
    picked = [by_id[i] for i in component_ids if i in by_id]
    if not picked:
        picked = [r for r in rows if r["status"] == "ok"][:TOP_BENCHMARKS]
    if not picked:
        return ""
    out = "### Headline numbers\n\n" + _table(["benchmark", "median", "IQR/median", "% of peak", "% of best"])
    for r in picked[:TOP_BENCHMARKS]:
        out += _row([md_code(r["id"], 100), f"{md_text(r['value_text'])} {md_text(r['unit'])}",
                     md_text(r["iqr_text"]) + (" ⚠ noisy" if r["noisy"] else ""),
                     md_text(r["peak_share"]), md_text(fmt.share(r["pct_of_best"]))])
    note = summary.peak_estimate_note(run)
    return out + (f"\n{md_text(note, 400)}\n" if note else "") + "\n"


def _bench_row(b: dict) -> str:
    return _row([md_code(b["id"], 100), md_text(b["status"]), md_text(b["value_text"]), md_text(b["unit"]),
                 md_text(b["iqr_text"]), md_text(b["n"] if b["n"] else fmt.NONE), md_text(b["peak_share"]),
                 md_text(fmt.share(b["pct_of_best"])), md_text(b["reason"], 200)])


def _environment_section(doc: _Doc, view: envtables.SectionView) -> None:
    status = "" if view.status == "ok" else f" ({md_html(view.status)})"
    head = f"<details><summary>Environment: {md_html(view.name, 60)}{status}</summary>\n\n"
    rows = []
    if view.facts:
        rows.append(_table(["fact", "value"]))
        rows += [_row([md_code(k, 120), md_code(v, 300)]) for k, v in view.facts]
    for table in view.tables:
        rows.append(f"\n**{md_code(table.key, 80, table=False)}** ({len(table.rows)})\n\n" + _table(
            [md_text(c, 40) for c in table.columns]))
        rows += [_row([md_code(cell, 120) if cell else "" for cell in row]) for row in table.rows]
    for key, text in view.texts:
        rows.append(f"\n**{md_code(key, 80, table=False)}**: {md_code(text, 2000, table=False)}\n")
    doc.details(head, rows, "\n</details>\n\n", f"environment section {view.name}",
                 "\n_{n} more rows cut to fit a GitHub comment; see report.html or run.json._\n")

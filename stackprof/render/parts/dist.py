"""Report part: a distributed run (run.dist). Present only when the Run has one.

HTML: the job summary, ranks and nodes, the N-way environment diff, the per-rank heat map (rank ×
benchmark, relative to the median rank: an HTML table with computed cell colours — the inlined
plotly-basic bundle has no heatmap trace, and a table stays small and searchable), the straggler
tests, the collectives (table + bus bandwidth by size, a plotly scatter) and the what-if with every
formula. Markdown: the same, shorter. Nothing here computes a result: everything is in run.dist.
"""
from __future__ import annotations

from markupsafe import Markup, escape

from stackprof.render import fmt
from stackprof.render.escape import md_code, md_text, one_line, plotly_text

MAX_HEAT_ROWS = 64          # ranks shown in the heat map: the flagged, the lowest and highest, rank 0…
MAX_RANK_ROWS = 64
MAX_DIFF_ROWS = 40
MD_ROWS = 12


def _d(run) -> dict:
    dist = getattr(run, "dist", None)
    return dist if isinstance(dist, dict) and dist else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


# ---- shared text ------------------------------------------------------------------------------------

def summary_rows(dist: dict) -> list[tuple[str, str]]:
    ranks = _list(dist.get("ranks"))
    states: dict[str, int] = {}
    for row in ranks:
        states[str(row.get("state"))] = states.get(str(row.get("state")), 0) + 1
    return [(k, one_line(v, 300)) for k, v in (
        ("ranks", f"{fmt.fact(dist.get('world_size'))} on {fmt.fact(dist.get('nnodes'))} node(s) — "
                  + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))),
        ("backend", f"{dist.get('backend')} on {dist.get('device_type')}"),
        ("collective timeout", fmt.seconds(dist.get("timeout_s"))),
        ("launcher", str(dist.get("launcher") or "?")),
        ("mode", str(dist.get("mode") or "?")),
        ("link peak", _dict(dist.get("link_peak")).get("text") or "—"))]


def rank_row(row: dict) -> list[str]:
    gpu = _dict(row.get("gpu"))
    pcie = _dict(gpu.get("pcie"))
    state = _dict(row.get("gpu_state"))
    gpu_text = "—"
    if gpu:
        gpu_text = " · ".join(x for x in (
            str(gpu.get("name") or "?"),
            f"PCIe gen {pcie.get('gen')} x{pcie.get('width')} of gen {pcie.get('gen_max')} x{pcie.get('width_max')}"
            if pcie else None,
            f"NUMA {gpu.get('numa_node')}" if gpu.get("numa_node") is not None else None,
            f"SM {state.get('sm_mhz_min')}–{state.get('sm_mhz_median')} of {state.get('sm_max_mhz')} MHz"
            if state.get("available") else None,
            "throttle: " + ", ".join(state.get("throttle_reasons")) if state.get("throttle_reasons") else None) if x)
    cpus = row.get("cpus")
    cpu_text = f"{row.get('cpu_count')} ({one_line(cpus, 60)})" if isinstance(cpus, str) and cpus else \
        fmt.fact(row.get("cpu_count"))
    what = row.get("error") or (row.get("phase") if row.get("state") != "done" else "")
    return [str(row.get("rank")), fmt.fact(row.get("node")), fmt.fact(row.get("local_rank")), fmt.fact(row.get("host")),
            fmt.fact(row.get("device")), cpu_text, fmt.fact(row.get("numa_nodes")), one_line(gpu_text, 200),
            str(row.get("state")), one_line(what or "", 300)]


RANK_COLUMNS = ["rank", "node", "local rank", "host", "device", "CPUs", "NUMA", "GPU", "state", "phase / error"]


def _per_rank(dist: dict) -> dict:
    """run.dist.per_rank's table form ({id: {columns, rows, op, dtype, unit}}) as {id: [entry per rank]}."""
    out = {}
    for bench_id, doc in _dict(dist.get("per_rank")).items():
        doc = _dict(doc)
        shared = {"op": doc.get("op"), "unit": doc.get("unit")}
        out[bench_id] = [dict(shared, **dict(zip(_list(doc.get("columns")), row))) for row in _list(doc.get("rows"))
                         if isinstance(row, list)]
    return out


def diff_rows(dist: dict) -> list[list[str]]:
    rows = []
    for entry in _list(_dict(dist.get("env_diff")).get("differing"))[:MAX_DIFF_ROWS]:
        values = "; ".join(f"{_value(g)} on {_who(g)}" for g in _list(entry.get("values")))
        if entry.get("distinct", 0) > len(_list(entry.get("values"))):
            values += f"; … {entry['distinct'] - len(entry['values'])} more values"
        note = "expected per rank" if entry.get("expected") else ("performance-relevant" if entry.get("relevant") else "")
        rows.append([str(entry.get("path")), str(entry.get("scope")), one_line(values, 400), note])
    return rows


def _value(group: dict) -> str:
    return one_line(fmt.fact(group.get("value")), 80) if group.get("present") else "(absent)"


def _who(group: dict) -> str:
    ranks, nodes = _list(group.get("ranks")), _list(group.get("nodes"))
    text = "rank" + ("s " if len(ranks) > 1 else " ") + _short(ranks)
    return text + (f" (node{'s' if len(nodes) > 1 else ''} {_short(nodes)})" if nodes else "")


def _short(items: list, limit: int = 8) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" … +{len(items) - limit}" if len(items) > limit else "")


def straggler_rows(dist: dict) -> list[list[str]]:
    rows = []
    for test in _list(_dict(dist.get("stragglers")).get("tests")):
        details = _dict(test.get("details"))
        if test.get("summary"):
            verdict = (f"{test.get('units')} {test.get('unit')}s: median {fmt.num(details.get('median'))}, "
                       f"lowest {fmt.num(details.get('lowest'))}, none flagged" if not test.get("straggler") else "")
            rows.append([str(test.get("benchmark")), str(test.get("kind")), f"all {test.get('unit')}s", "—", "—", "—",
                         str(test.get("test")), verdict])
            continue
        if test.get("test") == "judge":
            verdict = (f"{details.get('status')}: {fmt.ratio(details.get('ratio'))} (95% CI "
                       f"{_ci(details.get('ci'))}, {fmt.pvalue(details.get('p_value'))})")
        else:
            verdict = f"z = {fmt.num(details.get('z'), 3)}, {fmt.share(details.get('deficit'))} below the median"
        rows.append([str(test.get("benchmark")), str(test.get("kind")), f"{test.get('unit')} {test.get('who')}",
                     fmt.num(test.get("value")), fmt.num(test.get("peers_value")), fmt.ratio(test.get("ratio")),
                     str(test.get("test")), ("STRAGGLER — " if test.get("straggler") else "") + verdict])
    return rows


def _ci(ci) -> str:
    return f"{fmt.num(ci[0], 3)}–{fmt.num(ci[1], 3)}" if isinstance(ci, list) and len(ci) == 2 else "—"


def collective_rows(dist: dict) -> list[list[str]]:
    rows = []
    for c in _list(dist.get("collectives")):
        ok = c.get("status") == "ok"
        rows.append([str(c.get("op")), fmt.nbytes(c.get("bytes")), fmt.fact(c.get("ranks")), str(c.get("backend")),
                     fmt.seconds(c.get("median_s")) if ok else "—", fmt.num(c.get("algbw_gbps")) if ok else "—",
                     fmt.num(c.get("busbw_factor"), 3), fmt.num(c.get("busbw_gbps")) if ok else "—",
                     "ok" if c.get("check_ok") else ("wrong" if c.get("check_ok") is False else "—"),
                     str(c.get("status")) + (f": {one_line(c.get('reason'), 160)}" if c.get("reason") else "")])
    return rows


COLLECTIVE_COLUMNS = ["collective", "size S", "ranks", "backend", "time (slowest rank)", "algbw GB/s", "busbw factor",
                      "busbw GB/s", "result", "status"]


def whatif_rows(what: dict) -> list[list[str]]:
    rows = []
    for r in _list(what.get("rows")):
        bound = r.get("bound") or "—"
        if r.get("exposed_s") is not None:
            bound += f" (exposed after overlap: {fmt.seconds(r['exposed_s'])})"
        rows.append([str(r.get("part")), str(r.get("per")), fmt.nbytes(r.get("bytes")),
                     f"{fmt.num(r.get('busbw_gbps'))} GB/s ({r.get('busbw_note')})", fmt.seconds(r.get("comm_s")),
                     fmt.seconds(r.get("compute_s")), fmt.ratio(r.get("ratio")), bound,
                     one_line(f"{r.get('formula')}; compute: {r.get('compute_formula')}", 400)])
    return rows


WHATIF_COLUMNS = ["part", "per", "bytes", "bus bandwidth used", "communication", "compute", "comm/compute", "bound by",
                  "formulas"]


def _heat_ranks(dist: dict, relative: dict) -> list:
    """Which ranks the heat map shows when there are too many: flagged first, then the lowest, rank 0,
    then the highest — the table says how many were left out."""
    ranks = sorted({int(r) for cols in relative.values() for r in cols})
    if len(ranks) <= MAX_HEAT_ROWS:
        return ranks
    flagged = {r for t in _list(_dict(dist.get("stragglers")).get("flagged")) for r in _list(t.get("ranks"))}

    def low(rank):
        return min(cols.get(rank, cols.get(str(rank), 1.0)) for cols in relative.values())
    order = sorted(ranks, key=low)
    keep = list(dict.fromkeys([r for r in ranks if r in flagged] + order[:MAX_HEAT_ROWS // 2] + [ranks[0]]
                              + order[::-1][:MAX_HEAT_ROWS // 4]))
    return sorted(keep[:MAX_HEAT_ROWS])


def _color(ratio: float) -> str:
    """A cell colour from a value relative to the median rank: white at the median and above, deeper red
    the further below (full at half the median). Computed from numbers only."""
    deficit = max(0.0, min(1.0, (1.0 - ratio) / 0.5))
    light = 97 - 45 * deficit
    return f"hsl(0, 75%, {light:.0f}%)"


def heat_html(dist: dict) -> Markup | None:
    relative = {k: {int(r): v for r, v in _dict(cols).items()} for k, cols in _dict(dist.get("relative")).items()}
    if not relative:
        return None
    benches = sorted(relative)
    ranks = _heat_ranks(dist, relative)
    node_of = {row.get("rank"): row.get("node") for row in _list(dist.get("ranks"))}
    flagged = {r for t in _list(_dict(dist.get("stragglers")).get("flagged")) for r in _list(t.get("ranks"))}
    values = {(e.get("rank"), bench): e for bench, entries in _per_rank(dist).items() for e in entries}
    head = "".join(f'<th scope="col">{escape(b)}</th>' for b in benches)
    body = []
    for rank in ranks:
        cells = []
        for bench in benches:
            ratio = relative[bench].get(rank)
            entry = _dict(values.get((rank, bench)))
            if ratio is None or not fmt.is_num(ratio):
                cells.append(f'<td class="heat-cell">{escape(entry.get("status") or "—")}</td>')
                continue
            title = f"{fmt.num(entry.get('value'))} {entry.get('unit') or ''}, {fmt.share(ratio)} of the median rank"
            cells.append(f'<td class="heat-cell" style="background:{_color(ratio)}" title="{escape(title)}">'
                         f'{escape(fmt.share(ratio))}</td>')
        mark = " ⚑" if rank in flagged else ""
        body.append(f'<tr><th scope="row">rank {rank} (node {escape(fmt.fact(node_of.get(rank)))}){mark}</th>'
                    + "".join(cells) + "</tr>")
    total = len({int(r) for cols in relative.values() for r in cols})
    note = (f"<p class=\"muted\">{len(ranks)} of {total} ranks shown: the flagged, the lowest, rank 0 and the highest."
            "</p>" if len(ranks) < total else "")
    return Markup(
        '<div class="table-wrap"><table class="data heat"><caption>Each rank\'s per-device result relative to the '
        'median rank (100% = the median; red: below it, full red at half). ⚑: named a straggler. Hover for the '
        f'value.</caption><thead><tr><th scope="col">rank</th>{head}</tr></thead><tbody>{"".join(body)}'
        f'</tbody></table></div>{note}')


# ---- HTML -------------------------------------------------------------------------------------------

def html(run):
    dist = _d(run)
    if not dist:
        return None
    from stackprof.render.html import Section, macros
    m = macros()
    parts = [m.kv_table(summary_rows(dist))]
    rows = [rank_row(r) for r in _list(dist.get("ranks"))]
    parts.append(Markup("<h3>Ranks</h3>"))
    parts.append(m.data_table(RANK_COLUMNS, rows[:MAX_RANK_ROWS]))
    if len(rows) > MAX_RANK_ROWS:
        parts.append(Markup(f'<p class="muted">{len(rows) - MAX_RANK_ROWS} more ranks in run.json (dist.ranks).</p>'))
    nodes = _list(dist.get("nodes"))
    if len(nodes) > 1:
        parts.append(Markup("<h3>Nodes</h3>"))
        parts.append(m.data_table(["node", "host", "ranks", "states"],
                                  [[fmt.fact(n.get("node")), fmt.fact(n.get("host")), _short(_list(n.get("ranks")), 16),
                                    fmt.fact(n.get("states"))] for n in nodes]))
    diff = _dict(dist.get("env_diff"))
    parts.append(Markup("<h3>Environment differences between ranks</h3>"))
    if diff.get("differing"):
        parts.append(m.data_table(["fact", "differs between", "values", "note"], diff_rows(dist)))
    else:
        parts.append(Markup(f'<p>{escape(diff.get("note") or "")} '
                            f'{escape(str(diff.get("identical_count") or 0))} facts compared across '
                            f'{escape(str(diff.get("ranks_compared") or 0))} ranks: all identical.</p>'))
    heat = heat_html(dist)
    if heat is not None:
        parts.append(Markup("<h3>Per-rank results</h3>"))
        parts.append(heat)
    strag = _dict(dist.get("stragglers"))
    if strag.get("tests"):
        parts.append(Markup("<h3>Straggler tests</h3>"))
        parts.append(Markup(f'<p class="muted">{escape(strag.get("method") or "")}. {escape(strag.get("note") or "")}.</p>'))
        parts.append(m.data_table(["benchmark", "measures", "who", "value", "peers", "peers / value", "test", "verdict"],
                                  straggler_rows(dist)))
    if dist.get("collectives"):
        parts.append(Markup("<h3>Collectives</h3>"))
        parts.append(Markup('<p class="muted">algbw = S / t; busbw = algbw × the nccl-tests factor of the collective '
                            '(docs/collectives.md); t is the slowest rank\'s time per call.</p>'))
        parts.append(m.data_table(COLLECTIVE_COLUMNS, collective_rows(dist)))
        for fig in figures(run):
            parts.append(m.chart(fig))
    what = _dict(dist.get("what_if"))
    if what:
        parts.append(Markup("<h3>Parallelism what-if</h3>"))
        if what.get("available"):
            model = _dict(what.get("model"))
            layout = _dict(what.get("layout"))
            gemm = _dict(what.get("gemm"))
            parts.append(m.kv_table([
                ("model", fmt.fact({k: v for k, v in model.items() if v is not None})),
                ("layout", fmt.fact(layout)),
                ("compute rate", f"{fmt.num(gemm.get('gflops'))} GFLOP/s ({gemm.get('id')}, median of "
                                 f"{gemm.get('ranks')} ranks)" if gemm else "no GEMM measured")]))
            parts.append(m.data_table(WHATIF_COLUMNS, whatif_rows(what)))
            for note in _list(what.get("notes")):
                parts.append(Markup(f'<p class="muted">{escape(note)}</p>'))
        else:
            parts.append(Markup(f"<p>{escape(what.get('reason') or '')}</p>"))
    return Section("dist", "Distributed run", Markup("\n").join(parts))


def figures(run) -> list:
    dist = _d(run)
    rows = [c for c in _list(dist.get("collectives")) if c.get("status") == "ok" and fmt.is_num(c.get("busbw_gbps"))
            and fmt.is_num(c.get("bytes"))]
    if not rows:
        return []
    import plotly.graph_objects as go
    from stackprof.render.figures import Figure, _spec, layout_template
    fig = go.Figure(layout={"template": layout_template(), "height": 400,
                            "xaxis": {"title": {"text": "message size S (bytes)"}, "type": "log"},
                            "yaxis": {"title": {"text": "bus bandwidth GB/s"}, "rangemode": "tozero"}})
    for op in sorted({c["op"] for c in rows}):
        series = sorted((c for c in rows if c["op"] == op), key=lambda c: c["bytes"])
        fig.add_trace(go.Scatter(name=plotly_text(op), mode="lines+markers", x=[c["bytes"] for c in series],
                                 y=[c["busbw_gbps"] for c in series],
                                 customdata=[[fmt.nbytes(c["bytes"]), fmt.num(c.get("algbw_gbps"))] for c in series],
                                 hovertemplate="%{customdata[0]}: busbw %{y:.4g} GB/s, algbw %{customdata[1]} GB/s"
                                               "<extra></extra>"))
    return [Figure("chart-collectives", "Collectives: bus bandwidth by message size",
                   "busbw = algbw × the collective's nccl-tests factor; at one rank all_reduce's factor is 0. "
                   + (_dict(dist.get("link_peak")).get("text") or ""), _spec(fig))]


# ---- terminal ---------------------------------------------------------------------------------------

def terminal(run, width: int = 100) -> str:
    """The ranks, the stragglers, each collective at its largest size, the what-if verdicts."""
    dist = _d(run)
    if not dist:
        return ""
    rows = _list(dist.get("ranks"))
    done = sum(1 for r in rows if r.get("state") == "done")
    out = [f"Distributed run: {fmt.fact(dist.get('world_size'))} rank(s) on {fmt.fact(dist.get('nnodes'))} node(s), "
           f"{dist.get('backend')} on {dist.get('device_type')}: {done} finished"]
    for r in rows:
        if r.get("state") != "done":
            out.append("  " + one_line(f"rank {r.get('rank')} (node {r.get('node')}): {r.get('state')}"
                                       + (f" — {r['error']}" if r.get("error") else ""), width - 2))
    named = [str(f.get("title")) for f in run.findings if isinstance(f, dict) and f.get("id") == "G1"]
    out.append("  stragglers: " + ("; ".join(one_line(n, width) for n in named) if named else "none named"))
    largest: dict = {}
    for c in _list(dist.get("collectives")):
        if c.get("status") == "ok" and fmt.is_num(c.get("busbw_gbps")) and \
                (c.get("bytes") or 0) >= (largest.get(c.get("op"), {}).get("bytes") or 0):
            largest[c.get("op")] = c
    for op, c in largest.items():
        out.append(f"  {op:15s} {fmt.nbytes(c.get('bytes')):>10s}  busbw {fmt.num(c.get('busbw_gbps'))} GB/s, "
                   f"algbw {fmt.num(c.get('algbw_gbps'))} GB/s")
    for r in _list(_dict(dist.get("what_if")).get("rows")):
        if r.get("bound"):
            out.append("  " + one_line(f"what-if {r.get('part')}: {fmt.seconds(r.get('comm_s'))} communication vs "
                                       f"{fmt.seconds(r.get('compute_s'))} compute per {r.get('per')} -> "
                                       f"{r.get('bound')}-bound", 2 * width))
    return "\n".join(out)


# ---- Markdown ---------------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]]) -> str:
    out = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    return out + "".join("| " + " | ".join(md_code(c, 200) if c else "" for c in row) + " |\n" for row in rows)


def markdown(run):
    dist = _d(run)
    if not dist:
        return None
    out = ["### Distributed run\n\n"]
    out.append("".join(f"- **{md_text(k)}**: {md_text(v)}\n" for k, v in summary_rows(dist)) + "\n")
    rows = [rank_row(r) for r in _list(dist.get("ranks"))]
    troubled = [r for r in rows if r[8] != "done"]
    shown = (troubled + [r for r in rows if r[8] == "done"])[:MD_ROWS]
    out.append(_table(RANK_COLUMNS, shown))
    if len(rows) > len(shown):
        out.append(f"\n_{len(rows) - len(shown)} more ranks in report.html / run.json._\n")
    diff = diff_rows(dist)
    out.append("\n**Environment differences between ranks**: " + (f"{len(diff)} fact(s)\n\n" if diff else "none\n\n"))
    if diff:
        out.append(_table(["fact", "differs between", "values", "note"], diff[:MD_ROWS]) + "\n")
    flagged = [r for r in straggler_rows(dist) if "STRAGGLER" in r[-1]]
    out.append("**Stragglers**: " + (f"{len(flagged)}\n\n" if flagged else "none named\n\n"))
    if flagged:
        out.append(_table(["benchmark", "measures", "who", "value", "peers", "peers / value", "test", "verdict"],
                          flagged[:MD_ROWS]) + "\n")
    coll = collective_rows(dist)
    if coll:
        out.append("<details><summary>Collectives</summary>\n\n" + _table(COLLECTIVE_COLUMNS, coll[:40])
                   + "\n</details>\n\n")
    what = _dict(dist.get("what_if"))
    if what.get("available"):
        out.append("**Parallelism what-if**\n\n" + _table(WHATIF_COLUMNS, whatif_rows(what)) + "\n")
    return "".join(out)

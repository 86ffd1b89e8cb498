"""Report part: the workload profile (run.profile). Present only when the Run has one.

HTML: a summary, the category chart (plotly bar, same bundle as the other charts), a flame graph
drawn by a small inline script from the embedded tree as plain SVG (the inlined plotly bundle has no
icicle trace; the tree is data, the page stays self-contained and small), top frames, per-process
and per-thread tables with the source of every number. Markdown and a terminal block as well.
"""
from __future__ import annotations

from markupsafe import Markup, escape

from stackprof.profile import compare
from stackprof.render import fmt
from stackprof.render.escape import json_for_script, md_code, md_text, one_line, plotly_text

# One colour per category (same order as stackprof.profile.categories.REPORTED); presentation only.
COLORS = {"startup": "#c9ccd1", "data_loading": "#e0892b", "cuda_sync": "#b5484b", "cuda": "#76b900",
          "gil": "#d16ba5", "idle": "#e5e7eb", "threads_sync": "#f2c14e", "blas": "#3b6ea8", "onednn": "#5b8fd0",
          "framework_dispatch": "#8a6d3b", "framework": "#7b62a8", "python": "#4c9a52", "native_other": "#6b7a8f"}
TOP_ROWS = 15
MAX_THREAD_ROWS = 40


def _p(run) -> dict:
    prof = getattr(run, "profile", None)
    return prof if isinstance(prof, dict) and prof else {}


def _num(value) -> float:
    return value if fmt.is_num(value) else 0.0


def _n(value) -> str:
    """A count: 1,234 (fmt.num would write 1234.0)."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else fmt.num(value)


def _label(prof: dict, cid: str) -> str:
    for c in prof.get("categories") or []:
        if isinstance(c, dict) and c.get("id") == cid:
            return str(c.get("label") or cid)
    return cid


def _command(prof: dict) -> str:
    if prof.get("mode") == "attach":
        return f"attached to PID {prof.get('pid')}"
    cmd = prof.get("command") or []
    return " ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd)


def summary_rows(prof: dict) -> list[tuple[str, str]]:
    samples = prof.get("samples") if isinstance(prof.get("samples"), dict) else {}
    rate = prof.get("rate") if isinstance(prof.get("rate"), dict) else {}
    native = prof.get("native") if isinstance(prof.get("native"), dict) else {}
    rusage = prof.get("program_rusage") if isinstance(prof.get("program_rusage"), dict) else {}
    tool = prof.get("tool") if isinstance(prof.get("tool"), dict) else {}
    rows = [("program", _command(prof)),
            ("exit status", fmt.fact(prof.get("exit_status")) + (" (interrupted)" if prof.get("interrupted") else "")
             + (" (stopped after --duration)" if prof.get("stopped_after_duration") else "")),
            ("recorded", f"{fmt.seconds(prof.get('duration_s'))} from {prof.get('started_utc') or '?'}"),
            ("samples", f"{_n(samples.get('total'))} thread-samples ({_n(samples.get('busy'))} busy, "
                        f"{_n(samples.get('idle'))} idle) from {_n(samples.get('python_threads'))} Python "
                        f"threads in {_n(samples.get('processes'))} process(es); "
                        f"{_n(samples.get('errors'))} unreadable"),
            ("sampling rate", f"{fmt.num(rate.get('achieved_hz'))} Hz achieved of {_n(rate.get('asked_hz'))} Hz asked "
                              f"({_n(rate.get('intervals'))} intervals)"),
            ("native frames", ("yes" if native.get("used") else "no") + (f" — {native.get('note')}" if native.get("note") else "")),
            ("idle samples", "kept (--idle)" if prof.get("idle_included") else "dropped (--no-idle)"),
            ("sampler", f"py-spy {tool.get('version', '?')}" + (" --nonblocking" if prof.get("nonblocking") else
                                                               " (blocking: pauses the program for each sample)"))]
    if rusage:
        rows.append(("program CPU time", f"{fmt.seconds(rusage.get('user_s'))} user + {fmt.seconds(rusage.get('sys_s'))} "
                                         "system (wait4)"))
    blas = prof.get("blas") if isinstance(prof.get("blas"), dict) else None
    if blas:
        rows.append(("BLAS in the samples", blas_text(blas)))
    if prof.get("raw_profile"):
        rows.append(("raw profile", f"{prof['raw_profile']} (beside this report; {prof.get('raw_format', '')})"))
    return [(k, one_line(v, 400)) for k, v in rows]


def blas_text(blas: dict) -> str:
    parts = [str(blas.get("library") or "?")]
    if blas.get("version"):
        parts.append(str(blas["version"]))
    if blas.get("file"):
        parts.append(f"({blas['file']})")
    text = " ".join(parts)
    if blas.get("kernel_in_frames"):
        text += f"; kernel {blas['kernel_in_frames']} in the frames"
    if blas.get("kernel_selected"):
        text += f"; the probe says it selected {blas['kernel_selected']}"
    if blas.get("num_threads"):
        text += f", {blas['num_threads']} threads ({blas.get('threading_layer') or '?'})"
    return text + f" — source: {blas.get('source', 'frame names')}"


def main_shares(prof: dict) -> dict:
    """Category -> share of the main thread's samples after start-up (the workload); start-up itself as
    its share of all the main thread's samples. Older documents without share_work: the plain share."""
    out = {}
    for c in (prof.get("main_thread") or {}).get("categories") or []:
        if isinstance(c, dict):
            out[c.get("id")] = c.get("share") if c.get("id") == "startup" or "share_work" not in c else c.get("share_work")
    return out


def category_rows(prof: dict) -> list[list[str]]:
    main = main_shares(prof)
    rows = []
    for c in prof.get("categories") or []:
        if not isinstance(c, dict):
            continue
        inside = ", ".join(f"{d.get('name')} {_n(d.get('samples'))}" for d in (c.get("details") or [])[:3]
                           if isinstance(d, dict))
        kernels = ", ".join(str(k.get("name")) for k in c.get("kernels") or [] if isinstance(k, dict))
        rows.append([str(c.get("label", c.get("id"))), _n(c.get("samples")), fmt.share(c.get("share")),
                     fmt.share(c.get("share_busy")), fmt.share(main.get(c.get("id"))),
                     one_line(inside + (f"; kernels: {kernels}" if kernels else ""), 200)])
    return rows


def frame_rows(prof: dict, which: str) -> list[list[str]]:
    rows = (prof.get("top_frames") or {}).get(which) or []
    return [[one_line(r.get("frame"), 160), _n(r.get("samples")), fmt.share(r.get("share")),
             _label(prof, str(r.get("category"))) if r.get("category") else "—"]
            for r in rows[:TOP_ROWS] if isinstance(r, dict)]


def process_rows(prof: dict) -> list[list[str]]:
    out = []
    for p in prof.get("processes") or []:
        if not isinstance(p, dict):
            continue
        cats = p.get("categories") if isinstance(p.get("categories"), dict) else {}
        total = sum(_num(v) for v in cats.values())
        top = ", ".join(f"{k} {fmt.share(v / total)}" for k, v in list(cats.items())[:3] if total)
        out.append([str(p.get("pid")), str(p.get("role")), one_line(p.get("command") or "", 120),
                    _n(p.get("samples")), top or "—", fmt.seconds(p.get("cpu_s")),
                    f"{_n(p.get('native_threads'))} ({fmt.seconds(p.get('native_cpu_s'))})"])
    return out


def thread_rows(prof: dict) -> list[list[str]]:
    out = []
    for t in (prof.get("threads") or [])[:MAX_THREAD_ROWS]:
        if not isinstance(t, dict):
            continue
        cpu = t.get("cpu") if isinstance(t.get("cpu"), dict) else {}
        source = "py-spy + /proc" if t.get("python") and cpu else "py-spy" if t.get("python") else "/proc only (native)"
        out.append([str(t.get("pid")), str(t.get("tid")), one_line(t.get("name") or "", 40), source,
                    _n(t.get("samples")), _label(prof, str(t.get("top_category"))) if t.get("top_category") else "—",
                    fmt.seconds(cpu.get("user_s")), fmt.seconds(cpu.get("sys_s")), fmt.share(cpu.get("busy_share"))])
    return out


def sources_text(prof: dict) -> list[str]:
    src = prof.get("sources") if isinstance(prof.get("sources"), dict) else {}
    native = prof.get("native_threads") if isinstance(prof.get("native_threads"), dict) else {}
    lines = [f"Samples, categories, flame graph, top frames: {src.get('samples', 'py-spy')}.",
             f"CPU seconds per thread and process: {src.get('cpu', '/proc')}."]
    if native.get("available"):
        lines.append(f"Threads without a Python thread state (OpenMP/BLAS pools, framework threads): "
                     f"{_n(native.get('count'))} seen, {_n(native.get('busy_count'))} busy, "
                     f"{fmt.seconds(native.get('cpu_s'))} CPU ({fmt.seconds(native.get('sys_s'))} system — "
                     f"spinning with sched_yield shows as system time) ≈ {fmt.num(native.get('cores_busy'))} cores busy "
                     "on average; py-spy cannot see inside them, their time is from /proc only.")
    lines.append("Categories come from frame and library names (stackprof/profile/categories.py); shares count "
                 "thread-samples — with idle samples kept, every Python thread is sampled at every interval, so "
                 "the main thread's shares are shares of the program's wall time.")
    return lines


# ---- HTML ------------------------------------------------------------------------------------------

FLAME_STYLE = """
#profile-flame{font:11px system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
#profile-flame .flame-bar{display:flex;gap:.6em;align-items:center;flex-wrap:wrap;margin:.3em 0}
#profile-flame svg{width:100%;display:block;background:#fff;border:1px solid #e5e7eb}
#profile-flame rect{stroke:#fff;stroke-width:.5;cursor:pointer}
#profile-flame rect.hit{stroke:#d00;stroke-width:1.5}
#profile-flame text{pointer-events:none;fill:#111}
#profile-flame .flame-detail{min-height:1.4em;font-family:ui-monospace,monospace;white-space:pre-wrap}
#profile-flame .legend span{display:inline-block;margin-right:.8em}
#profile-flame .legend i{display:inline-block;width:.9em;height:.9em;margin-right:.25em;vertical-align:-.1em}
"""

# Draws the icicle (root on top) from the embedded tree; click zooms, the search box highlights.
FLAME_SCRIPT = r"""
(function () {
  "use strict";
  var box = document.getElementById("profile-flame");
  var data = JSON.parse(document.getElementById("profile-flame-data").textContent);
  var svg = box.querySelector("svg"), detail = box.querySelector(".flame-detail");
  var NS = "http://www.w3.org/2000/svg", ROW = 17, names = data.names, cats = data.categories;
  var colors = data.colors, total = data.root[1] || 1, zoomed = data.root, query = "";
  function label(n) { return typeof n[0] === "number" ? names[n[0]] : n[0]; }
  function depth(n) { var d = 0; (n[4] || []).forEach(function (c) { d = Math.max(d, depth(c)); }); return d + 1; }
  function path(target, n, trail) {
    if (n === target) return trail.concat([n]);
    var kids = n[4] || [];
    for (var i = 0; i < kids.length; i++) { var p = path(target, kids[i], trail.concat([n])); if (p) return p; }
    return null;
  }
  function describe(n) {
    return label(n) + "\n" + n[1] + " samples (" + (100 * n[1] / total).toFixed(2) + "% of all), "
      + n[2] + " self; category: " + (cats[n[3]] || "?");
  }
  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var width = svg.clientWidth || 1200, trail = path(zoomed, data.root, []) || [data.root];
    var rows = trail.length - 1 + depth(zoomed), matched = 0;
    svg.setAttribute("height", rows * ROW);
    svg.setAttribute("viewBox", "0 0 " + width + " " + rows * ROW);
    function rect(n, x, w, y) {
      if (w < 0.5) return;
      var g = document.createElementNS(NS, "g"), r = document.createElementNS(NS, "rect");
      var hit = query && label(n).toLowerCase().indexOf(query) >= 0;
      if (hit) matched += n[1];
      r.setAttribute("x", x); r.setAttribute("y", y * ROW); r.setAttribute("width", Math.max(w, 0.5));
      r.setAttribute("height", ROW - 1); r.setAttribute("fill", colors[cats[n[3]]] || "#999");
      if (hit) r.setAttribute("class", "hit");
      var t = document.createElementNS(NS, "title"); t.textContent = describe(n); r.appendChild(t);
      r.addEventListener("click", function () { zoomed = n; draw(); });
      r.addEventListener("mouseover", function () { detail.textContent = describe(n); });
      g.appendChild(r);
      if (w > 40) {
        var s = document.createElementNS(NS, "text"), text = label(n), fit = Math.floor((w - 6) / 6.2);
        s.setAttribute("x", x + 3); s.setAttribute("y", y * ROW + 12);
        s.textContent = text.length > fit ? text.slice(0, Math.max(fit - 1, 1)) + "…" : text;
        g.appendChild(s);
      }
      svg.appendChild(g);
    }
    for (var i = 0; i < trail.length - 1; i++) rect(trail[i], 0, width, i);
    (function lay(n, x, w, y) {
      rect(n, x, w, y);
      var cx = x, kids = n[4] || [];
      for (var k = 0; k < kids.length; k++) {
        var cw = w * kids[k][1] / (n[1] || 1); lay(kids[k], cx, cw, y + 1); cx += cw;
      }
    })(zoomed, 0, width, trail.length - 1);
    box.querySelector(".flame-match").textContent = query ? "matched: " + (100 * matched / total).toFixed(1)
      + "% of samples (nested matches counted once per frame)" : "";
  }
  box.querySelector(".flame-reset").addEventListener("click", function () { zoomed = data.root; draw(); });
  box.querySelector(".flame-search").addEventListener("input", function (e) {
    query = e.target.value.trim().toLowerCase(); draw();
  });
  window.addEventListener("resize", draw);
  draw();
})();
"""


def flame_html(prof: dict) -> Markup:
    tree = prof.get("flame") if isinstance(prof.get("flame"), dict) else None
    if not tree or not isinstance(tree.get("root"), list):
        return Markup('<p class="empty">No flame graph: no samples.</p>')
    data = {"names": tree.get("names") or [], "categories": tree.get("categories") or [], "root": tree["root"],
            "colors": COLORS}
    labels = dict(zip(data["categories"], tree.get("labels") or []))
    legend = "".join(f'<span><i style="background:{COLORS.get(c, "#999")}"></i>{escape(labels.get(c) or _label(prof, c))}'
                     "</span>" for c in data["categories"] if c in COLORS)
    caption = (f"Icicle graph: the root on top, each frame as wide as the samples under it "
               f"({_n(tree.get('total'))} in all; frames under {_n(tree.get('min_samples'))} samples folded "
               f"into their caller: {_n(tree.get('folded_samples'))} samples). Colour = the category its samples "
               "went to; importlib's own frames are folded (an import shows as its modules). Hover for numbers, "
               "click to zoom, type to highlight frames.")
    return Markup(
        f'<style>{FLAME_STYLE}</style><div id="profile-flame" class="flame">'
        f'<p class="muted">{escape(caption)}</p>'
        '<div class="flame-bar"><button type="button" class="flame-reset">Reset zoom</button>'
        '<input type="search" class="flame-search" placeholder="highlight frames…" aria-label="search frames">'
        '<span class="flame-match muted"></span></div>'
        f'<div class="legend muted">{legend}</div>'
        '<svg role="img" aria-label="flame graph"></svg><div class="flame-detail muted"></div></div>'
        f'<script type="application/json" id="profile-flame-data">{json_for_script(data)}</script>'
        f'<script>{FLAME_SCRIPT}</script>')


def html(run):
    prof = _p(run)
    if not prof:
        return None
    from stackprof.render.html import Section, macros
    m = macros()
    warn = "".join(f"<li>{escape(w)}</li>" for w in prof.get("warnings") or [])
    body = [m.kv_table(summary_rows(prof))]
    if warn:
        body.append(Markup(f'<div class="card"><b>Read with care</b><ul>{warn}</ul></div>'))
    body.append(Markup("<h3>Where the time goes</h3>"))
    for fig in figures(run):   # the part charts its own figures (parts/__init__.py)
        body.append(m.chart(fig))
    body.append(m.data_table(["category", "samples", "of all", "of busy", "of main thread after start-up", "inside"],
                             category_rows(prof)))
    body.append(Markup("<h3>Flame graph</h3>"))
    body.append(flame_html(prof))
    body.append(Markup("<h3>Top frames</h3>"))
    body.append(m.data_table(["frame (self: innermost)", "samples", "share", "category"], frame_rows(prof, "self"),
                             caption="self: the innermost resolved frame of each sample"))
    body.append(m.data_table(["frame (total: anywhere on the stack)", "samples", "share", "category of its self time"],
                             frame_rows(prof, "total"), caption="total: samples with this frame anywhere on the stack"))
    body.append(Markup("<h3>Processes and threads</h3>"))
    body.append(m.data_table(["pid", "role", "command", "samples", "top categories", "CPU (/proc)",
                              "native threads (CPU)"], process_rows(prof)))
    body.append(m.data_table(["pid", "tid", "name", "source", "samples", "top category", "user", "system",
                              "busy"], thread_rows(prof)))
    body.append(Markup('<p class="muted">') + Markup("<br>").join(escape(s) for s in sources_text(prof))
                + Markup("</p>"))
    return Section("profile", "Profile", Markup("\n").join(body))


def figures(run) -> list:
    prof = _p(run)
    cats = [c for c in prof.get("categories") or [] if isinstance(c, dict) and c.get("samples")]
    if not cats:
        return []
    import plotly.graph_objects as go

    from stackprof.render.figures import Figure, _spec, layout_template
    main = main_shares(prof)
    order = list(reversed(cats))
    labels = [plotly_text(c.get("label", c.get("id")), 60) for c in order]
    fig = go.Figure(layout={"template": layout_template(), "barmode": "group", "height": 140 + 30 * len(order),
                            "xaxis": {"title": {"text": "% of samples"}, "rangemode": "tozero"},
                            "yaxis": {"type": "category"}})
    fig.add_trace(go.Bar(name="main thread after start-up (the program's wall time)", orientation="h", y=labels,
                         x=[100 * _num(main.get(c.get("id"))) for c in order], marker={"color": "#3b6ea8"},
                         hovertemplate="%{y}: %{x:.1f}% of the main thread<extra></extra>"))
    fig.add_trace(go.Bar(name="all threads and processes, busy samples", orientation="h", y=labels,
                         x=[100 * _num(c.get("share_busy")) for c in order], marker={"color": "#e0892b"},
                         hovertemplate="%{y}: %{x:.1f}% of the busy samples<extra></extra>"))
    out = [Figure("chart-profile-categories", "Time by category",
                  "Share of the main thread's samples after imports and start-up (what the program's wall time "
                  "went to; start-up itself: its share of all of them) and of the busy (non-idle) samples of every "
                  "sampled thread and process.", _spec(fig))]
    threads = [t for t in prof.get("threads") or [] if isinstance(t, dict) and t.get("python") and t.get("samples")]
    if len(threads) > 1:
        threads = threads[:12]
        names = [plotly_text(f"{t.get('pid')}/{t.get('tid')} {t.get('name') or ''}", 40) for t in threads]
        per = go.Figure(layout={"template": layout_template(), "barmode": "stack", "height": 160 + 26 * len(threads),
                                "xaxis": {"title": {"text": "samples"}}, "yaxis": {"type": "category",
                                                                                  "autorange": "reversed"}})
        for c in cats:
            cid = c.get("id")
            per.add_trace(go.Bar(name=plotly_text(c.get("label", cid), 40), orientation="h", y=names,
                                 x=[_num((t.get("categories") or {}).get(cid)) for t in threads],
                                 marker={"color": COLORS.get(cid, "#999")},
                                 hovertemplate="%{y}: %{x} samples<extra>%{fullData.name}</extra>"))
        out.append(Figure("chart-profile-threads", "Samples per thread by category",
                          "Each Python thread py-spy sampled (pid/tid name), its samples split by category; "
                          "threads without a Python state are in the table below (CPU time from /proc).", _spec(per)))
    return out


# ---- Markdown and terminal ---------------------------------------------------------------------------

def markdown(run):
    prof = _p(run)
    if not prof:
        return None
    lines = ["## Profile", ""]
    lines += [f"- **{md_text(k)}**: {md_text(v, 300)}" for k, v in summary_rows(prof)]
    for w in prof.get("warnings") or []:
        lines.append(f"- ⚠ {md_text(w, 300)}")
    lines += ["", "| category | samples | of all | of busy | of main thread after start-up | inside |",
              "|---|---:|---:|---:|---:|---|"]
    for row in category_rows(prof):
        lines.append("| " + " | ".join([md_text(row[0])] + row[1:5] + [md_text(row[5], 160)]) + " |")
    lines += ["", "Top frames (self):", "", "| frame | samples | share | category |", "|---|---:|---:|---|"]
    for row in frame_rows(prof, "self")[:10]:
        lines.append(f"| {md_code(row[0], 120)} | {row[1]} | {row[2]} | {md_text(row[3])} |")
    lines += ["", *[f"_{md_text(s, 400)}_" for s in sources_text(prof)[:2]], ""]
    return "\n".join(lines)


def terminal(run, width: int = 100) -> str:
    prof = _p(run)
    if not prof:
        return ""
    samples = prof.get("samples") or {}
    out = [f"Profile: {one_line(_command(prof), width - 9)}",
           f"  {_n(samples.get('total'))} samples, {fmt.seconds(prof.get('duration_s'))}, "
           f"{fmt.num((prof.get('rate') or {}).get('achieved_hz'))} Hz, exit status {fmt.fact(prof.get('exit_status'))}"]
    main = main_shares(prof)
    out.append(f"  {'category':44s} {'main':>6s} {'busy':>6s}   (main: the main thread after start-up)")
    for c in prof.get("categories") or []:
        if isinstance(c, dict):
            out.append(f"  {one_line(c.get('label', ''), 44):44s} {fmt.share(main.get(c.get('id'))):>6s} "
                       f"{fmt.share(c.get('share_busy')):>6s}")
    blas = prof.get("blas")
    if isinstance(blas, dict):
        out.append("  BLAS: " + one_line(blas_text(blas), width - 8))
    for w in prof.get("warnings") or []:
        out.append("  ! " + one_line(w, width - 4))
    return "\n".join(out) + "\n"


# ---- the comparison of profiled Runs (stackprof/profile/compare.py computes it) ----------------------

def comparison_markdown(section: dict | None) -> str:
    if not section:
        return ""
    cols = compare.columns(section)
    lines = ["## Profiles compared", "", md_text(compare.headline(section), 400), "",
             "| " + " | ".join(md_text(c, 60) for c in cols) + " |",
             "|---|" + "---:|" * (len(cols) - 1)]
    for row in compare.table_rows(section):
        lines.append("| " + " | ".join(md_text(c, 80) for c in row) + " |")
    lines += ["", f"_{md_text(section.get('basis', ''), 400)}_"]
    lines += [f"- {md_text(n, 300)}" for n in section.get("notes") or []]
    return "\n".join(lines) + "\n"


def comparison_html(section: dict | None):
    if not section:
        return None
    from stackprof.render.html import macros
    m = macros()
    notes = "".join(f"<li>{escape(n)}</li>" for n in section.get("notes") or [])
    return (Markup(f"<p><b>{escape(compare.headline(section))}</b></p>")
            + m.data_table(compare.columns(section), compare.table_rows(section))
            + Markup(f'<p class="muted">{escape(section.get("basis", ""))}</p>')
            + (Markup(f"<ul>{notes}</ul>") if notes else Markup("")))


def comparison_terminal(section: dict | None) -> str:
    if not section:
        return ""
    cols = compare.columns(section)
    out = ["Profiles compared: " + one_line(compare.headline(section), 200)]
    out.append("  " + " | ".join(one_line(c, 28) for c in cols))
    for row in compare.table_rows(section):
        out.append("  " + " | ".join(one_line(c, 44) for c in row))
    return "\n".join(out) + "\n"

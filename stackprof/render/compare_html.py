"""HTML page of a Comparison, on the report's page shell (render/html.py, reports/templates/base.html.j2):
runs, what changed, charts (speed change with its interval; achieved vs peak side by side), verdicts
with their explanations, and the environment diff. The Comparison document is embedded as JSON."""
from __future__ import annotations

from dataclasses import dataclass

from stackprof.render.parts import profile as profile_parts
from stackprof.compare.text import basis_text
from stackprof.compare.text import (VERDICT_MARK, VERDICT_TEXT, absent_text, bundle_text, change_text,
                                    collapse_groups, counts_text, excerpts, interval_text, short_path,
                                    side_letter, unmeasured_in_both, unmeasured_summary, value_text)
from stackprof.render import fmt
from stackprof.render.escape import plotly_text
from stackprof.render.figures import CONFIG, COLORS, Figure, _template

EMBED_ID = "stackprof-comparison"
MAX_CHART_ROWS = 60
VERDICT_COLORS = {"faster": "#2e7d32", "slower": "#c62828", "same": "#6b7a8f", "noisy": "#e0892b",
                  "within_drift": "#9aa5b1"}


@dataclass
class EnvRow:
    fact: str
    cells: list[str]
    absent: list[bool]
    hardware: bool


def render(comparison: dict) -> str:
    from stackprof.render.html import render_page
    runs = comparison["runs"]
    letters = [side_letter(i) for i in range(len(runs))]
    figures = [f for f in (speed_figure(comparison), peak_figure(comparison)) if f is not None]
    return render_page(
        "compare.html.j2", title="stackprof comparison — " + " vs ".join(r["label"] for r in runs),
        figures=figures, embedded={EMBED_ID: comparison}, c=comparison, runs=runs, letters=letters,
        pairs=[_pair_view(p, runs) for p in comparison["pairs"]], env=_env_view(comparison, letters),
        verdict_text=VERDICT_TEXT, verdict_mark=VERDICT_MARK, profile=profile_parts.comparison_html(comparison.get("profile")))


def _pair_view(pair: dict, runs: list[dict]) -> dict:
    rows, idle = [], []
    for b in pair["benchmarks"]:
        (idle if unmeasured_in_both(b) else rows).append({
            "id": b["id"], "verdict": b["verdict"], "reason": b.get("reason") or "",
            "a": _quantity(b["a"], b.get("unit")), "b": _quantity(b["b"], b.get("unit")),
            "change": change_text(b.get("speedup")), "interval": interval_text(b.get("speedup_ci")),
            "p": "" if b.get("p_value") is None else f"{b['p_value']:.2g}",
            "noisy": [bool(s and s.get("noisy")) for s in (b["a"], b["b"])],
            "attribution": _attribution_view(b.get("attribution")),
        })
    changed = [(c["path"], bundle_text(c), None) if c.get("count") else
               (c["path"], _cell(c["a"], c["present"][0], c["path"]), _cell(c["b"], c["present"][1], c["path"]))
               for c in pair["what_changed"]]
    head = pair.get("headline") or {}
    return {"a": pair["a"], "b": pair["b"], "la": side_letter(pair["a"]), "lb": side_letter(pair["b"]),
            "label_a": runs[pair["a"]]["label"], "label_b": runs[pair["b"]]["label"],
            "counts": counts_text(pair["counts"]), "count_items": pair["counts"], "rows": rows, "changed": changed,
            "idle": idle, "idle_text": unmeasured_summary([b for b in pair["benchmarks"] if unmeasured_in_both(b)]),
            "interleaved": pair.get("interleaved"), "basis": basis_text(pair),
            "headline": (fmt.fraction_pct(head.get("a")), fmt.fraction_pct(head.get("b")))
            if head.get("ratio") is not None else None}


def _attribution_view(att: dict | None) -> dict | None:
    if not att:
        return None
    return {"text": att["text"], "explained": att["explained"], "hardware_first": att["hardware_first"],
            "facts": [(f["path"], *excerpts([f["a"], f["b"]], f["present"], 80, absent_text(f["path"])), f["why"])
                      for f in att["facts"]],
            "more": att["facts_total"] - len(att["facts"]),
            "findings": [(f["id"], f.get("title") or "", f["only_in"]) for f in att["findings"]]}


def _env_view(comparison: dict, letters: list[str]) -> dict:
    diff = comparison["environment_diff"]
    sections = []
    for s in diff["sections"]:
        shown, bundles = collapse_groups(s["differing"])
        sections.append({"name": s["name"], "differing": len(s["differing"]), "identical": s["identical"],
                         "rows": [_env_row(e, s["name"]) for e in shown],
                         "bundles": [(title, [_env_row(e, s["name"]) for e in items]) for title, items in bundles]})
    return {"sections": sections, "differing": diff["differing_count"], "identical": diff["identical_count"],
            "same_hardware": diff["same_hardware"]}


def _env_row(entry: dict, section: str) -> EnvRow:
    return EnvRow(short_path(entry["path"], section),
                  excerpts(entry["values"], entry["present"], 300, absent_text(entry["path"])),
                  [not p for p in entry["present"]], entry["hardware"])


def _cell(value, present: bool, path: str) -> str:
    return value_text(value, present, limit=300, absent=absent_text(path))


def _quantity(side: dict | None, unit: str | None) -> str:
    if not side:
        return "—"
    if side.get("status") != "ok":
        return side.get("status") or "?"
    if fmt.is_num(side.get("value")):
        return f"{fmt.num(side['value'])} {unit or ''}".strip()
    return fmt.seconds(side.get("median_s")) if fmt.is_num(side.get("median_s")) else "—"


def speed_figure(comparison: dict) -> Figure | None:
    """Speed change of each benchmark against the baseline, with its bootstrap interval."""
    import plotly.graph_objects as go
    pairs = comparison["pairs"]
    ids = []
    for pair in pairs:
        ids += [b["id"] for b in pair["benchmarks"] if b.get("speedup") is not None and b["id"] not in ids]
    if not ids:
        return None
    left_out = max(len(ids) - MAX_CHART_ROWS, 0)
    ids = ids[:MAX_CHART_ROWS]
    labels = [plotly_text(i, 70) for i in ids]
    effect = comparison["method"]["min_effect"]
    fig = go.Figure(layout={
        "template": _template(), "height": 140 + 30 * len(ids) * max(1, len(pairs)) ** 0.5,
        "xaxis": {"title": {"text": "speed relative to " + plotly_text(comparison["runs"][0]["label"], 40)
                            + " (1 = same, > 1 = faster)"}, "type": "log"},
        "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": labels[::-1]},
        "shapes": [{"type": "rect", "xref": "x", "yref": "paper", "x0": 1 / (1 + effect), "x1": 1 + effect,
                    "y0": 0, "y1": 1, "fillcolor": "#e5e7eb", "opacity": 0.5, "line": {"width": 0}, "layer": "below"},
                   {"type": "line", "xref": "x", "yref": "paper", "x0": 1, "x1": 1, "y0": 0, "y1": 1,
                    "line": {"color": "#6b7a8f", "width": 1}}]})
    for n, pair in enumerate(pairs):
        by_id = {b["id"]: b for b in pair["benchmarks"] if b.get("speedup") is not None}
        rows = [(label, by_id[i]) for label, i in zip(labels, ids) if i in by_id]
        name = f"{side_letter(pair['b'])}: {plotly_text(comparison['runs'][pair['b']]['label'], 40)}"
        fig.add_trace(go.Scatter(
            name=name, mode="markers", y=[label for label, _ in rows], x=[b["speedup"] for _, b in rows],
            error_x={"type": "data", "symmetric": False,
                     "array": [max(b["speedup_ci"][1] - b["speedup"], 0) for _, b in rows],
                     "arrayminus": [max(b["speedup"] - b["speedup_ci"][0], 0) for _, b in rows],
                     "color": COLORS[n % len(COLORS)], "thickness": 1.5, "width": 4},
            marker={"size": 10, "color": [VERDICT_COLORS.get(b["verdict"], "#8a6d3b") for _, b in rows],
                    "symbol": ["triangle-right" if b["verdict"] == "faster" else "triangle-left"
                               if b["verdict"] == "slower" else "circle" for _, b in rows],
                    "line": {"color": COLORS[n % len(COLORS)], "width": 2}},
            customdata=[[plotly_text(VERDICT_TEXT[b["verdict"]]), change_text(b["speedup"]),
                         interval_text(b["speedup_ci"]), f"{b['p_value']:.2g}"] for _, b in rows],
            hovertemplate="%{y}<br>%{customdata[0]}: %{customdata[1]} %{customdata[2]}, p = %{customdata[3]}"
                          "<extra>%{fullData.name}</extra>"))
    caption = (f"Median speed of each benchmark relative to the baseline {side_letter(0)}, with its "
               f"{comparison['method']['ci']['confidence']:.0%} bootstrap interval (log scale). The grey band is the "
               f"±{effect:.0%} threshold below which a change is called “same”; marker colour is the verdict.")
    if left_out:
        caption += f" The first {MAX_CHART_ROWS} benchmarks are shown; {left_out} more are in the table."
    return Figure("chart-speed", "Speed change per benchmark", caption, _spec(fig))


def peak_figure(comparison: dict) -> Figure | None:
    """Achieved throughput of every run side by side, as % of the hardware peak where it is known."""
    import plotly.graph_objects as go
    runs = comparison["runs"]
    rows: dict[str, list] = {}
    for pair in comparison["pairs"]:
        for b in pair["benchmarks"]:
            for index, side in ((pair["a"], b["a"]), (pair["b"], b["b"])):
                if side and side.get("status") == "ok" and fmt.is_num(side.get("pct_of_peak")):
                    rows.setdefault(b["id"], [None] * len(runs))[index] = 100 * side["pct_of_peak"]   # a fraction
    if not rows:
        return None
    ids = list(rows)[:MAX_CHART_ROWS]
    labels = [plotly_text(i, 70) for i in ids]
    fig = go.Figure(layout={"template": _template(), "barmode": "group",
                            "height": 140 + 22 * len(ids) * len(runs),
                            "xaxis": {"title": {"text": "% of the hardware peak"}, "rangemode": "tozero"},
                            "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": labels[::-1]}})
    for index, run in enumerate(runs):
        fig.add_trace(go.Bar(name=f"{side_letter(index)}: {plotly_text(run['label'], 40)}", orientation="h",
                             y=labels, x=[rows[i][index] for i in ids], marker={"color": COLORS[index % len(COLORS)]},
                             hovertemplate="%{y}<br>%{x:.1f}% of peak<extra>%{fullData.name}</extra>"))
    caption = ("Achieved throughput as a share of the hardware's peak for the benchmarks that have one, one bar per "
               "run. Benchmarks without a known peak are in the table only.")
    return Figure("chart-peak", "Achieved vs peak, side by side", caption, _spec(fig))


def _spec(fig) -> dict:
    data = fig.to_dict()
    return {"data": data["data"], "layout": data["layout"], "config": CONFIG}

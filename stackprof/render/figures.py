"""Plotly figures of a Run's benchmarks, as plain dicts for Plotly.newPlot in the HTML report.

Built with the plotly package (validated property names), drawn by the vendored plotly.js basic
bundle: bar and scatter traces only. Every label from the Run goes through escape.plotly_text.
"""
from __future__ import annotations

from dataclasses import dataclass

from stackprof.render import fmt
from stackprof.render.escape import plotly_text

MAX_BARS = 40          # rows in the achieved-vs-peak chart; the table lists every benchmark
COLORS = ["#3b6ea8", "#e0892b", "#4c9a52", "#b5484b", "#7b62a8", "#8a6d3b", "#d16ba5", "#6b7a8f"]
CONFIG = {"displaylogo": False, "responsive": True, "showLink": False, "showSendToCloud": False,
          "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


@dataclass
class Figure:
    id: str             # DOM id of the chart's div
    title: str
    caption: str        # how to read it / what was left out
    spec: dict          # {"data", "layout", "config"}


def layout_template():
    """The plotly layout template of every stackprof chart (system fonts, light grid, legend on top)."""
    import plotly.graph_objects as go
    return go.layout.Template(layout={
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12,
                 "color": "#1f2328"},
        "colorway": COLORS, "paper_bgcolor": "white", "plot_bgcolor": "white",
        "xaxis": {"gridcolor": "#e5e7eb", "zerolinecolor": "#d0d7de", "automargin": True},
        "yaxis": {"gridcolor": "#e5e7eb", "zerolinecolor": "#d0d7de", "automargin": True},
        "hoverlabel": {"align": "left"},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "margin": {"l": 10, "r": 20, "t": 40, "b": 40}})


_template = layout_template      # the name the comparison page imports


def _ok(run) -> list[dict]:
    return [r for r in run.benchmarks if isinstance(r, dict) and r.get("status") == "ok" and fmt.is_num(r.get("value"))]


def benchmark_figures(run) -> list[Figure]:
    records = _ok(run)
    figures = [peak_figure(records), gemm_figure(records), bandwidth_figure(records)]
    return [f for f in figures if f is not None]


def _spec(fig) -> dict:
    return {"data": fig.to_dict()["data"], "layout": fig.to_dict()["layout"], "config": CONFIG}


def _throughput_at(rec: dict, seconds: float | None) -> float | None:
    """The benchmark's value had its per-call time been ``seconds`` (for the quartile error bars)."""
    med = (rec.get("stats") or {}).get("median_s")
    if not (fmt.is_num(seconds) and fmt.is_num(med) and seconds > 0 and med > 0):
        return None
    return rec["value"] * med / seconds if rec.get("direction") != "lower" else rec["value"] * seconds / med


def _error_bars(records: list[dict]) -> dict:
    plus, minus = [], []
    for rec in records:
        stats = rec.get("stats") or {}
        hi, lo = _throughput_at(rec, stats.get("q1_s")), _throughput_at(rec, stats.get("q3_s"))
        if rec.get("direction") == "lower":
            hi, lo = lo, hi
        plus.append(max(hi - rec["value"], 0) if hi is not None else 0)
        minus.append(max(rec["value"] - lo, 0) if lo is not None else 0)
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "thickness": 1, "width": 3}


def _unique_labels(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def peak_figure(records: list[dict]) -> Figure | None:
    rows = [r for r in records if r.get("direction") != "lower"
            and (fmt.is_num(r.get("pct_of_peak")) or fmt.is_num(r.get("pct_of_best")))]
    if not rows:
        return None
    import plotly.graph_objects as go
    left_out = max(len(rows) - MAX_BARS, 0)
    if left_out:   # keep the ones furthest from the best: those are the ones to look at
        rows = sorted(rows, key=lambda r: r.get("pct_of_best") if fmt.is_num(r.get("pct_of_best")) else 1.0)
        rows = rows[:MAX_BARS]
    rows = sorted(rows, key=lambda r: (str(r.get("op_key")), str(r.get("id"))), reverse=True)
    labels = _unique_labels([plotly_text(r.get("id"), 70) for r in rows])
    hover = [_peak_hover(r) for r in rows]
    template = ("%{y}<br>achieved %{customdata[0]}<br>peak %{customdata[1]}<br>"
                "best on this machine %{customdata[2]}<extra>%{fullData.name}: %{x:.1f}%</extra>")
    fig = go.Figure(layout={"template": layout_template(), "barmode": "group", "height": 120 + 34 * len(rows),
                            "xaxis": {"title": {"text": "% (100 = the reference)"}, "rangemode": "tozero"},
                            "yaxis": {"type": "category"}})
    for name, key, color in (("% of hardware peak", "pct_of_peak", COLORS[0]),
                             ("% of best on this machine", "pct_of_best", COLORS[1])):
        fig.add_trace(go.Bar(name=name, orientation="h", y=labels, marker={"color": color},
                             x=[100 * r[key] if fmt.is_num(r.get(key)) else None for r in rows],
                             customdata=hover, hovertemplate=template))
    caption = ("Achieved throughput of each benchmark as a share of the hardware's peak (where a peak is "
               "known) and of the best result any library reached on this machine for the same operation, "
               "dtype and shape. Hover for the absolute numbers.")
    if left_out:
        caption += f" Showing the {MAX_BARS} furthest from the best; {left_out} more are in the table below."
    return Figure("chart-peak", "Achieved vs peak vs best on this machine", caption, _spec(fig))


def _peak_hover(rec: dict) -> list[str]:
    """[achieved, peak (source), best (which)] for the hover box."""
    peak = rec.get("peak") if isinstance(rec.get("peak"), dict) else {}
    best = rec.get("best_on_machine") if isinstance(rec.get("best_on_machine"), dict) else {}
    return [plotly_text(f"{fmt.num(rec['value'])} {rec.get('unit', '')}"),
            plotly_text(f"{fmt.num(peak.get('value'))} ({peak.get('source', 'no peak known')})", 120),
            plotly_text(f"{fmt.num(best.get('value'))} ({best.get('id', '')})", 120)]


def _series_name(rec: dict, *keys: str) -> str:
    parts = [str(rec.get(k)) for k in keys if rec.get(k)]
    return plotly_text(" ".join(parts), 60)


def gemm_figure(records: list[dict]) -> Figure | None:
    rows = [r for r in records if r.get("op") == "gemm" and r.get("direction") != "lower"]
    if not rows:
        return None
    import plotly.graph_objects as go

    def shape_label(rec: dict) -> str:
        shape = rec.get("shape") if isinstance(rec.get("shape"), dict) else {}
        dims = [shape.get(k) for k in ("m", "n", "k") if k in shape]
        return plotly_text("×".join(map(str, dims)) if dims else rec.get("id"), 40)

    def size(rec: dict) -> float:
        flops = (rec.get("work") or {}).get("flops")
        return flops if fmt.is_num(flops) else 0.0

    shapes = sorted({shape_label(r): size(r) for r in rows}.items(), key=lambda kv: kv[1])
    series: dict[str, list[dict]] = {}
    for rec in rows:
        series.setdefault(_series_name(rec, "framework", "device", "dtype", "variant"), []).append(rec)
    units = sorted({str(r.get("unit")) for r in rows})
    fig = go.Figure(layout={"template": layout_template(), "barmode": "group", "height": 420,
                            "xaxis": {"title": {"text": "shape m×n×k"}, "type": "category",
                                      "categoryorder": "array", "categoryarray": [s for s, _ in shapes]},
                            "yaxis": {"title": {"text": plotly_text(", ".join(units))}, "rangemode": "tozero"}})
    for name, recs in series.items():
        fig.add_trace(go.Bar(name=name, x=[shape_label(r) for r in recs], y=[r["value"] for r in recs],
                             error_y=_error_bars(recs), customdata=[plotly_text(r.get("id"), 120) for r in recs],
                             hovertemplate="%{customdata}<br>%{y:.4g} " + plotly_text(units[0]) + "<extra></extra>"))
    return Figure("chart-gemm", "GEMM throughput by shape and dtype",
                  "Median throughput per matrix shape, one bar per library, device and dtype; "
                  "whiskers span the interquartile range of the per-call times.", _spec(fig))


def bandwidth_figure(records: list[dict]) -> Figure | None:
    rows = [r for r in records if r.get("unit") == "GB/s" and fmt.is_num((r.get("work") or {}).get("bytes"))]
    if not rows:
        return None
    import plotly.graph_objects as go
    series: dict[str, list[dict]] = {}
    for rec in sorted(rows, key=lambda r: r["work"]["bytes"]):
        series.setdefault(_series_name(rec, "op", "framework", "device", "dtype", "variant"), []).append(rec)
    fig = go.Figure(layout={"template": layout_template(), "height": 420,
                            "xaxis": {"title": {"text": "bytes moved per call"}, "type": "log"},
                            "yaxis": {"title": {"text": "GB/s"}, "rangemode": "tozero"}})
    for name, recs in series.items():
        fig.add_trace(go.Scatter(name=name, mode="lines+markers", x=[r["work"]["bytes"] for r in recs],
                                 y=[r["value"] for r in recs], error_y=_error_bars(recs),
                                 customdata=[[plotly_text(r.get("id"), 120), fmt.nbytes(r["work"]["bytes"])]
                                             for r in recs],
                                 hovertemplate="%{customdata[0]}<br>%{customdata[1]}: %{y:.4g} GB/s<extra></extra>"))
    return Figure("chart-bandwidth", "Memory bandwidth by size",
                  "Median bandwidth against the bytes each call moves (log scale); the drop marks where the "
                  "working set leaves the caches. Whiskers span the interquartile range.", _spec(fig))

"""HTML: one self-contained file per page (styles, plotly.js and data inline; nothing fetched).

Reusable by other pages (the comparison): ``render_page(template, title=..., figures=..., embedded=...)``
renders any template that extends ``base.html.j2`` (in reports/templates/), and ``page(title, sections)``
builds a page from ready-made sections; ``macros()`` gives the table/chart/badge macros for bodies.
Autoescape is on for everything; JSON blocks go through escape.json_for_script.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup

from stackprof import __version__
from stackprof.model import EMBED_ID
from stackprof.paths import reports_dir
from stackprof.render import envtables, figures as figures_mod, fmt, parts, summary
from stackprof.render.escape import json_for_script, visible_controls


@dataclass
class Section:
    id: str
    heading: str
    body: Markup


@lru_cache(maxsize=None)
def _asset(name: str) -> Markup:
    text = (reports_dir() / "assets" / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"asset {name} cannot be inlined: it contains a closing tag")
    return Markup(text)     # our own files, shipped with the package


@lru_cache(maxsize=None)
def environment():
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(reports_dir() / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=_visible)
    env.filters.update(num=fmt.num, pct=fmt.pct, pvalue=fmt.pvalue, share=fmt.share, ratio=fmt.ratio, nbytes=fmt.nbytes,
                       fact=fmt.fact, token=_css_token, component_row=_component_row,
                       skip_row=lambda b: [b["id"], b["reason"] or "no reason given"])
    env.globals.update(figure_json=lambda fig: Markup(json_for_script(fig.spec)),
                       verdicts=summary.VERDICTS, tool_version=__version__)
    return env


def _visible(value: object) -> object:
    """Every {{ value }} that is text from the Run: control characters shown, not obeyed (a bidi
    override must not reorder what a maintainer reads). Our own Markup passes untouched."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible_controls(value, keep="\n\t")
    return value


def _css_token(text: object) -> str:
    """A value used inside a class attribute: letters, digits, '-' and '_' only."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in str(text))[:40]


def _component_row(comp: dict) -> list[str]:
    return [str(comp.get("op_key", "")), str(comp.get("id", "")), fmt.share(comp.get("pct_of_best"))]


def macros():
    """The macros of _macros.html.j2 (chart, kv_table, data_table, badge, env_section) as callables
    returning escaped Markup, for building Section bodies in Python."""
    return environment().get_template("_macros.html.j2").module


def render_page(template: str, *, title: str, figures: list | tuple = (), embedded: dict | None = None,
                **context) -> str:
    """Render a template that extends base.html.j2. plotly.js is inlined once, only when there are
    figures; each ``embedded`` {dom_id: data} becomes an escaped JSON block."""
    blocks = [(dom_id, Markup(json_for_script(data))) for dom_id, data in (embedded or {}).items()]
    return environment().get_template(template).render(
        title=title, css=_asset("report.css"), report_js=_asset("report.js"),
        plotly_js=_asset("plotly-basic.min.js") if figures else None, embedded=blocks, figures=list(figures),
        **context)


def page(title: str, sections: list[Section], *, subtitle: str = "", figures: list | tuple = (),
         embedded: dict | None = None) -> str:
    """A generic page from sections; put ``macros().chart(fig)`` in a body for each figure passed."""
    return render_page("page.html.j2", title=title, subtitle=subtitle, sections=sections, figures=figures,
                       embedded=embedded)


MAX_BYTES = 2_000_000      # a report must stay attachable and quick to open
SAMPLE_DIGITS = 7          # significant digits kept in samples_s when the full ones do not fit


def render(run, max_bytes: int = MAX_BYTES) -> str:
    """The report page. If the page would exceed ``max_bytes``, the embedded copy of the Run keeps
    its raw timing samples to SAMPLE_DIGITS significant digits (below the timer's resolution for
    calls under 10 ms; far below the noise otherwise), and the page says so."""
    page_html = _report(run, run.to_dict(), size_note="")
    if len(page_html.encode("utf-8")) <= max_bytes:
        return page_html
    page_html = _report(run, compact_samples(run.to_dict()), size_note=(
        f"To keep this file under {max_bytes / 1e6:g} MB, the embedded Run's raw timing samples are "
        f"rounded to {SAMPLE_DIGITS} significant digits (run.json has them in full)."))
    if len(page_html.encode("utf-8")) > max_bytes:
        page_html = _report(run, compact_samples(run.to_dict()), size_note=(
            f"This report is larger than {max_bytes / 1e6:g} MB even with rounded samples: "
            f"the run has {len(run.benchmarks)} benchmarks."))
    return page_html


def compact_samples(doc: dict) -> dict:
    for record in doc.get("benchmarks") or []:
        if isinstance(record, dict) and isinstance(record.get("samples_s"), list):
            record["samples_s"] = [float(f"{v:.{SAMPLE_DIGITS}g}") if fmt.is_num(v) else v
                                   for v in record["samples_s"]]
    return doc


def _report(run, embedded_doc: dict, size_note: str) -> str:
    chart_figs = figures_mod.benchmark_figures(run)
    figs = list(chart_figs)
    timings, options, target = (x if isinstance(x, dict) else {} for x in (run.timings, run.options, run.target))
    meta = [(k, v) for k, v in (
        ("created", run.created_utc), ("stackprof", (run.tool or {}).get("version")),
        ("mode", options.get("mode")), ("python", target.get("python")),
        ("wall time", fmt.seconds(timings.get("total_s")) if timings.get("total_s") else None)) if v]
    errors = [[str(e.get(k, "")) for k in ("stage", "source", "kind", "message")]
              for e in run.errors if isinstance(e, dict)]
    bench_rows = summary.benchmark_rows(run)
    by_kind = summary.findings_by_kind(run)
    extra = []
    for part in parts.modules():               # optional sections (profile, ranks…): None when absent
        section = part.html(run)
        if section is not None:
            extra.append(section)
            figs = figs + list(part.figures(run))
    return render_page(
        "report.html.j2", title=f"stackprof report — {run.label}", figures=figs, chart_figures=chart_figs,
        embedded={EMBED_ID: embedded_doc}, run=run, head=summary.headline(run),
        essentials=summary.essentials(run), findings=by_kind["defect"], opportunities=by_kind["opportunity"],
        notes=by_kind["note"], kind_blurbs=summary.KIND_BLURBS, bench_rows=bench_rows,
        bench_counts=summary.count_by_status(bench_rows), env_views=envtables.section_views(run.environment),
        errors=errors, meta=meta, size_note=size_note, peak_note=summary.peak_estimate_note(run),
        extra_sections=extra)

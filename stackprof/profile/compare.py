"""Compare the workload profiles of several Runs: how each category's share of the time moved.

``compare_profiles(runs)`` is pure (Runs in, a section dict out; None when fewer than two Runs carry a
profile); ``columns``/``table_rows``/``headline`` give its plain-text cells, which the renderers in
stackprof/render/parts/profile.py escape for each format. Shares are compared, not
seconds: two runs of the same program on different environments differ in length, and the question
is where each spends its time (e.g. BLAS 62% → 18% after a fix)."""
from __future__ import annotations

from stackprof.profile import categories as table

NOTABLE_PP = 5.0          # a change of at least 5 percentage points is called out


def _main_shares(prof: dict) -> dict[str, float]:
    main = prof.get("main_thread") if isinstance(prof.get("main_thread"), dict) else {}
    cats = [c for c in main.get("categories") or [] if isinstance(c, dict)]
    work = sum(c.get("samples") or 0 for c in cats if c.get("id") != "startup")
    return {c["id"]: (c.get("samples") or 0) / work for c in cats if c.get("id") != "startup" and work}


def _busy_shares(prof: dict) -> dict[str, float]:
    return {c["id"]: c.get("share_busy") or 0.0 for c in prof.get("categories") or []
            if isinstance(c, dict) and c.get("id") != "idle"}


def compare_profiles(runs: list) -> dict | None:
    profiled = [r for r in runs if isinstance(getattr(r, "profile", None), dict) and r.profile.get("categories")]
    if len(profiled) < 2:
        return None
    mains = [_main_shares(r.profile) for r in profiled]
    busys = [_busy_shares(r.profile) for r in profiled]
    ids = [c.id for c in table.REPORTED if any(c.id in m or c.id in b for m, b in zip(mains, busys))]
    rows = []
    for cid in ids:
        main = [None if cid == "startup" else round(m.get(cid, 0.0), 4) for m in mains]
        busy = [round(b.get(cid, 0.0), 4) for b in busys]
        basis = busy if cid == "startup" else main
        deltas = [round(100 * (v - basis[0]), 1) for v in basis]
        rows.append({"id": cid, "label": table.LABELS.get(cid, cid), "main": main, "busy": busy, "delta_pp": deltas})
    rows.sort(key=lambda r: -max(abs(d) for d in r["delta_pp"]))
    notes = []
    commands = {" ".join(map(str, r.profile.get("command") or [])) or f"pid {r.profile.get('pid')}" for r in profiled}
    if len(commands) > 1:
        notes.append("the runs profiled different commands: shares compare different workloads")
    for r in profiled:
        if not (r.profile.get("native") or {}).get("used"):
            notes.append(f"{r.label}: no native frames — its BLAS/framework time is counted as Python")
        for w in r.profile.get("warnings") or []:
            if w.startswith("only "):
                notes.append(f"{r.label}: {w}")
    notable = [r for r in rows if max(abs(d) for d in r["delta_pp"]) >= NOTABLE_PP]
    return {
        "runs": [{"label": r.label, "run_id": r.run_id, "command": r.profile.get("command"),
                  "samples": (r.profile.get("samples") or {}).get("total"), "duration_s": r.profile.get("duration_s"),
                  "native": (r.profile.get("native") or {}).get("used"),
                  "blas": (r.profile.get("blas") or {}).get("library") if isinstance(r.profile.get("blas"), dict) else None,
                  "blas_kernel": (r.profile.get("blas") or {}).get("kernel_in_frames")
                  if isinstance(r.profile.get("blas"), dict) else None}
                 for r in profiled],
        "basis": "main: share of the main thread's samples outside start-up (the program's wall time; null for "
                 "start-up itself); busy: share of the non-idle samples of every sampled thread; delta_pp: main "
                 "share minus the first run's, in percentage points (start-up: its busy share)",
        "categories": rows,
        "notable": [{"id": r["id"], "label": r["label"], "delta_pp": r["delta_pp"]} for r in notable],
        "notes": notes,
    }


# ---- renderers (format only) -------------------------------------------------------------------------

def _pct(v) -> str:
    return "—" if not isinstance(v, (int, float)) else f"{100 * v:.1f}%"


def _pp(v) -> str:
    return "—" if not isinstance(v, (int, float)) else f"{v:+.1f} pp"


def table_rows(section: dict) -> list[list[str]]:
    rows = []
    for r in section.get("categories") or []:
        cells = [str(r.get("label"))]
        for main, busy in zip(r.get("main") or [], r.get("busy") or []):
            cells.append(f"{_pct(main)} ({_pct(busy)} busy)")
        cells += [_pp(d) for d in (r.get("delta_pp") or [])[1:]]
        rows.append(cells)
    return rows


def columns(section: dict) -> list[str]:
    labels = [str(r.get("label")) for r in section.get("runs") or []]
    if len(set(labels)) < len(labels):          # same label twice: number them
        labels = [f"{label} #{i + 1}" for i, label in enumerate(labels)]
    return ["category"] + labels + [f"Δ {label}" for label in labels[1:]]


def headline(section: dict) -> str:
    notable = section.get("notable") or []
    runs = section.get("runs") or []
    if not notable or len(runs) < 2:
        return "No category's share of the main thread moved by 5 percentage points or more."
    parts = []
    for n in notable[:3]:
        r = next((c for c in section["categories"] if c["id"] == n["id"]), None)
        if r:
            parts.append(f"{n['label']} {_pct(r['main'][0])} → {_pct(r['main'][-1])}")
    return f"{runs[0]['label']} → {runs[-1]['label']}: " + "; ".join(parts)

"""Open an HTML file in Debian's headless chromium (driven by Playwright) with the network disabled.

Reusable by any test:

    from tests.browser.chromium import open_html, chromium_available
    result = open_html(path, screenshot="test-artifacts/compare.png")
    assert result.ok, result.problems          # or: result.assert_rendered()

Every request the page attempts is aborted and recorded (a self-contained report makes none; the
file:// load of the page itself is the only one allowed). Console errors and uncaught page errors are
recorded. Charts: every element matching ``chart_selector`` must contain a plotly ``.main-svg``.
Never runs ``playwright install``: it launches /usr/bin/chromium.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("STACKPROF_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def chromium_available() -> str | None:
    """None when a browser test can run, else the reason (for pytest.skip)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM}"
    return None


@dataclass
class PageResult:
    url: str
    requests: list[str] = field(default_factory=list)        # attempted (and aborted) network requests
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)         # alert()/confirm() a page must never open
    charts: dict[str, int] = field(default_factory=dict)     # chart div id -> number of .main-svg inside
    visible: dict[str, bool] = field(default_factory=dict)   # selector -> visible
    screenshot: Path | None = None
    title: str = ""
    evaluated: object = None

    @property
    def problems(self) -> list[str]:
        out = [f"network request attempted: {u}" for u in self.requests]
        out += [f"console error: {m}" for m in self.console_errors]
        out += [f"page error: {m}" for m in self.page_errors]
        out += [f"dialog opened: {m}" for m in self.dialogs]
        out += [f"chart not rendered: #{cid}" for cid, n in self.charts.items() if n < 1]
        out += [f"not visible: {sel}" for sel, ok in self.visible.items() if not ok]
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def assert_rendered(self, min_charts: int = 0) -> None:
        assert self.ok, "\n".join(self.problems)
        assert len(self.charts) >= min_charts, f"expected ≥ {min_charts} charts, found {len(self.charts)}"


def open_html(path: str | Path, *, screenshot: str | Path | None = None, chart_selector: str = "div.chart",
              must_be_visible: tuple[str, ...] = (), width: int = 1280, height: int = 900,
              timeout_ms: int = 30_000, evaluate: str | None = None) -> PageResult:
    """Load ``path`` offline, wait for the charts, collect what went wrong, optionally screenshot.

    ``evaluate``: a JS expression whose result is stored in ``result.evaluated``.
    """
    from playwright.sync_api import sync_playwright

    path = Path(path).resolve()
    result = PageResult(url=path.as_uri())
    with tempfile.TemporaryDirectory(prefix="stackprof-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS, offline=True,
            viewport={"width": width, "height": height}, service_workers="block")
        try:
            def on_route(route):
                if route.request.url != result.url:
                    result.requests.append(route.request.url)
                    route.abort()
                else:
                    route.continue_()
            context.route("**/*", on_route)
            page = context.new_page()
            page.on("console", lambda msg: msg.type == "error" and result.console_errors.append(msg.text))
            page.on("pageerror", lambda exc: result.page_errors.append(str(exc)))
            page.on("dialog", lambda dialog: (result.dialogs.append(dialog.message), dialog.dismiss()))
            page.on("request", lambda req: req.url != result.url and not req.url.startswith("data:")
                    and req.url not in result.requests and result.requests.append(req.url))
            page.goto(result.url, wait_until="load", timeout=timeout_ms)
            chart_ids = page.eval_on_selector_all(chart_selector, "els => els.map(e => e.id)")
            if chart_ids:
                try:   # plotly draws synchronously after load; allow for slow machines
                    page.wait_for_function(
                        "sel => Array.from(document.querySelectorAll(sel)).every("
                        "e => e.querySelector('.main-svg') || e.classList.contains('chart-error'))",
                        arg=chart_selector, timeout=timeout_ms)
                except Exception:   # noqa: BLE001 - reported per chart below
                    pass
            result.charts = page.eval_on_selector_all(
                chart_selector,
                "els => Object.fromEntries(els.map(e => [e.id, e.querySelectorAll('.main-svg').length]))")
            for selector in must_be_visible:
                result.visible[selector] = page.locator(selector).first.is_visible()
            result.title = page.title()
            if evaluate:
                result.evaluated = page.evaluate(evaluate)
            if screenshot:
                shot = Path(screenshot)
                shot = shot if shot.is_absolute() else ROOT / shot
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)
                result.screenshot = shot
        finally:
            context.close()
    return result

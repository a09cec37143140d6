"""The dashboard's chart choice, measured in Chromium: page weight and time to the first chart.

Compares the topic page as served (a Vega-Lite chart drawn in the browser by the vendored
vega, vega-lite and vega-embed scripts) with the same page carrying the server-drawn SVG of the
HTML digest (``newsmon.alerts.svg_chart``) and no chart scripts. Each load is in a fresh browser
context (cold cache), repeated; the figures are medians.

    python -m benchmarks.dashboard --db newsmon.duckdb [--topic russia-sanctions] [--repeat 7]

Needs a database with a snapshot (after ``newsmon run``), Debian's chromium and playwright.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from newsmon.alerts import svg_chart
from newsmon.trends import TrendPoint
from storage import dashboard as queries
from web.app import create_app
from web.queries import Filters, Window


def _serve(db: Path) -> tuple[str, Any]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = create_app(db)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,method-assign]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    server.app_reader = app.state.reader  # type: ignore[attr-defined]
    return f"http://127.0.0.1:{sock.getsockname()[1]}", (server, thread)


def _svg_variant(page_html: str, db: Path, topic: str) -> str:
    """The served page with the Vega-Lite chart and its scripts replaced by the digest's inline SVG."""
    reader = create_app(db).state.reader
    with reader.connection() as con:
        window = Window.of(con, Filters())
        rows = queries.topic_trend(con, topic, window.since, window.until)
    reader.close()
    points = [
        TrendPoint(r.day, r.stories, r.documents, r.baseline_days, r.baseline, r.variance, r.expected, r.ratio,
                   r.p_value, r.score, r.is_spike)
        for r in rows
    ]  # fmt: skip
    svg = svg_chart(points, topic)
    page_html = re.sub(r'<script src="/static/vendor/[^"]+" defer></script>\n?', "", page_html)
    page_html = re.sub(r'<script type="application/json" id="chart-trend">.*?</script>', "", page_html, flags=re.S)
    return re.sub(r'<div class="chart" data-chart="chart-trend"[^>]*></div>', svg, page_html)


def _load(browser: Any, url: str, html: str | None) -> tuple[int, float]:
    """Bytes transferred and milliseconds from navigation start to the first chart ``svg``."""
    context = browser.new_context()
    page = context.new_page()
    sizes: list[int] = []
    page.on("response", lambda r: sizes.append(len(r.body())) if r.ok else None)
    if html is not None:
        page.route(url, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html))
    page.goto(url, wait_until="commit")
    page.wait_for_selector("figure svg", timeout=30000)
    elapsed = page.evaluate("performance.now()")
    page.wait_for_load_state("load")
    total = sum(sizes)
    context.close()
    return total, float(elapsed)


def main() -> int:
    """Print the table of both variants."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("newsmon.duckdb"))
    parser.add_argument("--topic", default="russia-sanctions")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    base, (server, thread) = _serve(args.db)
    url = f"{base}/topics/{args.topic}"
    try:
        import httpx

        served = httpx.get(url, timeout=30).text
        variants: dict[str, str | None] = {
            "Vega-Lite (vendored scripts)": None,
            "inline SVG (server-drawn)": _svg_variant(served, args.db, args.topic),
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            results: dict[str, list[tuple[int, float]]] = {name: [] for name in variants}
            for _ in range(args.repeat):  # alternate, so machine noise hits both alike
                for name, html in variants.items():
                    results[name].append(_load(browser, url, html))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        server.app_reader.close()
    print(f"topic page {url} ({args.repeat} cold loads each, median; Chromium headless)")
    print(f"{'variant':32} {'bytes':>10} {'ms to chart svg':>16} {'min–max ms':>14}")
    for name, runs in results.items():
        times = [t for _, t in runs]
        print(f"{name:32} {runs[0][0]:>10,} {statistics.median(times):>16.0f} {min(times):>6.0f}–{max(times):<6.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

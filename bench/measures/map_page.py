"""The public map page (/map/) in headless Chromium on the archive of 1,000,000 reports: how long a
citizen waits from navigation until the first report tiles are drawn, against a bare page that
loads the same tiles with plain Leaflet.VectorGrid (the set-up is in `map_first_tiles`'s docstring,
which docs/benchmarks.md shows)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from bench.archive import archive_ensure
from bench.db import archive_size
from bench.registry import Result, measure, ratio_result, say
from bench.server import ServerConfig, gunicorn
from tests.browser import CHROMIUM, CHROMIUM_ARGS

ARCHIVE_SIZE = archive_size()
SERVER = ServerConfig(workers=3)
LOADS = 9
WARMUP_LOADS = 2
VIEWPORT: Any = {"width": 1280, "height": 900}
MAX_RATIO = 1.5
# Where the bare page is "served": Playwright answers this address itself (page.route), so the page
# is on the server's origin (its scripts and tiles come from the same gunicorn) without a view.
BARE_PATH = "/bench-bare-map/"

# The reference: Leaflet and Leaflet.VectorGrid from the app's static files, a map of the same size,
# centre and zoom as the project's, the same tile URL (open reports), each feature a plain circle;
# the mark is set at the first tile drawn with a feature, as the project's page sets it.
BARE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/leaflet/leaflet.css">
<style>body {{ margin: 0 }} #m {{ width: {width}px; height: {height}px }}</style></head>
<body><div id="m"></div>
<script src="/static/leaflet/leaflet.js"></script>
<script src="/static/npm/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js"></script>
<script>
var el = document.getElementById("m");
var map = L.map(el).setView([{lat}, {lon}], {zoom});
var style = {{radius: 7, fill: true, fillOpacity: 0.9, weight: 1}};
var layer = L.vectorGrid.protobuf("{tiles}", {{vectorTileLayerStyles: {{cells: style, reports: style}}}}).addTo(map);
layer.on("tileload", function (e) {{
  if (!el.hasAttribute("data-first-tiles-ms") && e.tile.querySelectorAll("path").length) {{
    el.setAttribute("data-first-tiles-ms", String(Math.round(performance.now())));
  }}
}});
</script></body></html>"""


def _p(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(percent / 100 * (len(ordered) - 1))))]


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _first_tiles_ms(browser: Any, url: str, *, bare_html: str | None = None) -> float:
    """One load in a fresh context (a first visit: nothing cached): navigation to the first report
    tile drawn, in ms, as the page itself marked it (performance.now(), from navigation start)."""
    context = browser.new_context(viewport=VIEWPORT, locale="fa-IR")
    try:
        page = context.new_page()
        if bare_html is not None:
            document = url.replace(BARE_PATH, "/map/")

            def answer(route: Any) -> None:
                # The document costs what the map page's costs: the server renders /map/ first.
                route.fetch(url=document).body()
                route.fulfill(status=200, content_type="text/html", body=bare_html)

            page.route(f"**{BARE_PATH}", answer)
        page.goto(url)
        selector = "[data-first-tiles-ms]"
        page.wait_for_selector(selector, state="attached", timeout=60_000)
        return float(page.get_attribute(selector, "data-first-tiles-ms") or "nan")
    finally:
        context.close()


@measure("map_first_tiles")
def map_first_tiles() -> list[Result]:
    """The public map page (`/map/`, Persian, the city's default view: the centre and zoom of the
    settings, zoom 12, where tiles hold counted cells) in headless Chromium (Debian's, through
    Playwright), at 1280 x 900 px, with no base-map tiles (`OPEN137_TILE_URL` empty, as without
    network): the time from navigation until the first report tile with a feature is drawn, as the
    page marks it (`performance.now()` at VectorGrid's first `tileload` whose tile holds a drawn
    symbol; maps/static/maps/map.js). Each load is a first visit (a new browser context: no HTTP
    cache), so it includes the HTML, the CSS and font, Leaflet and VectorGrid, and the page's own
    requests competing for the server (district outlines, the list of the reports in view with its
    count, the tiles). Server: gunicorn with 3 sync workers on 127.0.0.1 (bench/server.py), the bench
    database with its archive of 1,000,000 reports (bench/archive.py: 60 % in a 5 km Gaussian around
    Qazvin), static files collected as `make setup` does.

    The reference is a bare page loading the same tiles (the same URLs, open reports) with plain
    Leaflet.VectorGrid into a map of the same size, centre and zoom, with nothing else on the page:
    the least a browser needs to draw these tiles, so the ratio is what the page's own work costs.
    It is served on the same origin by Playwright itself (page.route), with its scripts from the same
    server; before answering, Playwright has the server render `/map/` (and throws it away), so the
    bare page's document costs the same server round trip as the project's and the ratio is what
    the page does after it (its style sheets and Persian font, its scripts, district outlines and
    list requests next to the tiles). The sides alternate, 2 warm-up loads each (PostgreSQL's cache, the workers' first
    requests), then 9 loads each; the figure is the median (p50), with a second row for p95.
    Target: at most 1.5 times the bare page's time."""
    name = "map_first_tiles"
    from django.conf import settings
    from django.core.management import call_command
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    archive = archive_ensure(ARCHIVE_SIZE)
    # The page's scripts as they are now (gunicorn serves var/static/ with DEBUG off).
    call_command("collectstatic", interactive=False, verbosity=0)
    say(name, f"archive of {archive.n:,} reports; starting {SERVER.describe()}")
    results: dict[str, list[float]] = {"project": [], "bare": []}
    with _environment(OPEN137_TILE_URL=""), gunicorn(SERVER) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The bare map is as large as the project's map on this screen.
            context = browser.new_context(viewport=VIEWPORT, locale="fa-IR")
            page = context.new_page()
            page.goto(f"{base}/map/")
            box = page.locator("#public-map").bounding_box()
            context.close()
            assert box is not None
            center = cast(tuple[float, float], settings.LEAFLET_CONFIG["DEFAULT_CENTER"])
            lat, lon = center
            bare_html = BARE_PAGE.format(
                width=round(box["width"]),
                height=round(box["height"]),
                lat=lat,
                lon=lon,
                zoom=settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
                tiles="/tiles/reports/{z}/{x}/{y}.mvt?status=open",
            )
            say(name, f"map {box['width']:.0f} x {box['height']:.0f} px; {WARMUP_LOADS} warm-up loads a side")
            for i in range(WARMUP_LOADS + LOADS):
                ours = _first_tiles_ms(browser, f"{base}/map/")
                bare = _first_tiles_ms(browser, base + BARE_PATH, bare_html=bare_html)
                if i >= WARMUP_LOADS:
                    results["project"].append(ours)
                    results["bare"].append(bare)
                    say(name, f"load {i - WARMUP_LOADS + 1}/{LOADS}: page {ours:.0f} ms, bare {bare:.0f} ms")
        finally:
            browser.close()
    ours_p50, bare_p50 = statistics.median(results["project"]), statistics.median(results["bare"])
    ours_p95, bare_p95 = _p(results["project"], 95), _p(results["bare"], 95)
    reference = (
        "bare page: plain Leaflet.VectorGrid, same tiles, map size, centre and zoom "
        f"({SERVER.describe()}, {archive.n:,}-report archive, first visit each load)"
    )
    return [
        ratio_result(
            name=row,
            value=ours,
            unit="ms",
            reference=f"{reference}, {label}",
            reference_value=bare,
            max_ratio=MAX_RATIO,
            digits=0,
        )
        for row, label, ours, bare in (
            (name, "p50", ours_p50, bare_p50),
            (f"{name}_p95", "p95", ours_p95, bare_p95),
        )
    ]

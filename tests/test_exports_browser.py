"""The offline map exports in Debian's Chromium: opened from a file with every network request
refused (none is made), no script error, each layer drawn (one SVG shape per cell, region or
hotspot, plus the district outlines), and the heatmap's cells summing to the number of reports the
list finds with the same filters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connections
from django.test import Client

from issues.filters import report_filters_parse
from issues.oversight.exports import map_export_html
from tests.browser import CHROMIUM_ARGS, chromium_or_skip, playwright_or_skip
from tests.test_heatmap import listed_count
from tests.test_hotspots import city_reports  # noqa: F401  (a fixture)

# ruff: noqa: F811  (the fixture imported above, named as a test's argument)

# Skipped without Playwright or Chromium, but a failure under CI=true (tests/browser.py).
playwright_sync = playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# The district outlines of the test city under every kind: R1, R2 and S11.
OUTLINES = 3

# The features of every GeoJSON layer folium drew, with their properties.
LAYERS_JS = """() => Object.keys(window).filter(k => window[k] instanceof L.GeoJSON).map(
    k => window[k].getLayers().map(l => l.feature.properties))"""


@pytest.fixture(scope="module")
def browser(django_db_setup, django_db_blocker) -> Iterator[object]:
    executable = chromium_or_skip()
    # Playwright's sync API keeps an event loop running in this thread, which makes Django think the
    # tests' plain synchronous ORM calls are async code.
    with pytest.MonkeyPatch.context() as mp, playwright_sync.sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def connections_closed() -> Iterator[None]:
    """Close the test's database connections after it: with Playwright's event loop running, the
    ORM's calls may open one of their own that would otherwise outlive the test database."""
    yield
    connections.close_all()


def open_offline(browser, tmp_path, page_html: str):
    """The page opened from a file, every other request refused and recorded; (page, requests,
    errors)."""
    path = tmp_path / "map.html"
    path.write_text(page_html, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="fa-IR")
    requests: list[str] = []
    errors: list[str] = []

    def refuse(route) -> None:
        if route.request.url == path.as_uri():
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane svg path")
    return page, requests, errors


def test_heatmap_opens_offline_with_its_cells_summing_to_the_list(browser, city, city_reports, tmp_path):
    client = Client()
    params = {"category": "pothole"}
    filters = report_filters_parse(params)
    page, requests, errors = open_offline(browser, tmp_path, map_export_html(kind="heatmap", filters=filters))
    assert requests == [] and errors == []
    layers = page.evaluate(LAYERS_JS)
    cells = [layer for layer in layers if layer and "count" in layer[0]]
    assert len(cells) == 1
    assert sum(p["count"] for p in cells[0]) == listed_count(client, **params) > 0
    assert page.locator("path.leaflet-interactive").count() == len(cells[0]) + OUTLINES
    assert page.locator(".o137-panel h1").inner_text() == "نقشهٔ گرمایی گزارش‌ها"
    assert page.locator(".leaflet-control-layers").is_visible()
    page.context.close()


def test_choropleth_opens_offline_with_a_shape_per_region(browser, city, city_reports, tmp_path):
    page, requests, errors = open_offline(
        browser, tmp_path, map_export_html(kind="choropleth", filters=report_filters_parse({}))
    )
    assert requests == [] and errors == []
    layers = page.evaluate(LAYERS_JS)
    regions = [layer for layer in layers if layer and "fill" in layer[0]]
    assert sorted(p["code"] for p in regions[0]) == ["R1", "R2"]
    client = Client()
    assert {p["code"]: p["count"] for p in regions[0]} == {
        "R1": listed_count(client, district="R1"),
        "R2": listed_count(client, district="R2"),
    }
    assert page.locator("path.leaflet-interactive").count() == 2 + OUTLINES
    page.context.close()


def test_hotspots_open_offline_as_circles(browser, city, city_reports, tmp_path):
    page, requests, errors = open_offline(
        browser, tmp_path, map_export_html(kind="hotspots", filters=report_filters_parse({}), min_reports=3)
    )
    assert requests == [] and errors == []
    # The recurring place, and a cluster of each category at R2's corner (min_reports=3).
    assert page.locator("path.leaflet-interactive").count() == 3 + OUTLINES
    page.locator("path.leaflet-interactive").last.hover(force=True)
    assert "گزارش" in page.locator(".leaflet-tooltip").inner_text()
    page.context.close()

"""Issue 9 attacked in Chromium: the offline map exports (issues/oversight/exports.py) with a
hostile district and category name. A council member opens the file on their own computer: a name
must show as text in its tooltip and never run as script (folium writes tooltip text into HTML and
into a JavaScript template literal as it is)."""

from __future__ import annotations

import pytest

from districts.models import District
from issues.filters import report_filters_parse
from issues.models import Category
from issues.oversight.exports import map_export_html
from tests.test_exports_browser import browser, connections_closed, open_offline  # noqa: F401  (fixtures)
from tests.test_hotspots import city_reports  # noqa: F401  (a fixture)

# ruff: noqa: F811  (the fixtures imported above, named as a test's argument)

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# Markup for innerHTML, a template literal's `${}` and a way out of it, and a way out of the script.
DISTRICT = '<img src=x onerror="window.__pwned=1"><b id=injected>R1</b>'
CATEGORY = "`+(window.__pwned=2)+`${window.__pwned=3}</script><script>window.__pwned=4</script>\\"


@pytest.fixture
def hostile(city, city_reports):
    District.objects.filter(code__in=["R1", "S11"]).update(name_fa=DISTRICT)
    Category.objects.filter(code="pothole").update(name_fa=CATEGORY)


@pytest.mark.parametrize("kind", ["heatmap", "choropleth", "hotspots"])
def test_offline_export_shows_hostile_names_as_text(browser, hostile, tmp_path, kind):
    extra = {"min_reports": 3} if kind == "hotspots" else {}
    page_html = map_export_html(kind=kind, filters=report_filters_parse({"category": "pothole"}), **extra)
    page, requests, errors = open_offline(browser, tmp_path, page_html)
    assert requests == [] and errors == []
    shown: list[str] = []
    shapes = page.locator("path.leaflet-interactive")
    for i in range(shapes.count()):
        shapes.nth(i).hover(force=True)
        tip = page.locator(".leaflet-tooltip")
        if tip.count():
            shown.append(tip.last.inner_text())
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#injected").count() == 0 and page.locator(".leaflet-tooltip img").count() == 0
    text = " ".join(shown)
    # The outline of R1 always, the category's name on the hotspots, R1 on its region.
    assert DISTRICT in text
    if kind == "hotspots":
        assert CATEGORY in text
    assert errors == []
    page.context.close()

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


# Each layer with a tooltip: open it, read its text and count the elements in it, close it.
TOOLTIPS_JS = """() => {
  const items = [];  // [the layer holding the tooltip, the shape it opens on]
  for (const key of Object.keys(window)) {
    const value = window[key];
    if (value instanceof L.GeoJSON) {
      value.eachLayer(l => items.push([l.getTooltip() ? l : value, l]));
    } else if (value instanceof L.Circle) {
      items.push([value, value]);
    }
  }
  const out = [];
  for (const [holder, shape] of items) {
    if (!holder.getTooltip()) { continue; }
    const at = shape.getBounds ? shape.getBounds().getCenter() : shape.getLatLng();
    // A group's tooltip opens on the shape it is told is its source (as a hover would set it).
    holder.getTooltip()._source = shape;
    holder.openTooltip(at);
    const el = holder.getTooltip().getElement();
    out.push({text: el.innerText, elements: el.querySelectorAll("img, b, script").length});
    holder.closeTooltip();
  }
  return out;
}"""


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
    # Every tooltip opened in turn (hovering would find the cells drawn over the outlines).
    tips = page.evaluate(TOOLTIPS_JS)
    page.wait_for_timeout(300)  # an <img src=x onerror> fires once its load fails
    shown = [tip["text"] for tip in tips]
    assert all(tip["elements"] == 0 for tip in tips), tips
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#injected").count() == 0
    text = " ".join(shown)
    # The outline of R1 always, the category's name on the hotspots, R1 on its region.
    assert DISTRICT in text
    if kind == "hotspots":
        assert CATEGORY in text
    assert errors == []
    page.context.close()

"""The public map (/map/) in a real browser: Debian's Chromium driven by Playwright against the live
server, with no base tiles (no network needed). The report tiles are requested and drawn (single
reports zoomed in, counted cells zoomed out), a category's toggle changes what is drawn, the status
filter too, the list beside the map shows the reports in view and links to their tracking pages
(and so does selecting a report on the map), the heatmap layer draws its cells, the participation
layer appears only when its endpoint answers, a phone gets the list below the map, and axe-core
finds no WCAG 2.1 AA violation in Persian or in English.

Screenshots land in var/screenshots/ for a human look at the Persian, right-to-left page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.gis.geos import Point
from django.utils import timezone

from districts.models import RoutingRule
from issues import cursor as cursor_module
from issues.models import Report
from tests.browser import CHROMIUM_ARGS, browser_missing, chromium_or_skip, playwright_or_skip
from tests.test_accessibility import AXE, _describe, _violations

# Skipped without Playwright or Chromium, but a failure under CI=true (tests/browser.py).
playwright_sync = playwright_or_skip()
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"

# Points well inside their zoom-14 tiles (away from the tiles' buffers, so each report is drawn
# once) and in the middle of one zoom-11 tile: three potholes in R1, two suggestions in R2, all open,
# and a closed pothole.
OPEN_POTHOLES = [(50.001, 36.265), (50.005, 36.270), (50.015, 36.274)]
OPEN_SUGGESTIONS = [(50.022, 36.268), (50.026, 36.272)]
CLOSED_POTHOLE = (50.0135, 36.266)
VIEW = "lat=36.2685&lon=50.0135"


@pytest.fixture(scope="module")
def browser(django_db_setup, django_db_blocker) -> Iterator[object]:
    executable = chromium_or_skip()
    if not AXE.exists():
        browser_missing("axe-core is not installed in node_modules (npm ci)")
    # Playwright's sync API keeps an event loop running in this thread, which makes Django think the
    # tests' plain synchronous ORM calls (and the database flush between tests) are async code.
    with pytest.MonkeyPatch.context() as mp, playwright_sync.sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _report(city, number: int, lon: float, lat: float, *, category, status: str = "received", **fields):
    return Report(
        tracking_code=f"MAPT{number:04d}",
        category=category,
        kind=category.kind,
        description=f"گزارش آزمایشی {number}",
        description_search=f"گزارش آزمایشی {number}",
        location=Point(lon, lat, srid=4326),
        status=status,
        district=city.districts["R1" if lon < 50.02 else "R2"],
        routing_rule=RoutingRule.COVERS,
        routed_at=timezone.now(),
        reporter_name="Quorvell Tamsby",
        reporter_phone="09127770123",
        private_token_hash=f"{number:064d}",
        **fields,
    )


@pytest.fixture
def site(settings, live_server, city):
    # No base tiles: the map must work on the district outlines and the report tiles alone.
    settings.OPEN137_TILE_URL = ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    rows = [_report(city, i, *p, category=city.pothole) for i, p in enumerate(OPEN_POTHOLES, 1)]
    rows += [_report(city, 10 + i, *p, category=city.suggestion) for i, p in enumerate(OPEN_SUGGESTIONS, 1)]
    rows.append(_report(city, 20, *CLOSED_POTHOLE, category=city.pothole, status="closed"))
    reports = Report.objects.bulk_create(rows)
    # Demo data: the list labels it (the API's `generated`).
    Report.objects.filter(tracking_code="MAPT0012").update(generated=True)
    return live_server.url, {r.tracking_code: r for r in reports}


def _page(browser, *, lang: str = "fa", width: int = 1280, height: int = 900, bypass_csp: bool = False):
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="fa-IR", bypass_csp=bypass_csp
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return context, page, errors


def _set_language(context, base: str, lang: str) -> None:
    context.add_cookies([{"name": django_settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": base}])


REPORTS = "#public-map path.map-report"


def _click_centre(page, selector: str) -> None:
    """A click where a user would point: the middle of the (first) symbol, whatever lies on top."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_report_tiles_are_requested_and_drawn_and_categories_toggle(browser, site):
    base, _reports = site
    context, page, errors = _page(browser)
    tiles: list[str] = []
    page.on("request", lambda r: tiles.append(r.url) if "/tiles/reports/" in r.url else None)
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    assert page.get_attribute("html", "dir") == "rtl"
    expect(page.locator(REPORTS)).to_have_count(5)
    # Zoom 14 is the detail zoom: single reports, in their category's colour, open ones only.
    assert any("/tiles/reports/14/" in url and "status=open" in url for url in tiles)
    expect(page.locator("#public-map path.map-report-pothole")).to_have_count(3)
    expect(page.locator("#public-map path.map-report-suggestion")).to_have_count(2)
    colours = {c["code"]: c["colour"] for c in json.loads(page.inner_text("#map-config"))["categories"]}
    assert page.get_attribute("#public-map path.map-report-pothole >> nth=0", "fill") == colours["pothole"]
    # Districts are drawn from the app's own API, with no base tiles.
    page.wait_for_selector("#public-map[data-districts-drawn]")
    page.screenshot(path=str(SCREENSHOTS / "public-map-fa.png"), full_page=True)

    # Suggestions off: the tiles are asked again without them, the list follows.
    tiles.clear()
    page.uncheck("#map-cat-suggestion")
    expect(page.locator("#public-map path.map-report-suggestion")).to_have_count(0)
    expect(page.locator("#public-map path.map-report-pothole")).to_have_count(3)
    assert any("category=pothole" in url for url in tiles)
    expect(page.locator("#map-reports li")).to_have_count(3)
    assert "category=pothole" in page.url
    # Every category off: nothing drawn, and the list says why.
    page.uncheck("#map-cat-pothole")
    expect(page.locator(REPORTS)).to_have_count(0)
    expect(page.locator("#map-summary")).to_contain_text("هیچ دسته‌ای انتخاب نشده است")
    page.check("#map-cat-pothole")
    page.check("#map-cat-suggestion")
    expect(page.locator(REPORTS)).to_have_count(5)
    # Closed reports: the one closed pothole.
    page.select_option("#map-status", "closed")
    expect(page.locator(REPORTS)).to_have_count(1)
    expect(page.locator("#map-reports li")).to_have_count(1)
    assert "MAPT-0020" in page.inner_text("#map-reports")
    assert errors == []
    context.close()


def test_zoomed_out_the_tiles_are_counted_cells(browser, site):
    base, _reports = site
    context, page, errors = _page(browser)
    page.goto(f"{base}/map/?{VIEW}&zoom=11")
    page.wait_for_selector("#public-map path.map-cell")
    expect(page.locator(REPORTS)).to_have_count(0)
    labels = page.locator("#public-map text.map-cell-label").all_text_contents()
    # Persian digits; the cells count the five open reports between them.
    assert labels and all(set(label) <= set("۰۱۲۳۴۵۶۷۸۹") for label in labels)
    assert sum(int(label.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))) for label in labels) == 5
    # Selecting a cell zooms in on it.
    _click_centre(page, "#public-map path.map-cell")
    expect(page).to_have_url(re.compile(r"zoom=13"))
    # Once more: up to the detail zoom, where the cells become the single reports.
    page.wait_for_selector("#public-map path.map-cell")
    _click_centre(page, "#public-map path.map-cell")
    expect(page).to_have_url(re.compile(r"zoom=14"))
    expect(page.locator(REPORTS).first).to_be_attached()
    assert errors == []
    context.close()


def test_the_list_shows_the_reports_in_view_and_links_to_their_tracking_pages(browser, site):
    base, _reports = site
    context, page, errors = _page(browser)
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    items = page.locator("#map-reports li")
    expect(items).to_have_count(5)
    expect(page.locator("#map-summary")).to_have_text("۵ گزارش در این نما.")
    hrefs = page.locator("#map-reports a").evaluate_all("links => links.map((a) => a.getAttribute('href'))")
    assert sorted(hrefs) == sorted(
        f"/track/{code}/" for code in ("MAPT0001", "MAPT0002", "MAPT0003", "MAPT0011", "MAPT0012")
    )
    first = page.locator("#map-reports li", has_text="MAPT-0011")
    expect(first).to_contain_text("گزارش آزمایشی 11")
    # Demo data is labelled as such (the API's `generated`), real reports are not.
    expect(page.locator("#map-reports li", has_text="MAPT-0012").locator(".tag.generated")).to_have_text(
        "ساختگی"
    )
    expect(first.locator(".tag.generated")).to_have_count(0)
    # Moving the map away: the list follows what is on screen.
    page.goto(f"{base}/map/?lat=36.2685&lon=50.035&zoom=16")
    expect(page.locator("#map-summary")).to_have_text("در این نما گزارشی با این فیلترها نیست.")
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    # The keyboard's path: the list's link opens the tracking page.
    page.locator("#map-reports a", has_text="MAPT-0011").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/track/MAPT0011/")
    # And a report selected on the map too.
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    _click_centre(page, "#public-map path.map-report-suggestion")
    page.wait_for_url("**/track/MAPT001*/")
    assert errors == []
    context.close()


def test_the_more_button_pages_through_a_long_list(browser, site, city):
    base, _reports = site
    many = [_report(city, 100 + i, 50.004 + i * 0.00005, 36.269, category=city.pothole) for i in range(60)]
    Report.objects.bulk_create(many)
    context, page, errors = _page(browser, lang="en")
    _set_language(context, base, "en")
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    expect(page.locator("#map-reports li")).to_have_count(50)
    expect(page.locator("#map-summary")).to_have_text("65 reports in this view; the first 50 are listed.")
    page.click("#map-more")
    expect(page.locator("#map-reports li")).to_have_count(65)
    expect(page.locator("#map-summary")).to_have_text("65 reports in this view.")
    expect(page.locator("#map-more")).to_be_hidden()
    assert errors == []
    context.close()


def test_a_capped_count_reads_as_more_than_the_cap(browser, site, city, monkeypatch):
    """Past its cap the API says `count_capped` (10,000 and more at a million reports): the summary
    says "10,000+", not "the first 50 of 10,000". The cap is lowered to 60 for 65 reports in view."""
    monkeypatch.setattr(cursor_module, "COUNT_CAP", 60)
    base, _reports = site
    many = [_report(city, 100 + i, 50.004 + i * 0.00005, 36.269, category=city.pothole) for i in range(60)]
    Report.objects.bulk_create(many)
    context, page, errors = _page(browser, lang="en")
    _set_language(context, base, "en")
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    expect(page.locator("#map-reports li")).to_have_count(50)
    expect(page.locator("#map-summary")).to_have_text("60+ reports in this view; the first 50 are listed.")
    # The next page is the last: every report is listed, and the list is the exact count.
    page.click("#map-more")
    expect(page.locator("#map-reports li")).to_have_count(65)
    expect(page.locator("#map-summary")).to_have_text("65 reports in this view.")
    context.close()
    # In Persian, with Persian digits.
    context, page, more_errors = _page(browser)
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    expect(page.locator("#map-summary")).to_have_text("۶۰+ گزارش در این نما؛ ۵۰ گزارش نخست فهرست شده‌اند.")
    assert errors == [] and more_errors == []
    context.close()


def test_the_heatmap_layer_draws_cells(browser, site):
    base, _reports = site
    context, page, errors = _page(browser)
    heat: list[str] = []
    page.on("request", lambda r: heat.append(r.url) if "/api/heatmap/" in r.url else None)
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    expect(page.locator(REPORTS)).to_have_count(5)
    expect(page.locator("#map-legend-heat")).to_be_hidden()
    page.check("#map-layer-heatmap")
    page.wait_for_selector("#public-map path.map-heat-cell")
    assert page.locator("#public-map path.map-heat-cell").count() >= 3
    assert any("zoom=14" in url and "bbox=" in url and "status=open" in url for url in heat)
    expect(page.locator("#map-legend-heat")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "public-map-heatmap-fa.png"), full_page=True)
    # With the filters: suggestions off, fewer cells.
    page.uncheck("#map-cat-suggestion")
    expect(page.locator("#public-map path.map-heat-cell")).to_have_count(3)
    page.uncheck("#map-layer-heatmap")
    expect(page.locator("#public-map path.map-heat-cell")).to_have_count(0)
    assert errors == []
    context.close()


def test_participation_points_appear_only_when_their_endpoint_answers(browser, site):
    base, _reports = site
    points = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [50.01, 36.27]},
                "properties": {
                    "id": 1,
                    "kind": "salt_bin",
                    "name_fa": "جعبه نمک <b>میدان</b>",
                    "name_en": "Salt bin",
                    "status": "stocked",
                    "url": "/participation/points/1/",
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [50.03, 36.27]},
                "properties": {
                    "id": 2,
                    "kind": "salt_bin",
                    "name_fa": "جعبه نمک دوم",
                    "name_en": "Second bin",
                    "status": "empty",
                    "url": "javascript:alert(1)",
                },
            },
        ],
    }
    context, page, errors = _page(browser)
    page.route(
        "**/api/participation/points/",
        lambda route: route.fulfill(status=200, content_type="application/geo+json", body=json.dumps(points)),
    )
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    expect(page.locator("#map-layer-participation-row")).to_be_visible()
    expect(page.locator("#public-map path.map-point-stocked")).to_have_count(1)
    expect(page.locator("#public-map path.map-point-empty")).to_have_count(1)
    _click_centre(page, "#public-map path.map-point-stocked")
    popup = page.locator(".leaflet-popup-content")
    # The name is text, never markup; the link is the app's own.
    expect(popup).to_contain_text("جعبه نمک <b>میدان</b>")
    assert popup.locator("a").get_attribute("href") == "/participation/points/1/"
    page.uncheck("#map-layer-participation")
    expect(page.locator("#public-map path.map-point-stocked")).to_have_count(0)
    context.close()

    # The endpoint missing (or failing): no toggle, no error.
    context, page, errors = _page(browser)
    page.route("**/api/participation/points/", lambda route: route.fulfill(status=404, body="{}"))
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    expect(page.locator(REPORTS)).to_have_count(5)
    expect(page.locator("#map-layer-participation-row")).to_be_hidden()
    assert [e for e in errors if "404" not in e] == []
    context.close()


def test_on_a_phone_the_list_is_below_the_map(browser, site):
    base, _reports = site
    context, page, errors = _page(browser, width=360, height=740)
    page.goto(f"{base}/map/?{VIEW}&zoom=13")
    page.wait_for_selector("#public-map path.map-report, #public-map path.map-cell")
    expect(page.locator("#map-reports li")).to_have_count(5)
    map_box = page.locator("#public-map").bounding_box()
    list_box = page.locator("#map-list").bounding_box()
    assert map_box and list_box and list_box["y"] >= map_box["y"] + map_box["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SCREENSHOTS / "public-map-fa-phone.png"), full_page=True)
    assert errors == []
    context.close()


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_no_wcag_21_aa_violation_on_the_map(browser, site, lang):
    base, _reports = site
    context, page, _errors = _page(browser, lang=lang, bypass_csp=True)
    _set_language(context, base, lang)
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    expect(page.locator(REPORTS)).to_have_count(5)
    expect(page.locator("#map-reports li")).to_have_count(5)
    page.wait_for_selector("#public-map[data-districts-drawn]")
    page.check("#map-layer-heatmap")
    page.wait_for_selector("#public-map path.map-heat-cell")
    assert page.get_attribute("html", "lang") == lang
    found = _describe(f"[{lang}] map", _violations(page))
    # Zoomed out too (the cells and their labels), and with a filter refused (the error box).
    page.goto(f"{base}/map/?{VIEW}&zoom=11&status=bogus")
    page.wait_for_selector("#public-map text.map-cell-label")
    found += _describe(f"[{lang}] map, zoomed out, a filter refused", _violations(page))
    page.screenshot(path=str(SCREENSHOTS / f"a11y-{lang}-public-map.png"), full_page=True)
    assert found == []
    context.close()


# A recurring pothole: six reports a few metres apart (two closed after a repair, one generated),
# west of the view's centre; the pothole's Persian name made hostile (names are data, never markup).
HOSTILE = '<img src=x onerror="window.__pwned=1">چاله'
HOTSPOT = "#public-map path.map-hotspot"


@pytest.fixture
def cluster(site, city):
    rows = [
        _report(
            city,
            200 + i,
            50.008 + i * 0.0001,
            36.2678,
            category=city.pothole,
            status="closed" if i < 2 else "received",
            generated=i == 5,
        )
        for i in range(6)
    ]
    Report.objects.bulk_create(rows)
    # The first of them forty days ago: a window of 7 days finds the five since.
    Report.objects.filter(tracking_code="MAPT0200").update(created_at=timezone.now() - timedelta(days=40))
    type(city.pothole).objects.filter(pk=city.pothole.pk).update(name_fa=HOSTILE)
    return site


def test_the_hotspot_layer_draws_and_lists_the_places_that_recur(browser, cluster):
    base, _reports = cluster
    context, page, errors = _page(browser)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/hotspots/" in r.url else None)
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    # The map shows the open reports: the five of the site and four of the cluster.
    expect(page.locator(REPORTS)).to_have_count(9)
    # Off by default: nothing asked, nothing drawn, no list, no legend entry.
    expect(page.locator("#map-hotspots")).to_be_hidden()
    expect(page.locator("#map-legend-hotspots")).to_be_hidden()
    assert asked == [] and page.locator(HOTSPOT).count() == 0

    page.check("#map-layer-hotspots")
    expect(page.locator(HOTSPOT)).to_have_count(1)
    # All time and every category: the API's longest window, no category filter.
    assert asked[-1].endswith("/api/hotspots/?days=366")
    expect(page.locator("#map-legend-hotspots")).to_be_visible()
    items = page.locator("#map-hotspot-list li")
    expect(items).to_have_count(1)
    item = items.first
    # The category's name as text (the hostile markup shows as characters), the count in Persian
    # digits (closed reports count: the problem came back), the period, the verdict, the demo label.
    expect(item.locator(".map-hotspot-name")).to_have_text(HOSTILE)
    expect(item.locator(".map-hotspot-count")).to_have_text("۶ گزارش")
    # From forty days ago to today, Jalali, in Persian digits.
    day = "[۰-۹]+ [^ ]+ [۰-۹]{4}"
    assert re.fullmatch(f"از {day} تا {day}", item.locator(".map-hotspot-period").inner_text())
    expect(item.locator(".map-hotspot-candidate")).to_have_text("گزینه‌ای برای رفع ماندگار")
    expect(item.locator(".tag.generated")).to_have_text("۱ مورد از آن‌ها داده ساختگی نمایشی")
    hrefs = item.locator("a").evaluate_all("links => links.map((a) => a.getAttribute('href'))")
    assert hrefs == [f"/track/MAPT{n:04d}/" for n in (205, 204, 203, 202, 201)]
    expect(page.locator("#map-hotspots-summary")).to_have_text("۱ کانون تکرار در این نما (۱ در کل).")
    expect(page.locator("#map-hotspots-window")).to_contain_text("دست‌کم ۵ گزارش از یک دسته")
    # A bigger count draws a bigger circle than the smallest radius (sized by count).
    box = page.locator(HOTSPOT).bounding_box()
    assert box and box["width"] > 2 * 9 + 6
    page.screenshot(path=str(SCREENSHOTS / "public-map-hotspots-fa.png"), full_page=True)

    # The keyboard's path: the list's button shows it on the map, with its popup. Its name begins
    # with what it says and names the hotspot.
    assert item.locator("button.map-hotspot-show").get_attribute("aria-label") == (
        f"نشان دادن روی نقشه: {HOSTILE} (۶ گزارش)"
    )
    item.locator("button.map-hotspot-show").focus()
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    expect(popup.locator(".map-hotspot-name")).to_have_text(HOSTILE)
    expect(popup).to_contain_text("گزینه‌ای برای رفع ماندگار")
    expect(popup).to_contain_text("۶ گزارش")
    expect(page).to_have_url(re.compile(r"zoom=16"))
    assert page.evaluate("window.__pwned") is None
    page.keyboard.press("Escape")

    # The filters: the last 7 days asks for 7 days and finds five of them (reported today: one day);
    # suggestions only finds none.
    page.select_option("#map-window", "7")
    expect(item.locator(".map-hotspot-count")).to_have_text("۵ گزارش")
    assert asked[-1].endswith("/api/hotspots/?days=7")
    assert re.fullmatch(day, item.locator(".map-hotspot-period").inner_text())
    page.uncheck("#map-cat-pothole")
    expect(page.locator(HOTSPOT)).to_have_count(0)
    assert asked[-1].endswith("/api/hotspots/?category=suggestion&days=7")
    expect(page.locator("#map-hotspots-summary")).to_have_text("با این فیلترها کانون تکراری نیست.")
    page.check("#map-cat-pothole")
    expect(page.locator(HOTSPOT)).to_have_count(1)

    # Off again: gone from the map, the list and the legend.
    page.uncheck("#map-layer-hotspots")
    expect(page.locator(HOTSPOT)).to_have_count(0)
    expect(page.locator("#map-hotspots")).to_be_hidden()
    expect(page.locator("#map-legend-hotspots")).to_be_hidden()
    assert errors == []
    context.close()


def test_the_hotspot_list_follows_the_view_and_the_map_circle_opens_its_popup(browser, cluster):
    base, _reports = cluster
    context, page, errors = _page(browser, lang="en")
    _set_language(context, base, "en")
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    page.check("#map-layer-hotspots")
    expect(page.locator("#map-hotspot-list li")).to_have_count(1)
    expect(page.locator("#map-hotspots-summary")).to_have_text("1 hotspots in this view (1 in all).")
    expect(page.locator("#map-hotspot-list .map-hotspot-count")).to_have_text("6 reports")
    # Selected on the map (above its centre, where the reports' own dots lie and open their pages):
    # the popup says what it is, in English.
    box = page.locator(HOTSPOT).bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + 5)
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("Candidate for a lasting fix")
    expect(popup.locator(".map-hotspot-count")).to_have_text("6 reports")
    # Moved away: still drawn (the city's hotspots), no longer listed as in view.
    page.goto(f"{base}/map/?lat=36.2685&lon=50.06&zoom=16")
    page.check("#map-layer-hotspots")
    expect(page.locator("#map-hotspots-summary")).to_have_text("No hotspot in this view.")
    expect(page.locator("#map-hotspot-list li")).to_have_count(0)
    assert errors == []
    context.close()


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_no_wcag_21_aa_violation_with_the_hotspot_layer_on(browser, cluster, lang):
    base, _reports = cluster
    context, page, _errors = _page(browser, lang=lang, bypass_csp=True)
    _set_language(context, base, lang)
    page.goto(f"{base}/map/?{VIEW}&zoom=14")
    page.wait_for_selector("#public-map[data-districts-drawn]")
    page.check("#map-layer-hotspots")
    expect(page.locator("#map-hotspot-list li")).to_have_count(1)
    found = _describe(f"[{lang}] map with hotspots", _violations(page))
    # With a hotspot's popup open too.
    page.locator("#map-hotspot-list button.map-hotspot-show").click()
    expect(page.locator(".leaflet-popup-content .map-hotspot-candidate")).to_be_visible()
    # Once faded in (Leaflet's fade: a half-transparent popup is no contrast to measure).
    page.wait_for_function("() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    found += _describe(f"[{lang}] map with a hotspot's popup", _violations(page))
    page.screenshot(path=str(SCREENSHOTS / f"a11y-{lang}-public-map-hotspots.png"), full_page=True)
    assert found == []
    context.close()

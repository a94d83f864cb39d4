"""The citizen's flow in a real browser: Debian's Chromium driven by Playwright, against the live
server, with no base tiles (no network needed): pick a category, tap the map, describe, send, read
the tracking code, follow the report. Also: a 360-pixel phone screen has no horizontal scroll.

Screenshots land in var/screenshots/ for a human look at the Persian, right-to-left pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from issues.models import Report, ReportStatus
from tests.browser import CHROMIUM_ARGS, chromium_or_skip, playwright_or_skip
from tests.test_pages import build_town

# Skipped without Playwright or Chromium, but a failure under CI=true (tests/browser.py).
playwright_sync = playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser(django_db_setup, django_db_blocker) -> Iterator[object]:
    executable = chromium_or_skip()
    # Playwright's sync API keeps an event loop running in this thread, which makes Django think the
    # tests' plain synchronous ORM calls (and the database flush between tests) are async code.
    with pytest.MonkeyPatch.context() as mp, playwright_sync.sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(settings, live_server):
    # No base tiles: the pages must work on the district outlines alone, and the test needs no network.
    settings.OPEN137_TILE_URL = ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    town = build_town()
    return live_server.url, town


def _errors_collector(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_report_a_problem_with_the_map_and_follow_it(browser, site):
    base, _town = site
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="fa-IR")
    page = context.new_page()
    errors = _errors_collector(page)
    page.goto(f"{base}/report/")
    assert page.get_attribute("html", "dir") == "rtl"
    # The district outlines are drawn from the app's own API (there are no tiles).
    page.wait_for_selector("#report-map .leaflet-overlay-pane path")
    page.screenshot(path=str(SCREENSHOTS / "report-fa-desktop.png"))

    page.click("label[for=cat-pothole]")
    box = page.locator("#report-map").bounding_box()
    assert box is not None
    # The map is fitted to the two regions side by side: a quarter from the left is in the western one.
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    assert page.input_value("#id_lat") and page.input_value("#id_lon")
    page.wait_for_selector("#report-map .leaflet-marker-icon")
    assert "نشانه گذاشته شد" in page.inner_text("#pin-status")
    # No open report of this category nearby yet: the list says so.
    page.wait_for_selector("#nearby:not([hidden])")
    assert "گزارش بازی" in page.inner_text("#nearby")
    page.fill("#id_description", "چاله عمیق کنار ایستگاه اتوبوس")
    page.screenshot(path=str(SCREENSHOTS / "report-fa-filled.png"))
    page.click("#report-submit")
    page.wait_for_url("**/report/thanks/**")

    code = page.get_attribute("#tracking-code", "data-code")
    assert code and page.inner_text("#tracking-code").strip() == f"{code[:4]}-{code[4:]}"
    assert "?t=" in page.inner_text(".private-url")
    page.screenshot(path=str(SCREENSHOTS / "thanks-fa.png"))
    report = Report.objects.get(tracking_code=code)
    assert report.district.code == "R1" and report.description == "چاله عمیق کنار ایستگاه اتوبوس"

    page.click(".private-url a")
    # The private link is exchanged for the session: the address bar keeps no token.
    page.wait_for_url(f"**/track/{code}/")
    assert page.inner_text("#tracking-code").strip() == f"{code[:4]}-{code[4:]}"
    assert page.inner_text("#report-status").strip() == "ارجاع به واحد"  # routed: in its unit's inbox at once
    assert "واحد راه منطقه مرکزی" in page.inner_text("#report-unit")
    page.wait_for_selector("#track-map .leaflet-marker-icon")
    page.screenshot(path=str(SCREENSHOTS / "track-fa.png"), full_page=True)

    # The unit reports the work done; through the private link the citizen says it is not fixed.
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.DONE)
    page.reload()
    page.check("input[name=fixed][value=no]")
    page.fill("#id_note", "هنوز چاله هست")
    page.screenshot(path=str(SCREENSHOTS / "track-fa-feedback.png"), full_page=True)
    page.click(".feedback-form button[type=submit]")
    page.wait_for_selector(".message.success")
    assert "گزارش‌دهنده می‌گوید مشکل برطرف نشده است" in page.inner_text("#timeline")

    # A second citizen, on the same spot, is offered the first report: "me too".
    page.goto(f"{base}/report/")
    page.click("label[for=cat-pothole]")
    page.wait_for_selector("#report-map .leaflet-overlay-pane path")
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.wait_for_selector(f"#nearby a[href='/track/{code}/']")
    page.click("#nearby .me-too")
    # Locators, not wait_for_function: the pages' Content-Security-Policy forbids evaluating strings.
    playwright_sync.expect(page.locator("#nearby .me-too").first).to_be_disabled()
    playwright_sync.expect(page.locator("#pin-status")).to_contain_text("همراهی شما ثبت شد")
    page.screenshot(path=str(SCREENSHOTS / "report-fa-nearby.png"))
    report.refresh_from_db()
    assert report.support_count == 1
    assert errors == []
    context.close()


def test_use_my_location_puts_the_pin_where_the_phone_is(browser, site):
    # The phone says it is in the eastern region (R2): "use my location" puts the pin there, the
    # report is routed there; a phone that refuses to tell says so and leaves the map to the citizen.
    base, _town = site
    here = {"latitude": 36.2712, "longitude": 50.0305}
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="fa-IR", geolocation=here, permissions=["geolocation"]
    )
    page = context.new_page()
    errors = _errors_collector(page)
    page.goto(f"{base}/report/")
    page.wait_for_selector("#report-map .leaflet-overlay-pane path")
    page.click("label[for=cat-pothole]")
    page.click("#locate-me")
    page.wait_for_selector("#report-map .leaflet-marker-icon")
    playwright_sync.expect(page.locator("#id_lat")).to_have_value("36.271200")
    playwright_sync.expect(page.locator("#id_lon")).to_have_value("50.030500")
    page.fill("#id_description", "چاله جلوی مدرسه")
    page.click("#report-submit")
    page.wait_for_url("**/report/thanks/**")
    report = Report.objects.get(tracking_code=page.get_attribute("#tracking-code", "data-code"))
    assert report.district.code == "R2"
    assert (round(report.location.y, 6), round(report.location.x, 6)) == (36.2712, 50.0305)
    assert errors == []
    context.close()

    refusing = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    page = refusing.new_page()
    page.goto(f"{base}/report/")
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    page.wait_for_selector("#report-map .leaflet-overlay-pane path")
    page.click("#locate-me")
    playwright_sync.expect(page.locator("#pin-status")).to_contain_text("Could not get your location")
    assert page.input_value("#id_lat") == "" and page.locator("#report-map .leaflet-marker-icon").count() == 0
    refusing.close()


def test_phone_screen_has_no_horizontal_scroll_and_reports_by_district_name(browser, site):
    base, _town = site
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="fa-IR",
    )
    page = context.new_page()
    errors = _errors_collector(page)
    page.goto(f"{base}/report/")
    assert page.get_attribute("html", "dir") == "rtl"
    page.wait_for_selector("#report-map .leaflet-overlay-pane path")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SCREENSHOTS / "report-fa-360.png"), full_page=True)

    # Without the map: the district's name (typed on an Arabic keyboard, ي) places the report.
    page.click("label[for=cat-pothole]")
    page.fill("#id_place", "شمالي")
    page.fill("#id_description", "چراغ خیابان خاموش است")
    page.click("#report-submit")
    page.wait_for_url("**/report/thanks/**")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SCREENSHOTS / "thanks-fa-360.png"), full_page=True)
    code = page.get_attribute("#tracking-code", "data-code")
    page.goto(f"{base}/track/{code}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.inner_text("#report-status").strip() == "ارجاع به واحد"  # routed: in its unit's inbox at once
    page.screenshot(path=str(SCREENSHOTS / "track-fa-360.png"), full_page=True)
    assert Report.objects.get(tracking_code=code).district.code == "R2"

    # A missing location is caught before sending (photos chosen would survive), with keyboard focus.
    page.goto(f"{base}/report/")
    page.click("label[for=cat-pothole]")
    page.click("#report-submit")
    assert page.url.endswith("/report/")
    assert "هنوز نشانه‌ای نیست" in page.inner_text("#pin-status")
    assert errors == []
    context.close()


def test_english_page_is_left_to_right(browser, site):
    base, _town = site
    # A phone set to English still gets Persian first; the citizen switches with one click.
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{base}/report/")
    assert page.get_attribute("html", "dir") == "rtl"
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    assert page.url.endswith("/report/")
    assert page.get_attribute("html", "dir") == "ltr"
    page.wait_for_selector("#report-map .leaflet-overlay-pane path")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SCREENSHOTS / "report-en-360.png"))
    context.close()


def test_without_javascript_the_form_still_works(browser, site):
    base, _town = site
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="fa-IR", java_script_enabled=False
    )
    page = context.new_page()
    page.goto(f"{base}/report/")
    assert page.is_hidden("#report-map")  # no empty map box without its script
    page.click("label[for=cat-pothole]")
    page.fill("#id_description", "درخت افتاده")
    page.click("#report-submit")
    # No location: the form comes back with the message by the location, the fields kept.
    assert "این موضوع به مکان نیاز دارد" in page.inner_text("#location-errors")
    assert page.input_value("#id_description") == "درخت افتاده"
    assert page.is_checked("#cat-pothole")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SCREENSHOTS / "report-fa-360-nojs-error.png"), full_page=True)
    page.fill("#id_place", "مرکزی")
    page.click("#report-submit")
    page.wait_for_url("**/report/thanks/**")
    assert (
        Report.objects.get(tracking_code=page.get_attribute("#tracking-code", "data-code")).district.code
        == "R1"
    )
    context.close()


XSS_NAME = "<img src=x onerror=alert(1)>"


def test_district_names_are_text_in_map_tooltips(browser, site):
    # District names come from imported GIS files (OSM tags): one named like markup must show as
    # those characters in the map's tooltips, never become an element.
    from django.contrib.gis.geos import Point

    from districts.services import boundary_set_activate, boundary_set_create, district_create
    from geo.srid import GEO_SRID
    from issues.models import Channel
    from issues.services.submission import report_submit
    from tests.test_pages import rect

    base, town = site
    hostile = boundary_set_create(name="imported from OSM")
    district_create(
        boundary_set=hostile,
        code="X<b>1</b>",
        name_fa=XSS_NAME,
        name_en=XSS_NAME + " en",
        boundary=rect(50.00, 36.26, 50.04, 36.28),
    )
    boundary_set_activate(boundary_set=hostile)
    context = browser.new_context(viewport={"width": 1024, "height": 760}, locale="fa-IR")
    page = context.new_page()
    errors = _errors_collector(page)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    # A request for the broken image's "x" would mean the name was parsed as HTML.
    fetched_x: list[str] = []
    page.on("request", lambda request: fetched_x.append(request.url) if request.url.endswith("/x") else None)

    def hover_and_read(map_selector: str) -> str:
        page.wait_for_selector(f"{map_selector} .leaflet-overlay-pane path")
        box = page.locator(map_selector).bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.5)
        tooltip = page.wait_for_selector(f"{map_selector} .leaflet-tooltip")
        assert tooltip is not None
        assert page.locator(f"{map_selector} .leaflet-tooltip img").count() == 0
        assert page.locator(f"{map_selector} .leaflet-tooltip b").count() == 0
        return tooltip.inner_text()

    # The home page (its own script now reuses mapbase.js): the name, then the code, both as text.
    page.goto(f"{base}/")
    text = hover_and_read("#map")
    assert XSS_NAME in text and "X<b>1</b>" in text
    page.screenshot(path=str(SCREENSHOTS / "home-fa-hostile-name.png"))

    # The tracking page's small map names the districts too.
    submission = report_submit(
        category=town.pothole,
        location=Point(50.01, 36.27, srid=GEO_SRID),
        description="چاله",
        channel=Channel.WEB,
    )
    code = submission.report.tracking_code
    page.goto(f"{base}/track/{code}/")
    page.locator("#track-map").scroll_into_view_if_needed()
    assert XSS_NAME in hover_and_read("#track-map")

    assert dialogs == [] and fetched_x == []
    assert errors == []
    context.close()

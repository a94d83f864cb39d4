"""Hostile text in a real browser (Debian's Chromium through Playwright, against the live server, no
base tiles, no network): reports whose description, the reporter's addition and a staff note are
script tags, tags without `>`, attribute break-outs, `javascript:` URLs, right-to-left overrides and
4,000 characters of markup. On the tracking page, the report page's "already reported nearby" list
and map (where report text reaches the DOM from the API, through report.js), the home page's
district tooltips (a district name is imported data, as hostile as any) and the console's report
page, inbox and pin popups: no dialog fires, no element of the payload exists, and the text is
there, visible, as typed.

The server side of the same (every output, parsed): tests/test_hostile_text.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from districts.models import District
from issues.models import Report
from issues.services.citizen import report_add_info
from issues.services.submission import report_submit
from issues.workflow.services import report_transition
from tests.conftest import STAFF_PASSWORD, pt
from tests.test_hostile_text import HOSTILE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Debian's Chromium and its flags, as in tests/test_browser.py.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# What the payloads would create if any of them were parsed as HTML.
PAYLOAD_ELEMENTS = (
    "img[src=x]",
    "svg[onload]",
    "[onerror]",
    "[onload]",
    "[onmouseover]",
    "a[href^='javascript:']",
    "b[dir=rtl]",
    "i",
    "script:not([src]):not([type='application/json'])",
)


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _no_browser(reason: str) -> None:
    # On CI a missing browser is a broken set-up, not a reason to pass.
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(django_db_setup, django_db_blocker) -> Iterator[Any]:
    try:
        from playwright import sync_api
    except ImportError:
        _no_browser("Playwright is not installed")
    if not Path(CHROMIUM).exists():
        _no_browser(f"Chromium is not installed at {CHROMIUM}")
    # Playwright's sync API keeps an event loop running in this thread, which makes Django think the
    # tests' plain synchronous ORM calls (and the database flush between tests) are async code.
    with pytest.MonkeyPatch.context() as mp, sync_api.sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(settings, live_server, tmp_path) -> str:
    settings.OPEN137_TILE_URL = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPEN137_RATE_REPORTS = ""
    settings.OPEN137_RATE_UPDATES = ""
    settings.OPEN137_SMS_BACKEND = "log"
    settings.OPEN137_SMS_LOG_FILE = tmp_path / "sms.log"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return live_server.url


class Watch:
    """A page with everything that must not happen recorded: dialogs (alert, confirm, prompt) and
    script errors."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def assert_clean(self, where: str) -> None:
        # Give any injected handler (an image's onerror, an svg's onload) its chance to run.
        self.page.wait_for_timeout(150)
        assert self.dialogs == [], where
        assert self.errors == [], where
        for selector in PAYLOAD_ELEMENTS:
            assert self.page.query_selector(selector) is None, f"{where}: {selector}"


def _file(city, staff, text: str, point: tuple[float, float]) -> Report:
    """A report carrying `text` in its description and name, the same text added by the reporter
    (private link) and as a public staff note."""
    report = report_submit(
        category=city.pothole, location=pt(*point), description=text, reporter_name=text[:200].strip()
    ).report
    report_add_info(report=report, text=text)
    report_transition(report=report, action="note", actor=staff.operator, note=text)
    report.refresh_from_db()
    return report


def test_tracking_and_console_pages_show_hostile_text_as_text(browser, site, city, staff):
    reports = {key: _file(city, staff, text, city.points.r1) for key, text in HOSTILE.items()}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fa-IR")
    watch = Watch(context)
    page = watch.page

    for key, report in reports.items():
        text = HOSTILE[key]
        page.goto(f"{site}/track/{report.tracking_code}/")
        page.wait_for_selector("#track-map .leaflet-marker-icon")
        watch.assert_clean(f"track {key}")
        description = page.locator("p.description")
        assert description.is_visible() and description.text_content() == text, key
        notes = page.locator("#timeline .event-note").all_text_contents()
        assert notes.count(text) == 2, (key, notes)  # the reporter's addition and the staff note

    # The 137 centre's console: the report page (description, name, timeline), the inbox and its pins.
    page.goto(f"{site}/console/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{site}/console/")
    page.wait_for_selector("#inbox-map path.pin")
    watch.assert_clean("console inbox")
    snippets = page.locator("#reports .snippet").all_text_contents()
    for text in HOSTILE.values():
        assert (text if len(text) <= 90 else text[:89] + "…") in snippets
    page.locator("#inbox-map path.pin").last.click()  # they share a point: the topmost
    popup = page.wait_for_selector("#inbox-map .leaflet-popup a.pin-link")
    assert popup is not None and popup.inner_text().replace("-", "") in {
        r.tracking_code for r in reports.values()
    }
    watch.assert_clean("console pin popup")
    for key, report in reports.items():
        text = HOSTILE[key]
        page.goto(f"{site}/console/reports/{report.tracking_code}/")
        page.wait_for_selector("#track-map .leaflet-marker-icon")
        watch.assert_clean(f"console report {key}")
        assert page.locator("#report-description").text_content() == text, key
        assert page.locator("#report-description").is_visible()
        assert page.locator("#timeline .event-note").all_text_contents().count(text) == 2, key
        assert text[:200].strip() in page.locator("dd").all_text_contents(), key  # the reporter's name
    context.close()


def test_report_pages_nearby_list_and_map_show_hostile_text_as_text(browser, site, city, staff):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fa-IR")
    watch = Watch(context)
    page = watch.page
    page.goto(f"{site}/report/")
    page.wait_for_selector("#report-map .leaflet-overlay-pane path")
    page.click("label[for=cat-pothole]")
    box = page.locator("#report-map").bounding_box()
    assert box is not None
    spot = (box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.mouse.click(*spot)
    page.wait_for_selector("#nearby:not([hidden])")
    # The open reports of the category are filed where the citizen has just put the pin...
    point = (float(page.input_value("#id_lon")), float(page.input_value("#id_lat")))
    reports = {key: _file(city, staff, text, point) for key, text in HOSTILE.items()}
    # ... and the pin put again: the list and the map's markers come from the API, through report.js.
    page.mouse.click(*spot)
    # (Locators, not wait_for_function: the pages' Content-Security-Policy forbids evaluating strings.)
    expect(page.locator("#nearby .nearby-list li a")).to_have_count(len(reports))
    watch.assert_clean("report page, nearby")
    shown = page.locator("#nearby .nearby-list li > span.muted:not(.facts-line)").all_text_contents()
    for text in HOSTILE.values():
        assert (text if len(text) <= 80 else text[:79] + "…") in shown
    # The nearby markers' tooltips: the code, as text.
    markers = page.locator("#report-map path.leaflet-interactive[stroke='#c0392b']")
    assert markers.count() >= 1
    circle = markers.last.bounding_box()
    assert circle is not None
    # The citizen's own pin stands on the point: the circle's lower edge is free.
    page.mouse.move(circle["x"] + circle["width"] / 2, circle["y"] + circle["height"] - 2)
    tooltip = page.wait_for_selector("#report-map .leaflet-tooltip")
    assert tooltip is not None
    assert tooltip.inner_text().replace("-", "") in {r.tracking_code for r in reports.values()}
    watch.assert_clean("report page, nearby tooltip")
    context.close()


def test_home_page_district_tooltips_show_a_hostile_name_as_text(browser, site, city):
    name = HOSTILE["img-without-gt"] + "> " + HOSTILE["attribute-breakout"]
    District.objects.filter(code="R1").update(name_fa=name, name_en=name)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fa-IR")
    watch = Watch(context)
    page = watch.page
    page.goto(f"{site}/")
    page.wait_for_selector("#map .leaflet-overlay-pane path")
    box = page.locator("#map").bounding_box()
    assert box is not None
    # The map is fitted to the two regions side by side: a quarter from the left is in R1 (the west).
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
    tooltip = page.wait_for_selector("#map .leaflet-tooltip")
    assert tooltip is not None and tooltip.text_content() == f"{name} (R1)"
    assert tooltip.is_visible()
    watch.assert_clean("home, district tooltip")
    context.close()

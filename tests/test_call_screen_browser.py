"""The 137 call screen in a real browser (Debian's Chromium through Playwright, against the live
server, no base tiles, no network): an operator signs in, types the caller's number with Persian
digits and sees their earlier report, searches a place typed with Arabic letters, picks it (the map
moves and the pin goes there), chooses the category and files the report; the tracking code is
shown big, with the SMS sent.

Screenshots land in var/screenshots/ for a human look at the Persian, right-to-left pages.
"""

from __future__ import annotations

import pytest

from issues.models import PlaceKind, Report
from issues.places.services import place_create
from issues.services.submission import report_submit
from tests.conftest import STAFF_PASSWORD, pt
from tests.test_browser import SCREENSHOTS, _errors_collector, browser  # noqa: F401 (the fixture)
from tests.test_console_browser import console_site  # noqa: F401 (the live server without tiles)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_files_a_call_with_the_place_search(browser, console_site, city, staff):  # noqa: F811
    base = console_site
    earlier = report_submit(
        category=city.pothole,
        location=pt(*city.points.r2),
        description="چاله قبلی",
        reporter_phone="09121234567",
    ).report
    place_create(
        name_fa="میدان آزادی", name_en="Azadi Square", kind=PlaceKind.LANDMARK, location=pt(50.011, 36.271)
    )

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fa-IR")
    page = context.new_page()
    errors = _errors_collector(page)
    page.goto(f"{base}/console/call/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/console/call/")
    assert page.get_attribute("html", "dir") == "rtl"

    # The caller's number, as the telephone shows it in Persian digits: their earlier report.
    page.fill("#id_reporter_phone", "۰۹۱۲ ۱۲۳ ۴۵۶۷")
    page.wait_for_selector(f"#caller-list a[href='/console/reports/{earlier.tracking_code}/']")

    # The place, typed on an Arabic keyboard without the madda: the map goes there with the pin.
    page.fill("#id_place", "ميدان ازادي")
    page.wait_for_selector("#place-results button")
    page.locator("#place-results button").first.click()
    page.wait_for_selector("#call-map .leaflet-marker-icon")
    assert page.input_value("#id_lat") == "36.271000" and page.input_value("#id_lon") == "50.011000"
    assert page.input_value("#id_address") == "میدان آزادی"

    page.select_option("#id_category", "pothole")
    page.fill("#id_description", "چاله عمیق کنار میدان")
    page.screenshot(path=str(SCREENSHOTS / "console-call-fa.png"), full_page=True)
    page.click("#call-submit")
    page.wait_for_url("**/console/call/filed/**")
    report = Report.objects.exclude(pk=earlier.pk).get()
    code = page.inner_text("#tracking-code").replace("-", "").strip()
    assert code == report.tracking_code
    assert page.locator("#sms-sent").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "console-call-filed-fa.png"), full_page=True)
    assert report.reporter_phone == "09121234567" and report.district.code == "R1"
    assert errors == []
    context.close()

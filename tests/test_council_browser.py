"""The council's pages in Debian's Chromium: the dashboard draws its two maps (the choropleth of a
district measure and the heatmap), and axe-core (node_modules/axe-core) finds no WCAG 2.1 AA violation
on /council/ and /council/scorecards/, in Persian and in English. Skipped without Playwright or
Chromium, a failure under CI=true (tests/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import CHROMIUM_ARGS, browser_missing, chromium_or_skip, playwright_or_skip
from tests.test_accessibility import AXE, Audit
from tests.test_scorecards import sample  # noqa: F401  (the fixture)

playwright_sync = playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_council_pages_render_and_pass_axe(browser, live_server, settings, sample, staff, lang):  # noqa: F811
    settings.OPEN137_TILE_URL = ""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    audit = Audit(page, live_server.url, lang)
    audit._language_cookie()
    since = sample.since.date().isoformat()
    audit.visit(f"/council/scorecards/?since={since}", "council-scorecards", wait_for="#table-districts")
    assert page.locator("#table-districts tbody tr").count() >= 3
    audit.sign_in("council")
    audit.visit(
        f"/council/?since={since}",
        "council-dashboard",
        wait_for="#choropleth .leaflet-overlay-pane path",
    )
    # The choropleth follows the chosen measure; the legend says which.
    page.select_option("#measure", "backlog")
    assert page.locator("#choropleth-legend strong").inner_text()
    # The heatmap draws its cells.
    page.wait_for_selector("#heatmap .leaflet-overlay-pane path")
    audit.check("council-dashboard-measure")
    # A unit's member of staff may not open it.
    audit.sign_in("unit_r1")
    audit.visit("/council/", "council-forbidden")
    assert page.locator("#forbidden-message").count() == 1
    context.close()
    assert not errors, errors
    assert not audit.found, "axe found WCAG 2.1 AA violations:\n" + "\n".join(audit.found)

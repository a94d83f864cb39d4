"""The council's pages in Debian's Chromium: the dashboard draws its two maps (the choropleth of a
district measure and the heatmap), and axe-core (node_modules/axe-core) finds no WCAG 2.1 AA violation
on /council/ and /council/scorecards/, in Persian and in English. Skipped without Playwright or
Chromium, a failure under CI=true (tests/browser.py)."""

from __future__ import annotations

import pytest

from tests.browser import playwright_or_skip
from tests.test_accessibility import Audit, browser  # noqa: F401  (the fixture: Chromium, axe present)
from tests.test_scorecards import sample  # noqa: F401  (the fixture)

playwright_sync = playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_council_pages_render_and_pass_axe(
    browser,  # noqa: F811
    live_server,
    settings,
    sample,  # noqa: F811
    staff,
    lang,
):
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

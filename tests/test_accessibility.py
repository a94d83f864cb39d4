"""Accessibility: axe-core (npm, node_modules/axe-core) run in Debian's Chromium finds no WCAG 2.1 A
or AA violation on the staff console's pages (sign-in, a manager's inbox, a report's page with its
action forms, the supervisors' triage and verification queues, the operator's call screen) nor on the
citizens' pages (home, the report form, the thank-you page, the tracking page through the private
link, the rating form of a closed report), in Persian and in English.

The map containers are checked as they are drawn (Leaflet's panes and controls included), so the
test waits for the district outlines before it asks axe.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.browser import CHROMIUM_ARGS, browser_missing, chromium_or_skip, playwright_or_skip
from tests.conftest import STAFF_PASSWORD, jpeg_upload, pt

# Skipped without Playwright or Chromium, but a failure under CI=true (tests/browser.py).
playwright_sync = playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
AXE = Path(django_settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary || ""})),
  }));
}"""


@pytest.fixture(scope="module")
def browser(django_db_setup, django_db_blocker) -> Iterator[object]:
    executable = chromium_or_skip()
    if not AXE.exists():
        browser_missing("axe-core is not installed in node_modules (npm ci)")
    # Playwright's sync API keeps an event loop running in this thread, which makes Django think the
    # tests' plain synchronous ORM calls (and the database flush between tests) are async code.
    with pytest.MonkeyPatch.context() as mp, playwright_sync.sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(settings, live_server, city, staff):
    # No base tiles: the maps draw the district outlines alone, and the test needs no network.
    settings.OPEN137_TILE_URL = ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return live_server.url


def _violations(page) -> list[dict]:
    # axe is injected as an inline script: the context bypasses the pages' CSP (no inline script).
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN, WCAG21_AA)


def _describe(where: str, violations: list[dict]) -> list[str]:
    lines = []
    for v in violations:
        lines.append(f"{where}: {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            lines.append(
                f"    {node['target']}  {node['summary'].splitlines()[-1] if node['summary'] else ''}"
            )
    return lines


class Audit:
    """Visits pages and gathers what axe finds on each, to fail once with the whole list."""

    def __init__(self, page, base: str, lang: str) -> None:
        self.page, self.base, self.lang = page, base, lang
        self.found: list[str] = []
        self.checked: list[str] = []

    def check(self, name: str, *, wait_for: str | None = None) -> None:
        self.page.wait_for_load_state("networkidle")
        if wait_for:
            self.page.wait_for_selector(wait_for)
        self.checked.append(name)
        self.found += _describe(f"[{self.lang}] {name} {self.page.url}", _violations(self.page))
        self.page.screenshot(path=str(SCREENSHOTS / f"a11y-{self.lang}-{name}.png"), full_page=True)

    def visit(self, path: str, name: str, *, wait_for: str | None = None) -> None:
        self.page.goto(self.base + path)
        self.check(name, wait_for=wait_for)

    def sign_in(self, username: str) -> None:
        self.page.context.clear_cookies()
        self._language_cookie()
        self.page.goto(f"{self.base}/console/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", STAFF_PASSWORD)
        self.page.click("#login-submit")
        self.page.wait_for_load_state()

    def _language_cookie(self) -> None:
        self.page.context.add_cookies(
            [{"name": django_settings.LANGUAGE_COOKIE_NAME, "value": self.lang, "url": self.base}]
        )


def _reports(city, staff) -> dict[str, object]:
    """Reports in the states the pages under test show: forwarded (a manager's action forms),
    received outside every district (triage), done (verification), closed (the rating form)."""
    from issues.services.intake import report_create
    from issues.services.submission import report_submit
    from issues.workflow.services import report_transition

    forwarded = report_create(
        category=city.pothole,
        location=pt(*city.points.r1),
        description="چاله",
        reporter_phone="+989121234567",
    )
    lost = report_create(category=city.pothole, location=pt(51.0, 36.9), description="دور از شهر")
    done = report_create(category=city.pothole, location=pt(*city.points.r1), description="چاله دیگر")
    closed = report_submit(category=city.pothole, location=pt(*city.points.r1), description="چراغ خاموش")
    for report in (done, closed.report):
        report_transition(report=report, action="acknowledge", actor=staff.unit_r1)
        report_transition(report=report, action="start", actor=staff.unit_r1)
        report_transition(
            report=report, action="done", actor=staff.unit_r1, note="تعمیر شد", photos=[jpeg_upload()]
        )
    report_transition(report=closed.report, action="verify", actor=staff.supervisor)
    report_transition(report=closed.report, action="close", actor=staff.supervisor)
    return {
        "forwarded": forwarded.tracking_code,
        "lost": lost.tracking_code,
        "done": done.tracking_code,
        "closed": closed.report.tracking_code,
        "closed_token": closed.private_token,
    }


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_no_wcag_21_aa_violation_on_staff_and_citizen_pages(browser, site, city, staff, lang):
    base = site
    codes = _reports(city, staff)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fa-IR", bypass_csp=True)
    page = context.new_page()
    audit = Audit(page, base, lang)
    audit._language_cookie()

    # The citizens' pages.
    audit.visit("/", "home", wait_for="#map .leaflet-overlay-pane path")
    assert page.get_attribute("html", "lang") == lang
    audit.visit("/report/", "report-form", wait_for="#report-map .leaflet-overlay-pane path")
    page.click("label[for=cat-pothole]")
    box = page.locator("#report-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.wait_for_selector("#nearby:not([hidden])")
    audit.check("report-form-pinned")
    page.fill("#id_description", "A hole by the bus stop")
    page.click("#report-submit")
    page.wait_for_url("**/report/thanks/**")
    audit.check("thanks")
    page.click(".private-url a")
    page.wait_for_url("**/track/*/")  # the private link exchanged for the session: no token left
    audit.check("track-private", wait_for="#track-map .leaflet-overlay-pane path")
    audit.visit(f"/track/{codes['closed']}/?t={codes['closed_token']}", "track-rating")
    assert page.locator(".rating-form").count() == 1
    audit.visit("/track/", "track-lookup")

    # The staff console.
    page.context.clear_cookies()
    audit._language_cookie()
    audit.visit("/console/login/", "console-login")
    page.fill("#id_username", "manager_r1")
    page.fill("#id_password", "wrong")
    page.click("#login-submit")
    page.wait_for_load_state()
    audit.check("console-login-error")

    audit.sign_in("manager_r1")
    audit.visit("/console/", "console-inbox-manager")
    audit.visit(f"/console/reports/{codes['forwarded']}/", "console-report-manager")

    audit.sign_in("unit_r1")
    audit.visit(f"/console/reports/{codes['forwarded']}/", "console-report-unit")

    audit.sign_in("supervisor")
    audit.visit("/console/triage/", "console-triage")
    audit.visit("/console/verification/", "console-verification")
    audit.visit(f"/console/reports/{codes['done']}/", "console-report-supervisor")

    audit.sign_in("operator")
    audit.visit("/console/call/", "console-call", wait_for="#call-map .leaflet-overlay-pane path")
    page.fill("#id_reporter_phone", "09121234567")
    page.locator("#id_reporter_phone").blur()
    page.wait_for_selector("#caller-reports:not([hidden])")
    audit.check("console-call-caller")
    page.click("#call-submit")
    page.wait_for_load_state()
    audit.check("console-call-errors")
    # Filed: the read-back page of the tracking code.
    page.select_option("#id_category", value=city.pothole.code)
    outline = page.locator("#call-map .leaflet-overlay-pane path").first.bounding_box()
    assert outline is not None
    page.mouse.click(outline["x"] + outline["width"] * 0.75, outline["y"] + outline["height"] * 0.25)
    page.fill("#id_description", "A hole in the road, by telephone")
    page.click("#call-submit")
    page.wait_for_url("**/console/call/filed/**")
    audit.check("console-call-filed")

    # A unit's inbox, and a page the unit's role may not open.
    audit.sign_in("unit_r1")
    audit.visit("/console/", "console-inbox-unit")
    audit.visit("/console/triage/", "console-forbidden")
    assert page.locator("h1").count() == 1

    context.close()
    assert not audit.found, "axe found WCAG 2.1 AA violations:\n" + "\n".join(audit.found)
    assert len(audit.checked) >= 21

"""The whole workflow in a real browser (Debian's Chromium driven by Playwright, against the live
server), every person signing in through /console/login/ as they would:

a 137 operator files a caller's report by telephone (phone, category, a pin on the map, what is
wrong) and reads the tracking code back; the district manager of R1 finds it in the inbox (in the
list and as a pin on the map) and acknowledges it; the R1 roads unit starts the work and files the
work report with a photo and a note; the citizen follows the private link of the message sent at
"done" and says it is fixed (which verifies and closes the report); with the rating link of the
message sent at close they rate the service 5 with reasons. The tracking page's public timeline and
the console's timeline then show every step.

Screenshots land in var/screenshots/workflow-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import translation
from PIL import Image

from issues.models import OutboxMessage, Report, ReportStatus, SatisfactionRating
from tests.browser import CHROMIUM_ARGS, chromium_or_skip, playwright_or_skip
from tests.conftest import STAFF_PASSWORD

# Skipped without Playwright or Chromium, but a failure under CI=true (tests/browser.py).
playwright_sync = playwright_or_skip()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
# The private link in a message to the reporter: the tracking page's path with its token.
PRIVATE_LINK = re.compile(r"(/track/[A-Z0-9]+/\?t=[A-Za-z0-9_%-]+)")


@pytest.fixture(scope="module")
def browser(django_db_setup, django_db_blocker) -> Iterator[object]:
    executable = chromium_or_skip()
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


def _errors_collector(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def _sign_in(browser, base: str, username: str):
    """A fresh browser (no cookie of anyone else) signed in as `username` through the login page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fa-IR")
    page = context.new_page()
    page.goto(f"{base}/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(lambda url: "/console/login/" not in url)
    return context, page


def _private_link(report: Report, *, containing: str) -> str:
    """The private link in the newest message to the reporter whose body has `containing`: the
    worker that sends (and then redacts) messages does not run in tests, so the body is intact."""
    for body in OutboxMessage.objects.filter(report=report).order_by("-pk").values_list("body", flat=True):
        if containing in body:
            match = PRIVATE_LINK.search(body)
            assert match, body
            return match.group(1)
    raise AssertionError(f"no message with {containing!r} to the reporter of {report.tracking_code}")


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "after.jpg"
    Image.new("RGB", (320, 240), (70, 120, 160)).save(path, "JPEG", quality=85)
    return path


def test_a_phone_report_from_the_call_to_the_rating(browser, site, city, staff, tmp_path):
    base = site
    shots = SCREENSHOTS
    errors: list[str] = []

    # --- The 137 operator takes the call. ------------------------------------------------------
    context, page = _sign_in(browser, base, "operator")
    errors += _errors_collector(page)
    page.goto(f"{base}/console/call/")
    page.wait_for_selector("#call-map .leaflet-overlay-pane path")
    page.fill("#id_reporter_phone", "09121234567")
    page.select_option("#id_category", value=city.pothole.code)
    # The pin goes on R1's outline (the western of the two regions), in its north-east quarter (away
    # from the sub-district S11): where city.points.r1 is.
    outlines = [
        page.locator("#call-map .leaflet-overlay-pane path").nth(i).bounding_box()
        for i in range(page.locator("#call-map .leaflet-overlay-pane path").count())
    ]
    r1 = min((b for b in outlines if b), key=lambda b: (round(b["x"]), -b["width"]))
    page.mouse.click(r1["x"] + r1["width"] * 0.75, r1["y"] + r1["height"] * 0.25)
    assert page.input_value("#id_lat") and page.input_value("#id_lon")
    page.wait_for_selector("#call-map .leaflet-marker-icon")
    page.fill("#id_description", "چاله بزرگ جلوی نانوایی، تماس تلفنی")
    page.screenshot(path=str(shots / "workflow-1-call.png"), full_page=True)
    page.click("#call-submit")
    page.wait_for_url("**/console/call/filed/**")
    read_back = page.inner_text("#tracking-code").strip()
    code = read_back.replace("-", "")
    assert "09121234567" in page.inner_text("#sms-sent").replace("+98", "0").replace(" ", "")
    page.screenshot(path=str(shots / "workflow-2-filed.png"), full_page=True)
    context.close()

    report = Report.objects.get(tracking_code=code)
    assert report.channel == "phone" and report.district.code == "R1"
    assert report.status == ReportStatus.FORWARDED and report.service_area == city.areas.r1

    # --- The district manager of R1: the inbox, the pin, the report, acknowledge. --------------
    context, page = _sign_in(browser, base, "manager_r1")
    errors += _errors_collector(page)
    page.goto(f"{base}/console/")
    row = page.locator(f"#row-{code}")
    assert row.count() == 1
    page.wait_for_selector("#inbox-map .leaflet-overlay-pane path.leaflet-interactive")
    assert page.locator("#inbox-map .leaflet-overlay-pane path.leaflet-interactive").count() >= 1
    page.screenshot(path=str(shots / "workflow-3-inbox.png"), full_page=True)
    row.locator("a.code").click()
    page.wait_for_url(f"**/console/reports/{code}/")
    # The reporter's phone is for the 137 centre only.
    assert page.locator("#contacts").count() == 0
    assert "09121234567" not in page.content() and "9121234567" not in page.content()
    page.click("#act-acknowledge")
    page.wait_for_url(f"**/console/reports/{code}/**")
    report.refresh_from_db()
    assert report.status == ReportStatus.ACKNOWLEDGED
    page.screenshot(path=str(shots / "workflow-4-acknowledged.png"), full_page=True)
    context.close()

    # --- The unit: start, then the work report with a photo and a note. ------------------------
    context, page = _sign_in(browser, base, "unit_r1")
    errors += _errors_collector(page)
    page.goto(f"{base}/console/")
    page.locator(f"#row-{code} a.code").click()
    page.wait_for_url(f"**/console/reports/{code}/")
    page.click("#act-start")
    page.wait_for_selector("#act-done")
    report.refresh_from_db()
    assert report.status == ReportStatus.IN_PROGRESS
    page.fill("#id_note", "چاله با آسفالت گرم پر شد")
    page.uncheck("#id_internal")
    page.set_input_files("#id_photos", str(_photo(tmp_path)))
    page.screenshot(path=str(shots / "workflow-5-work-report.png"), full_page=True)
    page.click("#act-done")
    page.wait_for_selector("#photos-after img")
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE
    page.screenshot(path=str(shots / "workflow-6-done.png"), full_page=True)
    context.close()

    # --- The citizen: the link of the "done" message, "it is fixed". ---------------------------
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fa-IR", is_mobile=True)
    page = context.new_page()
    errors += _errors_collector(page)
    done_link = _private_link(report, containing="?t=")
    page.goto(base + done_link)
    page.wait_for_selector(".feedback-form")
    page.check("input[name=fixed][value=yes]")
    page.fill("#id_note", "ممنون، درست شد")
    page.screenshot(path=str(shots / "workflow-7-citizen-confirms.png"), full_page=True)
    page.click(".feedback-form button[type=submit]")
    page.wait_for_selector(".message.success")
    report.refresh_from_db()
    if report.status != ReportStatus.CLOSED:
        # Confirming closes it (issues/workflow/citizen.py); were it only verified, 137 closes it.
        supervisor_context, supervisor_page = _sign_in(browser, base, "supervisor")
        supervisor_page.goto(f"{base}/console/reports/{code}/")
        supervisor_page.click("#act-close")
        supervisor_page.wait_for_url(f"**/console/reports/{code}/**")
        supervisor_context.close()
        report.refresh_from_db()
    assert report.status == ReportStatus.CLOSED

    # The rating link came with the message sent at close: rate 5, for speed and quality.
    closing = report.events.filter(kind="status", to_status="closed").get()
    rating_messages = OutboxMessage.objects.filter(report=report, created_at__gte=closing.at)
    assert rating_messages.exists()
    rating_link = _private_link(report, containing="?t=")
    assert rating_link != done_link  # a token of its own, for rating
    page.goto(base + rating_link)
    page.wait_for_selector(".rating-form")
    page.check("input[name=score][value='5']")
    page.check("input[name=reasons][value=speed]")
    page.check("input[name=reasons][value=quality]")
    page.fill("#id_comment", "سریع و تمیز")
    page.screenshot(path=str(shots / "workflow-8-rating.png"), full_page=True)
    page.click(".rating-form button[type=submit]")
    page.wait_for_selector("#rating-thanks")
    rating = SatisfactionRating.objects.get(report=report)
    assert rating.score == 5 and sorted(rating.reasons) == ["quality", "speed"]

    # --- Every step on the public timeline ... -------------------------------------------------
    with translation.override("fa"):
        status_lines = [
            str(ReportStatus(s).label) for s in ("acknowledged", "in_progress", "done", "verified", "closed")
        ]
        from maps.views.track import _timeline_label

        fixed_line = _timeline_label({"what": "fixed"})
        rated_line = _timeline_label({"what": "rated"})
        received_line = _timeline_label({"what": "created"})
        forwarded = str(ReportStatus.FORWARDED.label)
        from console.views.report import EVENT_LABELS

        console_lines = [str(EVENT_LABELS["citizen_feedback"]), str(EVENT_LABELS["rated"])]
    page.goto(f"{base}/track/{code}/")
    public = page.inner_text("#timeline")
    page.screenshot(path=str(shots / "workflow-9-track-timeline.png"), full_page=True)
    for line in [received_line, *status_lines, fixed_line, rated_line]:
        assert line in public, (line, public)
    # The progress steps above it: every one done, from forwarded to closed (the current one).
    steps = page.locator(".track-status .steps li")
    done_steps = [steps.nth(i).inner_text().strip() for i in range(steps.count())]
    for line in [forwarded, *status_lines]:
        assert line in done_steps, (line, done_steps)
    assert page.locator(".track-status .steps li:not(.done)").count() == 0
    assert "09121234567" not in page.content()
    context.close()

    # --- ... and on the console's report page, with who did what. ------------------------------
    context, page = _sign_in(browser, base, "supervisor")
    errors += _errors_collector(page)
    page.goto(f"{base}/console/reports/{code}/")
    timeline = page.inner_text("#timeline")
    page.screenshot(path=str(shots / "workflow-10-console-timeline.png"), full_page=True)
    for line in [forwarded, *status_lines, *console_lines]:
        assert line in timeline, (line, timeline)
    for who in ("operator", "manager_r1", "unit_r1"):
        assert who in timeline, (who, timeline)
    assert page.locator("#photos-after img").count() == 1
    context.close()

    kinds = list(report.events.order_by("at", "id").values_list("kind", "to_status"))
    steps = [to for kind, to in kinds if kind in {"created", "status"}]
    assert steps == ["forwarded", "acknowledged", "in_progress", "done", "verified", "closed"], kinds
    assert {"citizen_feedback", "rated"} <= {kind for kind, _to in kinds}, kinds
    assert errors == []

"""The staff console over HTTP (Django's test client, real PostGIS, real rendering): who may open
which page, scope (a report of another district is a 404), contact details for the 137 centre only,
the inbox's filters, bulk actions and exports, the report page's action form (a conflict keeps what
was typed), hostile text, and the console's layering (no SQL, no model queries).

The browser side (map, pins, the manager's outline, acknowledging a report) is in
tests/test_console_browser.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from issues.models import Report, ReportEvent, ReportPhoto, ReportStatus, VerificationCheck
from issues.services.intake import report_create
from issues.workflow.services import report_transition
from tests.conftest import jpeg_upload, pt
from tests.test_layers import test_page_apps_run_no_sql_and_query_no_model as page_app_check

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"
PHONE = "+989127770123"
NAME = "Quorvell Tamsby"


@pytest.fixture
def en(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def make(city, where: str = "r1", category=None, **extra) -> Report:
    point = getattr(city.points, where) if isinstance(where, str) else where
    return report_create(category=category or city.pothole, location=pt(*point), **extra)


def page(response) -> str:
    return response.content.decode()


def text(response) -> str:
    """The page's text with tags dropped and entities decoded (what a reader sees)."""
    return unescape(re.sub(r"<[^>]+>", " ", page(response)))


def inbox_data(response) -> dict:
    match = re.search(r'<script id="inbox-data" type="application/json">(.*?)</script>', page(response), re.S)
    assert match, "the inbox's map data is missing"
    return json.loads(match.group(1))


# --- Who may open which page ---------------------------------------------------------------------


def test_each_page_per_role(client, city, staff):
    r1 = make(city)
    pages = {
        "inbox": "/console/",
        "report": f"/console/reports/{r1.tracking_code}/",
        "triage": "/console/triage/",
        "verification": "/console/verification/",
    }
    # Anonymous: to the sign-in page, coming back afterwards.
    for url in pages.values():
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/console/login/?next=")

    citizen = get_user_model().objects.create_user(username="citizen", password="x-pass-123")
    admin = get_user_model().objects.create_superuser(username="root", password="x-pass-123")
    expected = {
        citizen: {"inbox": 403, "report": 403, "triage": 403, "verification": 403},
        staff.council: {"inbox": 403, "report": 403, "triage": 403, "verification": 403},
        staff.operator: {"inbox": 200, "report": 200, "triage": 403, "verification": 403},
        staff.supervisor: {"inbox": 200, "report": 200, "triage": 200, "verification": 200},
        staff.manager_r1: {"inbox": 200, "report": 200, "triage": 403, "verification": 403},
        staff.unit_r1: {"inbox": 200, "report": 200, "triage": 403, "verification": 403},
        admin: {"inbox": 200, "report": 200, "triage": 200, "verification": 200},
    }
    for user, codes in expected.items():
        client.force_login(user)
        for name, url in pages.items():
            response = client.get(url)
            assert response.status_code == codes[name], (user.username, name, response.status_code)
            if response.status_code == 200:
                assert response["Cache-Control"] == "private, no-store"
    client.force_login(staff.council)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Council members see the numbers" in text(client.get(pages["report"]))


def test_sign_in_and_out(client, city, staff):
    from tests.conftest import STAFF_PASSWORD

    login = client.get("/console/login/")
    assert login.status_code == 200 and 'dir="rtl"' in page(login) and "csrfmiddlewaretoken" in page(login)
    wrong = client.post("/console/login/", {"username": "manager_r1", "password": "nope"})
    assert wrong.status_code == 200 and 'role="alert"' in page(wrong)
    right = client.post("/console/login/", {"username": "manager_r1", "password": STAFF_PASSWORD})
    assert right.status_code == 302 and right["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    assert client.get("/console/logout/").status_code == 405  # signing out is a POST (CSRF)
    assert client.post("/console/logout/").status_code == 302
    assert client.get("/console/").status_code == 302


def test_posts_need_the_csrf_token(city, staff):
    report = make(city)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff.unit_r1)
    refused = strict.post(
        f"/console/reports/{report.tracking_code}/action/",
        {"action": "acknowledge", "version": report.version},
    )
    assert refused.status_code == 403
    assert (
        strict.post("/console/", {"action": "acknowledge", "picks": f"{report.tracking_code}:1"}).status_code
        == 403
    )
    report.refresh_from_db()
    assert report.status == ReportStatus.FORWARDED


# --- Scope and contact details ---------------------------------------------------------------------


def test_a_report_of_another_district_is_not_found(client, city, staff):
    r2 = make(city, "r2", reporter_phone=PHONE)
    for outsider in (staff.manager_r1, staff.unit_r1):
        client.force_login(outsider)
        assert client.get(f"/console/reports/{r2.tracking_code}/").status_code == 404
        response = client.post(
            f"/console/reports/{r2.tracking_code}/action/", {"action": "acknowledge", "version": r2.version}
        )
        assert response.status_code == 404
    r2.refresh_from_db()
    assert r2.status == ReportStatus.FORWARDED and r2.events.count() == 1
    # Nor through the bulk form: the code is simply not in their inbox.
    client.force_login(staff.manager_r1)
    response = client.post(
        "/console/", {"action": "acknowledge", "picks": [f"{r2.tracking_code}:{r2.version}"]}
    )
    assert response.status_code == 302
    r2.refresh_from_db()
    assert r2.status == ReportStatus.FORWARDED


def test_the_inbox_holds_the_scope_only_with_the_managers_outline(client, city, staff):
    r1, s11, r2 = make(city, "r1"), make(city, "s11"), make(city, "r2")
    client.force_login(staff.manager_r1)
    response = client.get("/console/")
    html = page(response)
    assert r1.tracking_code in html and s11.tracking_code in html and r2.tracking_code not in html
    data = inbox_data(response)
    assert {p["code"] for p in data["pins"]} == {r1.tracking_code, s11.tracking_code}
    assert [f["properties"]["code"] for f in data["outline"]["features"]] == ["R1"]
    assert data["outline"]["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # The map's scripts are served by the app (Leaflet from django-leaflet's files), never a CDN.
    assert "/static/leaflet/leaflet.js" in html and "/static/maps/mapbase.js" in html
    assert not re.search(r"(src|href)=\"https?://", html)
    # The 137 centre sees the whole city and has no outline of its own.
    client.force_login(staff.supervisor)
    data = inbox_data(client.get("/console/"))
    assert len(data["pins"]) == 3 and data["outline"] is None


def test_contact_details_reach_the_137_centre_only(client, city, staff):
    report = make(city, reporter_name=NAME, reporter_phone=PHONE, reporter_email="q@example.org")
    for user in (staff.operator, staff.supervisor):
        client.force_login(user)
        assert PHONE in page(client.get("/console/"))
        detail = page(client.get(f"/console/reports/{report.tracking_code}/"))
        assert PHONE in detail and NAME in detail and "q@example.org" in detail and 'id="contacts"' in detail
        assert PHONE in client.get("/console/?format=csv").content.decode("utf-8-sig")
    for user in (staff.manager_r1, staff.unit_r1):
        client.force_login(user)
        for url in (
            "/console/",
            f"/console/reports/{report.tracking_code}/",
            "/console/?format=csv",
            "/console/?format=geojson",
        ):
            body = client.get(url).content.decode("utf-8-sig")
            assert PHONE not in body and NAME not in body and "q@example.org" not in body, (
                user.username,
                url,
            )
        assert 'id="contacts"' not in page(client.get(f"/console/reports/{report.tracking_code}/"))


# --- Filters -------------------------------------------------------------------------------------


def test_filters_by_status_category_unit_overdue_and_date(en, city, staff):
    pothole = make(city, "r1")
    suggestion = make(city, "r2", category=city.suggestion)
    acknowledged = make(city, "r1")
    report_transition(report=acknowledged, action="acknowledge", actor=staff.supervisor)
    late = make(city, "r2")
    Report.objects.filter(pk=late.pk).update(expected_at=timezone.now() - timedelta(hours=2))
    old = make(city, "r1")
    Report.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    en.force_login(staff.supervisor)

    def codes(query: str) -> set[str]:
        response = en.get(f"/console/?{query}")
        assert response.status_code == 200, query
        return {p["code"] for p in inbox_data(response)["pins"]}

    everyone = {r.tracking_code for r in (pothole, suggestion, acknowledged, late, old)}
    assert codes("") == everyone
    assert codes("status=acknowledged") == {acknowledged.tracking_code}
    assert codes("category=suggestion") == {suggestion.tracking_code}
    assert codes("unit=roads-r2") == {suggestion.tracking_code, late.tracking_code}
    assert codes("district=R2") == {suggestion.tracking_code, late.tracking_code}
    assert codes("overdue=on") == {late.tracking_code}
    # Dates in Jalali with Persian digits, as staff type them; a year ago is before the start.
    since = timezone.localtime() - timedelta(days=30)
    import jdatetime

    jalali = jdatetime.date.fromgregorian(date=since.date()).strftime("%Y/%m/%d")
    persian = jalali.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert codes(f"since={persian}") == everyone - {old.tracking_code}
    assert codes(f"until={since.date().isoformat()}") == {old.tracking_code}
    # The count says how many match; the filter form keeps its values.
    response = en.get("/console/?status=acknowledged")
    assert "1 report" in text(response) and '<option value="acknowledged" selected>' in page(response)


def test_a_bad_filter_is_a_400_with_the_message_by_its_field(en, city, staff):
    make(city)
    en.force_login(staff.supervisor)
    response = en.get("/console/?since=1405-13-45")
    assert response.status_code == 400
    html = page(response)
    # Django renders a field's errors with an id the input points at (aria-describedby).
    error = re.search(r'<ul class="errorlist" id="id_since_error">(.*?)</ul>', html, re.S)
    assert error and "is not a date" in unescape(error.group(1))
    assert 'id="inbox-empty"' in html
    assert en.get("/console/?status=nonsense").status_code == 400
    assert en.get("/console/?cursor=%%%").status_code == 400
    assert en.get("/console/?format=xlsx").status_code == 400
    export = en.get("/console/?since=garbage&format=csv")
    assert export.status_code == 400 and "is not a date" in export.content.decode()


# --- Bulk actions ----------------------------------------------------------------------------------


def test_bulk_acknowledge_reports_each_item_with_one_conflict(en, city, staff):
    first, second, third = make(city), make(city), make(city, "s11")
    en.force_login(staff.manager_r1)
    listing = page(en.get("/console/"))
    picks = re.findall(r'name="picks" value="([A-Z0-9]+:\d+)"', listing)
    assert len(picks) == 3
    # Meanwhile the unit acknowledges the second: the version the manager saw is stale.
    report_transition(report=second, action="acknowledge", actor=staff.unit_r1)
    response = en.post(
        "/console/?status=open", {"action": "acknowledge", "picks": picks, "note": ""}, follow=True
    )
    assert response.redirect_chain[0] == ("/console/?status=open", 302)
    shown = text(response)
    for report in (first, third):
        report.refresh_from_db()
        assert report.status == ReportStatus.ACKNOWLEDGED
    assert "Acknowledge: done for" in shown
    grouped = f"{second.tracking_code[:4]}-{second.tracking_code[4:]}"
    assert f"{grouped}: conflict, changed meanwhile; it is now “acknowledged by the unit”." in shown
    second.refresh_from_db()
    assert second.events.filter(kind="status").count() == 1  # only the unit's


def test_bulk_transfer_needs_a_unit_and_a_reason_and_assign_a_person(en, city, staff):
    report = make(city)
    en.force_login(staff.supervisor)
    pick = f"{report.tracking_code}:{report.version}"
    refused = en.post("/console/", {"action": "transfer", "picks": [pick]})
    assert refused.status_code == 400
    html = page(refused)
    assert re.search(r'id="id_service_area_error">.*Choose the unit', html, re.S)
    assert re.search(r'id="id_note_error">.*Say why', html, re.S)
    nothing = en.post("/console/", {"action": "acknowledge"})
    assert nothing.status_code == 400 and "Select at least one report." in text(nothing)
    forged = en.post("/console/", {"action": "acknowledge", "picks": ["<b>:1"]})
    assert forged.status_code == 400 and "not one this list gave" in text(forged)

    moved = en.post(
        "/console/", {"action": "transfer", "picks": [pick], "service_area": "roads-r2", "note": "wrong side"}
    )
    assert moved.status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.TRANSFERRED and report.service_area == city.areas.r2
    # The reason is an internal note, for the staff.
    assert report.events.get(kind="note").public is False

    assigned = en.post(
        "/console/",
        {"action": "assign", "picks": [f"{report.tracking_code}:{report.version}"], "assignee": "unit_r2"},
    )
    assert assigned.status_code == 302
    report.refresh_from_db()
    assert report.assigned_to == staff.unit_r2
    # An operator takes calls: no bulk form, and a forged post is refused.
    en.force_login(staff.operator)
    assert 'id="bulk-form"' not in page(en.get("/console/"))
    assert en.post("/console/", {"action": "acknowledge", "picks": [pick]}).status_code == 403


def test_bulk_results_say_not_allowed(en, city, staff):
    report = make(city)

    def assign(to: str) -> str:
        report.refresh_from_db()
        pick = f"{report.tracking_code}:{report.version}"
        return text(en.post("/console/", {"action": "assign", "picks": [pick], "assignee": to}, follow=True))

    en.force_login(staff.unit_r1)
    assert "done for" in assign("unit_r1")
    report.refresh_from_db()
    assert report.assigned_to == staff.unit_r1
    # Nobody may hand a report to someone who cannot see it: the service says no, the page says why.
    en.force_login(staff.supervisor)
    assert "not allowed, unit_r2 cannot see this report" in assign("unit_r2")
    report.refresh_from_db()
    assert report.assigned_to == staff.unit_r1


# --- Exports ---------------------------------------------------------------------------------------


def test_csv_export_columns_bom_jalali_and_formula_neutralised(en, city, staff):
    make(city, description='=HYPERLINK("http://evil.example","click")', address="+98 street")
    make(city, "r2", description="@SUM(A1:A9)")
    make(city, "s11", description="-2+3")
    en.force_login(staff.manager_r1)
    response = en.get("/console/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    raw = response.content
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header == [
        "code",
        "created_jalali",
        "created_iso",
        "status",
        "status_label",
        "category",
        "district",
        "unit",
        "overdue",
        "acknowledge_by",
        "expected_by",
        "address",
        "description",
    ]
    assert len(body) == 2  # R2's report is out of the manager's scope
    by_description = {r[12]: dict(zip(header, r, strict=True)) for r in body}
    assert '\'=HYPERLINK("http://evil.example","click")' in by_description
    assert "'-2+3" in by_description
    row = by_description['\'=HYPERLINK("http://evil.example","click")']
    assert row["address"] == "'+98 street"
    assert re.fullmatch(r"14\d\d/\d\d/\d\d \d\d:\d\d", row["created_jalali"])
    assert row["created_iso"].startswith("20") and row["status"] == "forwarded" and row["overdue"] == "0"
    assert row["district"] == "Region One" and row["unit"] == "Roads unit R1"
    # The 137 centre gets the contact columns too; filters apply to the export.
    en.force_login(staff.operator)
    rows = list(
        csv.reader(io.StringIO(en.get("/console/?format=csv&district=R2").content.decode("utf-8-sig")))
    )
    assert rows[0][-3:] == ["reporter_name", "reporter_phone", "reporter_email"] and len(rows) == 2
    assert rows[1][12] == "'@SUM(A1:A9)"


def test_geojson_export_is_valid(en, city, staff):
    located = make(city, reporter_phone=PHONE)
    unlocated = report_create(category=city.suggestion, location=None, description="no place")
    en.force_login(staff.supervisor)
    response = en.get("/console/?format=geojson")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/geo+json")
    doc = json.loads(response.content)
    assert doc["type"] == "FeatureCollection"
    features = {f["id"]: f for f in doc["features"]}
    assert set(features) == {located.tracking_code, unlocated.tracking_code}
    point = features[located.tracking_code]
    assert point["type"] == "Feature" and point["geometry"]["type"] == "Point"
    lon, lat = point["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx(city.points.r1)
    assert point["properties"]["overdue"] is False and point["properties"]["unit_code"] == "roads-r1"
    assert point["properties"]["reporter_phone"] == PHONE
    assert features[unlocated.tracking_code]["geometry"] is None
    en.force_login(staff.unit_r1)
    doc = json.loads(en.get("/console/?format=geojson").content)
    assert [f["id"] for f in doc["features"]] == [located.tracking_code]
    assert "reporter_phone" not in doc["features"][0]["properties"]


# --- A report's page -------------------------------------------------------------------------------


def test_report_page_shows_timeline_photos_and_the_actions_of_this_role(en, city, staff):
    report = make(city, description="deep hole")
    report_transition(
        report=report, action="note", actor=staff.unit_r1, note="crew on Monday", internal_note=True
    )
    en.force_login(staff.unit_r1)
    html = page(en.get(f"/console/reports/{report.tracking_code}/"))
    assert 'id="act-acknowledge"' in html and 'id="act-transfer"' in html and 'id="act-note"' in html
    assert 'id="act-refer"' not in html and 'id="act-verify"' not in html  # the managers' and supervisors'
    assert "crew on Monday" in html and "internal-tag" in html
    assert f'name="version" value="{report.version + 1}"' in html
    # Acknowledge, start, and file the work report with its after-photo.
    for action in ("acknowledge", "start"):
        report.refresh_from_db()
        done = en.post(
            f"/console/reports/{report.tracking_code}/action/", {"action": action, "version": report.version}
        )
        assert done.status_code == 302 and done["Location"] == f"/console/reports/{report.tracking_code}/"
    report.refresh_from_db()
    missing = en.post(
        f"/console/reports/{report.tracking_code}/action/",
        {"action": "done", "version": report.version, "note": "filled"},
    )
    assert missing.status_code == 400
    assert re.search(r'id="id_photos_error">.*at least one photo', page(missing), re.S)
    assert "filled</textarea>" in page(missing)
    filed = en.post(
        f"/console/reports/{report.tracking_code}/action/",
        {"action": "done", "version": report.version, "note": "filled", "photos": [jpeg_upload()]},
    )
    assert filed.status_code == 302
    html = page(en.get(f"/console/reports/{report.tracking_code}/"))
    assert ReportPhoto.objects.filter(report=report, kind="work").count() == 1
    after = html.split('id="photos-after"')[1].split("</div>")[0]
    assert "<img" in after


def test_action_conflict_is_409_and_keeps_the_typed_note(en, city, staff):
    report = make(city)
    en.force_login(staff.manager_r1)
    seen = report.version
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)  # meanwhile
    events = ReportEvent.objects.count()
    response = en.post(
        f"/console/reports/{report.tracking_code}/action/",
        {"action": "acknowledge", "version": seen, "note": "calling the contractor now", "internal": "on"},
    )
    assert response.status_code == 409
    html = page(response)
    assert 'id="conflict"' in html and "Someone else changed this report meanwhile" in unescape(html)
    assert "calling the contractor now</textarea>" in html
    report.refresh_from_db()
    assert f'name="version" value="{report.version}"' in html  # sending again is a new decision
    assert 'id="act-acknowledge"' not in html and 'id="act-start"' in html  # the actions of now
    assert ReportEvent.objects.count() == events


def test_action_form_errors_and_refusals(en, city, staff):
    report = make(city)
    en.force_login(staff.manager_r1)
    url = f"/console/reports/{report.tracking_code}/action/"
    bad = en.post(url, {"action": "transfer", "version": report.version, "service_area": "", "note": ""})
    assert bad.status_code == 400 and re.search(r'id="id_service_area_error">', page(bad))
    dup = en.post(url, {"action": "duplicate", "version": report.version, "duplicate_of": "ZZZZ-ZZZZ"})
    assert dup.status_code == 400 and "No report in your inbox has this tracking code." in text(dup)
    # A button the manager's page never offered: the service refuses it, the page says so.
    refused = en.post(url, {"action": "verify", "version": report.version})
    assert refused.status_code == 403 and "Your role cannot do this on this report." in text(refused)
    assert en.post(url, {"action": "explode", "version": report.version}).status_code == 400
    assert en.get(url).status_code == 405
    report.refresh_from_db()
    assert report.status == ReportStatus.FORWARDED and report.events.count() == 1
    # In Persian, the field's error is in Persian.
    en.cookies[settings.LANGUAGE_COOKIE_NAME] = "fa"
    persian = en.post(url, {"action": "transfer", "version": report.version, "service_area": "", "note": ""})
    assert persian.status_code == 400 and 'dir="rtl"' in page(persian)
    assert "واحد فعالی را برگزینید" in text(persian)


def test_triage_queue_routes_a_report(en, city, staff):
    lost = report_create(category=city.pothole, location=pt(51.0, 36.9))  # far outside: triage
    make(city)
    en.force_login(staff.supervisor)
    html = page(en.get("/console/triage/"))
    assert lost.tracking_code in html and html.count('class="route-form"') == 1
    response = en.post(
        f"/console/reports/{lost.tracking_code}/action/",
        {
            "action": "route",
            "version": lost.version,
            "service_area": "roads-r2",
            "internal": "on",
            "next": "/console/triage/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/console/triage/"
    lost.refresh_from_db()
    assert lost.status == ReportStatus.FORWARDED and lost.service_area == city.areas.r2
    assert 'id="triage-empty"' in page(en.get("/console/triage/"))
    # `next` only ever leads back into this site.
    other = make(city)
    response = en.post(
        f"/console/reports/{other.tracking_code}/action/",
        {"action": "acknowledge", "version": other.version, "next": "https://evil.example/"},
    )
    assert response["Location"] == f"/console/reports/{other.tracking_code}/"


# --- Verification queue ------------------------------------------------------------------------------


def test_verification_queue_records_what_the_check_found(en, city, staff, settings):
    settings.OPEN137_VERIFY_SAMPLE_SHARE = 1.0
    report = make(city, reporter_phone=PHONE)
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)
    report_transition(
        report=report, action="done", actor=staff.unit_r1, note="filled", photos=[jpeg_upload()]
    )
    check = VerificationCheck.objects.get(report=report)
    en.force_login(staff.supervisor)
    html = page(en.get("/console/verification/"))
    assert report.tracking_code in html and PHONE in html and f'id="check-{check.pk}"' in html
    missing = en.post("/console/verification/", {"check_id": check.pk, "method": "call_back", "note": "kept"})
    assert missing.status_code == 400
    assert re.search(rf'id="id_c{check.pk}_outcome_error"', page(missing)) and "kept</textarea>" in page(
        missing
    )
    done = en.post(
        "/console/verification/",
        {"check_id": check.pk, "outcome": "confirmed", "method": "call_back", "note": "the reporter agrees"},
        follow=True,
    )
    assert done.status_code == 200 and "is recorded" in text(done) and 'id="verification-empty"' in page(done)
    report.refresh_from_db()
    check.refresh_from_db()
    assert (
        report.status == ReportStatus.CLOSED
        and check.outcome == "confirmed"
        and check.checked_by == staff.supervisor
    )
    again = en.post(
        "/console/verification/", {"check_id": check.pk, "outcome": "not_fixed", "method": "call_back"}
    )
    assert again.status_code == 409 and "no longer in the queue" in text(again)
    report.refresh_from_db()
    assert report.status == ReportStatus.CLOSED


# --- Hostile text, language, layering ----------------------------------------------------------------


def test_hostile_text_is_shown_as_text(en, city, staff):
    report = make(city, description=HOSTILE, address=HOSTILE, reporter_name=HOSTILE)
    report_transition(report=report, action="note", actor=staff.supervisor, note=HOSTILE, internal_note=True)
    en.force_login(staff.supervisor)
    for url in ("/console/", f"/console/reports/{report.tracking_code}/"):
        html = page(en.get(url))
        assert HOSTILE not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    # A typed note sent back after a conflict is escaped too.
    response = en.post(
        f"/console/reports/{report.tracking_code}/action/",
        {"action": "note", "version": report.version, "note": HOSTILE},  # stale: the note moved it on
    )
    assert response.status_code == 409 and HOSTILE not in page(response)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in page(response)


def test_persian_first_english_one_click_away(client, city, staff):
    report = make(city)
    client.force_login(staff.manager_r1)
    html = page(client.get("/console/"))
    assert '<html lang="fa" dir="rtl">' in html
    assert 'name="language" value="en"' in html and "صندوق" in html
    # Dates in the Jalali calendar with Persian digits.
    assert re.search(
        r"[۰-۹]+ (فروردین|اردیبهشت|خرداد|تیر|مرداد|شهریور|مهر|آبان|آذر|دی|بهمن|اسفند) ۱۴[۰-۹]{2}", html
    )
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})
    assert switched.status_code == 302
    html = page(client.get(f"/console/reports/{report.tracking_code}/"))
    assert '<html lang="en" dir="ltr">' in html and "Timeline" in html


def test_console_reads_only_through_selectors():
    # The same check as the maps': no SQL, no `.objects`, no table names, no forbidden models.
    page_app_check("console")


def test_console_pages_have_no_inline_script_or_style():
    root = Path(settings.BASE_DIR) / "console" / "templates"
    for path in root.rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(root)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source.replace("json_script", "")), where
        assert not re.search(r"\son[a-z]+\s*=", source), where
        assert "style=" not in source and "javascript:" not in source, where

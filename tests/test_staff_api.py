"""The staff API: tokens, the inbox in scope, a report's staff view, the workflow's actions; a
generated matrix of roles x endpoints x scope x method, every transition for every role, and two
staff acting at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import jdatetime
import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from issues.models import Report, ReportEvent, ReportPhoto, ReportStatus
from issues.services.citizen import report_support
from issues.services.intake import report_create
from tests.conftest import STAFF_PASSWORD, jpeg_upload, pt

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token/"
LIST_URL = "/api/staff/reports/"


def detail_url(code: str) -> str:
    return f"/api/staff/reports/{code}/"


def actions_url(code: str) -> str:
    return f"/api/staff/reports/{code}/actions/"


@pytest.fixture(autouse=True)
def quick_passwords_and_media(settings, tmp_path):
    # The staff fixture hashes seven passwords: a second each with the production hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def pothole(city, where="r1", **extra) -> Report:
    return report_create(category=city.pothole, location=pt(*getattr(city.points, where)), **extra)


def codes(response) -> list[str]:
    return [f["properties"]["code"] for f in response.json()["features"]]


def test_the_urls_are_wired_under_the_api_namespace():
    assert reverse("api:auth-token") == TOKEN_URL
    assert reverse("api:staff-report-list") == LIST_URL
    assert reverse("api:staff-report-detail", args=["ABC"]) == detail_url("ABC")
    assert reverse("api:staff-report-actions", args=["ABC"]) == actions_url("ABC")


def test_every_endpoint_is_in_the_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert set(paths["/api/auth/token/"]) == {"post", "delete"}
    assert "get" in paths["/api/staff/reports/"] and "get" in paths["/api/staff/reports/{code}/"]
    action = paths["/api/staff/reports/{code}/actions/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(action["responses"])
    assert {"tokenAuth": []} in action["security"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


# --- Tokens ----------------------------------------------------------------------------------------


def test_a_token_for_the_right_password_opens_the_api(city, staff):
    response = APIClient().post(TOKEN_URL, {"username": "unit_r1", "password": STAFF_PASSWORD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "unit_r1" and body["role"] == "unit_staff" and len(body["token"]) == 40
    assert response["Cache-Control"] == "no-store"
    # The same token each time, until revoked.
    again = APIClient().post(TOKEN_URL, {"username": "unit_r1", "password": STAFF_PASSWORD}, format="json")
    assert again.json()["token"] == body["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get(LIST_URL).status_code == 200


def test_a_wrong_password_an_unknown_or_inactive_user_are_one_answer(city, staff):
    english = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    wrong = english.post(TOKEN_URL, {"username": "unit_r1", "password": "nope"}, format="json")
    unknown = english.post(TOKEN_URL, {"username": "nobody", "password": "nope"}, format="json")
    staff.unit_r2.is_active = False
    staff.unit_r2.save()
    inactive = english.post(TOKEN_URL, {"username": "unit_r2", "password": STAFF_PASSWORD}, format="json")
    for response in (wrong, unknown, inactive):
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_credentials"
        assert "Wrong username or password" in response.json()["error"]
    assert not Token.objects.exists()


def test_an_inactive_users_old_token_no_longer_opens_the_api(city, staff):
    client = client_for(staff.unit_r1)
    staff.unit_r1.is_active = False
    staff.unit_r1.save()
    response = client.get(LIST_URL)
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


def test_only_staff_and_superusers_get_tokens(city, staff):
    user_model = get_user_model()
    user_model.objects.create_user(username="citizen", password="citizen-pass-1")
    refused = APIClient().post(
        TOKEN_URL, {"username": "citizen", "password": "citizen-pass-1"}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "not_staff"
    user_model.objects.create_superuser(username="admin", password="admin-pass-1", email="a@example.com")
    admin = APIClient().post(TOKEN_URL, {"username": "admin", "password": "admin-pass-1"}, format="json")
    assert admin.status_code == 200 and admin.json()["role"] == "supervisor"
    # A council member has a token, and sees no report rows with it.
    council = APIClient().post(TOKEN_URL, {"username": "council", "password": STAFF_PASSWORD}, format="json")
    assert council.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {council.json()['token']}")
    listed = client.get(LIST_URL)
    assert listed.status_code == 403 and listed.json()["code"] == "no_report_access"


def test_token_requests_are_rate_limited_per_address(city, staff, settings):
    settings.OPEN137_RATE_TOKEN = "3/day"
    client = APIClient()
    answers = [
        client.post(TOKEN_URL, {"username": "unit_r1", "password": "guess"}, format="json").status_code
        for _ in range(3)
    ]
    assert answers == [400, 400, 400]
    # The right password counts too once over the limit: each request is a guess.
    throttled = client.post(TOKEN_URL, {"username": "unit_r1", "password": STAFF_PASSWORD}, format="json")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled" and int(throttled["Retry-After"]) > 0
    other = APIClient(REMOTE_ADDR="10.1.2.3")
    assert (
        other.post(TOKEN_URL, {"username": "unit_r1", "password": STAFF_PASSWORD}, format="json").status_code
        == 200
    )


def test_the_token_endpoint_reads_json_only_and_names_missing_fields(city, staff):
    form = APIClient().post(TOKEN_URL, {"username": "unit_r1", "password": STAFF_PASSWORD})  # multipart
    assert form.status_code == 415
    encoded = APIClient().post(
        TOKEN_URL, "username=unit_r1", content_type="application/x-www-form-urlencoded"
    )
    assert encoded.status_code == 415 and encoded.json()["code"] == "unsupported_media_type"
    missing = APIClient().post(TOKEN_URL, {"username": "unit_r1"}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"] == [
        {"field": "password", "code": "required", "message": missing.json()["detail"]["password"][0]}
    ]


def test_a_token_is_revoked_by_its_holder(city, staff):
    client = client_for(staff.unit_r1)
    assert client.delete(TOKEN_URL).status_code == 204
    assert client.get(LIST_URL).status_code == 401
    assert APIClient().delete(TOKEN_URL).status_code == 401


# --- The inbox -------------------------------------------------------------------------------------


@pytest.fixture
def three(city):
    """One report in R1, one in its sub-district S11 (both with the unit roads-r1), one in R2."""
    return {"r1": pothole(city, "r1"), "s11": pothole(city, "s11"), "r2": pothole(city, "r2")}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("operator", {"r1", "s11", "r2"}),
        ("supervisor", {"r1", "s11", "r2"}),
        ("manager_r1", {"r1", "s11"}),
        ("manager_r2", {"r2"}),
        ("unit_r1", {"r1", "s11"}),
        ("unit_r2", {"r2"}),
    ],
)
def test_the_list_holds_the_reports_in_scope_only(city, staff, three, role, expected):
    response = client_for(getattr(staff, role)).get(LIST_URL)
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    assert response["Cache-Control"] == "private, no-store"
    by_code = {report.tracking_code: name for name, report in three.items()}
    assert {by_code[c] for c in codes(response)} == expected


def test_the_list_refuses_the_council_and_strangers(city, staff, three):
    council = client_for(staff.council).get(LIST_URL)
    assert council.status_code == 403 and council.json()["code"] == "no_report_access"
    anonymous = APIClient().get(LIST_URL)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == "Token"


def test_a_feature_carries_deadlines_version_unit_and_assignment(city, staff, three):
    response = client_for(staff.unit_r1).get(LIST_URL, {"unit": "roads-r1"})
    feature = next(f for f in response.json()["features"] if f["id"] == three["r1"].tracking_code)
    props = feature["properties"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [50.015, 36.275]}
    assert props["service_area"] == "roads-r1" and props["district"] == "R1" and props["assigned"] is None
    assert props["version"] == three["r1"].version and props["status"] == "forwarded"
    assert props["overdue"] is False
    assert props["expected_at"].endswith("+03:30") and props["acknowledge_due_at"].endswith("+03:30")
    assert "contact" not in props


def test_contacts_only_for_the_137_centre(city, staff):
    report = pothole(
        city, reporter_name="Sara", reporter_phone="+989121234567", reporter_email="s@example.com"
    )
    for role in ("operator", "supervisor"):
        client = client_for(getattr(staff, role))
        listed = client.get(LIST_URL).json()["features"][0]["properties"]
        shown = client.get(detail_url(report.tracking_code)).json()
        for document in (listed, shown):
            assert document["contact"] == {
                "name": "Sara",
                "phone": "+989121234567",
                "email": "s@example.com",
                "consent_contact": False,
            }
    for role in ("manager_r1", "unit_r1"):
        client = client_for(getattr(staff, role))
        listed = client.get(LIST_URL)
        shown = client.get(detail_url(report.tracking_code))
        assert "contact" not in listed.json()["features"][0]["properties"]
        assert "contact" not in shown.json()
        for body in (listed.content, shown.content):
            assert b"989121234567" not in body and b"Sara" not in body and b"s@example.com" not in body


def test_filters_status_unit_overdue_and_triage(city, staff, three):
    operator = client_for(staff.operator)
    client_for(staff.unit_r1).post(
        actions_url(three["r1"].tracking_code), {"action": "acknowledge"}, format="json"
    )
    assert codes(operator.get(LIST_URL, {"status": "acknowledged"})) == [three["r1"].tracking_code]
    assert codes(operator.get(LIST_URL, {"unit": "roads-r2"})) == [three["r2"].tracking_code]
    Report.objects.filter(pk=three["s11"].pk).update(expected_at=timezone.now() - timedelta(hours=1))
    assert codes(operator.get(LIST_URL, {"overdue": "true"})) == [three["s11"].tracking_code]
    lost = report_create(category=city.pothole, location=pt(51.0, 36.9))  # outside every district
    assert codes(operator.get(LIST_URL, {"triage": "1"})) == [lost.tracking_code]
    assert lost.tracking_code not in codes(client_for(staff.supervisor).get(LIST_URL, {"unit": "roads-r1"}))
    bad = operator.get(LIST_URL, {"overdue": "maybe"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "overdue"
    assert bad.json()["code"] == "invalid"
    assert operator.get(LIST_URL, {"status": "nonsense"}).status_code == 400


def test_cursor_paging_has_no_duplicates_and_no_gaps(city, staff):
    reports = [pothole(city) for _ in range(7)]
    # Three reports made at the same instant: the cursor's tie-break on id must not lose one.
    same = timezone.now() - timedelta(minutes=5)
    Report.objects.filter(pk__in=[r.pk for r in reports[2:5]]).update(created_at=same)
    expected = list(Report.objects.order_by("-created_at", "-id").values_list("tracking_code", flat=True))
    client = client_for(staff.manager_r1)
    seen, url, pages = [], f"{LIST_URL}?page_size=3", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = response.json()
        assert len(page["features"]) <= 3
        seen += [f["id"] for f in page["features"]]
        url = page["next"]
        pages += 1
    assert seen == expected and pages == 3
    assert client.get(LIST_URL, {"cursor": "not-a-cursor"}).json()["errors"][0]["field"] == "cursor"
    assert client.get(LIST_URL, {"page_size": "0"}).status_code == 400


# --- One report ------------------------------------------------------------------------------------


def test_detail_is_a_404_across_scope(city, staff, three):
    for role, name in (("manager_r2", "r1"), ("unit_r2", "s11"), ("manager_r1", "r2"), ("unit_r1", "r2")):
        response = client_for(getattr(staff, role)).get(detail_url(three[name].tracking_code))
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert client_for(staff.manager_r1).get(detail_url(three["s11"].tracking_code)).status_code == 200
    assert client_for(staff.operator).get(detail_url("NOSUCHCODE")).status_code == 404


def test_detail_has_the_whole_timeline_photos_actions_and_version(city, staff, three):
    code = three["r1"].tracking_code
    unit = client_for(staff.unit_r1)
    done = unit.post(
        actions_url(code),
        {"action": "acknowledge", "note": "call the contractor", "internal": True},
        format="json",
    )
    assert done.status_code == 200
    body = unit.get(detail_url(code)).json()
    assert body["version"] == done.json()["version"] and body["status"] == "acknowledged"
    kinds = [(e["kind"], e["public"], e["note"]) for e in body["timeline"]]
    assert kinds[0][0] == "created"
    assert ("status", True, "") in kinds and ("note", False, "call the contractor") in kinds
    assert body["actions"] == ["start", "done", "transfer", "duplicate", "note", "assign"]
    assert body["photos"] == [] and body["lat"] == 36.275 and body["lon"] == 50.015
    operator = client_for(staff.operator).get(detail_url(code)).json()
    assert operator["actions"] == ["note"]


# --- Actions ---------------------------------------------------------------------------------------


def test_acknowledge_answers_the_new_state_and_its_event(city, staff, three):
    report = three["r1"]
    response = client_for(staff.unit_r1).post(
        actions_url(report.tracking_code.lower()),
        {"action": "acknowledge", "version": report.version},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["status"], body["version"]) == (
        report.tracking_code,
        "acknowledged",
        report.version + 1,
    )
    event = body["event"]
    assert (event["kind"], event["from_status"], event["to_status"], event["actor"], event["public"]) == (
        "status",
        "forwarded",
        "acknowledged",
        "unit_r1",
        True,
    )
    assert event["data"] == {"action": "acknowledge"} and event["at"].endswith("+03:30")
    assert body["actions"][:2] == ["start", "done"]


def test_a_stale_version_is_a_409_with_the_current_state(city, staff, three):
    report = three["r1"]
    seen = report.version
    client_for(staff.manager_r1).post(
        actions_url(report.tracking_code), {"action": "acknowledge"}, format="json"
    )
    before = ReportEvent.objects.filter(report=report).count()
    stale = client_for(staff.unit_r1).post(
        actions_url(report.tracking_code),
        {"action": "transfer", "note": "x", "service_area": "roads-r2", "version": seen},
        format="json",
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "conflict"
    assert stale.json()["current"] == {"status": "acknowledged", "version": seen + 1}
    again = client_for(staff.unit_r1).post(
        actions_url(report.tracking_code), {"action": "acknowledge"}, format="json"
    )
    assert again.status_code == 409 and again.json()["current"]["status"] == "acknowledged"
    assert ReportEvent.objects.filter(report=report).count() == before


def test_out_of_scope_is_404_and_a_forbidden_role_403(city, staff, three):
    other = client_for(staff.unit_r2).post(
        actions_url(three["r1"].tracking_code), {"action": "acknowledge"}, format="json"
    )
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    forbidden = client_for(staff.operator).post(
        actions_url(three["r1"].tracking_code), {"action": "acknowledge"}, format="json"
    )
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "role_forbidden"
    refer = client_for(staff.unit_r1).post(
        actions_url(three["r1"].tracking_code), {"action": "refer", "referred_to": "water"}, format="json"
    )
    assert refer.status_code == 403
    assert Report.objects.get(pk=three["r1"].pk).status == ReportStatus.FORWARDED


def test_bad_input_is_a_400_with_codes(city, staff, three):
    client = client_for(staff.unit_r1)
    url = actions_url(three["r1"].tracking_code)
    unknown = client.post(url, {"action": "explode"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_action"
    assert unknown.json()["errors"][0]["field"] == "action"
    missing = client.post(url, {"note": "x"}, format="json")
    assert missing.json()["code"] == "required"
    not_for = client.post(url, {"action": "acknowledge", "service_area": "roads-r2"}, format="json")
    assert not_for.status_code == 400 and not_for.json()["code"] == "not_for_action"
    bad_version = client.post(url, {"action": "acknowledge", "version": "two"}, format="json")
    assert bad_version.status_code == 400 and bad_version.json()["errors"][0]["field"] == "version"
    form = client.post(url, "action=acknowledge", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert Report.objects.get(pk=three["r1"].pk).version == three["r1"].version


def test_done_takes_a_multipart_photo_and_the_work_position(city, staff, three):
    report = three["r1"]
    client = client_for(staff.unit_r1)
    client.post(actions_url(report.tracking_code), {"action": "acknowledge"}, format="json")
    no_photo = client.post(
        actions_url(report.tracking_code), {"action": "done", "note": "paved"}, format="json"
    )
    assert no_photo.status_code == 400 and no_photo.json()["code"] == "photo_required"
    assert no_photo.json()["errors"][0]["field"] == "photos"
    response = client.post(
        actions_url(report.tracking_code),
        {"action": "done", "note": "paved", "photos": [jpeg_upload()], "lat": "36.2751", "lon": "50.0151"},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "done"
    assert response.json()["event"]["data"]["work_location"] == [50.0151, 36.2751]
    assert ReportPhoto.objects.filter(report=report, kind=ReportPhoto.Kind.WORK).count() == 1
    photos = client.get(detail_url(report.tracking_code)).json()["photos"]
    assert [p["kind"] for p in photos] == ["work"]


def test_transfer_needs_a_unit(city, staff, three):
    url = actions_url(three["r1"].tracking_code)
    client = client_for(staff.manager_r1)
    missing = client.post(url, {"action": "transfer", "note": "not ours"}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "service_area"
    unknown = client.post(url, {"action": "transfer", "note": "x", "service_area": "nowhere"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_service_area"
    moved = client.post(
        url, {"action": "transfer", "note": "not ours", "service_area": "roads-central"}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["status"] == "transferred"
    assert moved.json()["event"]["data"]["service_area"] == "roads-central"


def test_a_duplicate_carries_its_supporters(city, staff, three):
    first, second = three["r1"], pothole(city)
    report_support(report=second, fingerprint="a" * 64)
    client = client_for(staff.unit_r1)
    out_of_scope = client.post(
        actions_url(second.tracking_code),
        {"action": "duplicate", "duplicate_of": three["r2"].tracking_code},
        format="json",
    )
    assert out_of_scope.status_code == 400 and out_of_scope.json()["code"] == "unknown_report"
    response = client.post(
        actions_url(second.tracking_code),
        {"action": "duplicate", "duplicate_of": first.tracking_code},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "duplicate"
    assert response.json()["event"]["data"]["duplicate_of"] == first.tracking_code
    first.refresh_from_db()
    assert first.support_count == 2  # the duplicate's supporter and its reporter
    assert client.get(detail_url(second.tracking_code)).json()["duplicate_of"] == first.tracking_code


def test_start_with_a_jalali_date_assign_and_refer(city, staff, three):
    code = three["r1"].tracking_code
    manager = client_for(staff.manager_r1)
    manager.post(actions_url(code), {"action": "acknowledge"}, format="json")
    started = manager.post(
        actions_url(code), {"action": "start", "scheduled_for": "۱۴۰۵-۰۹-۱۰"}, format="json"
    )
    assert started.status_code == 200
    assert (
        started.json()["event"]["data"]["scheduled_for"]
        == jdatetime.date(1405, 9, 10).togregorian().isoformat()
    )
    not_a_date = manager.post(actions_url(code), {"action": "start", "scheduled_for": "soon"}, format="json")
    assert not_a_date.status_code == 400 and not_a_date.json()["errors"][0]["field"] == "scheduled_for"
    assigned = manager.post(actions_url(code), {"action": "assign", "assignee": "unit_r1"}, format="json")
    assert assigned.status_code == 200
    mine = client_for(staff.unit_r1).get(LIST_URL, {"mine": "true"}).json()["features"]
    assert [(f["id"], f["properties"]["assigned"]) for f in mine] == [(code, "unit_r1")]
    outsider = manager.post(actions_url(code), {"action": "assign", "assignee": "unit_r2"}, format="json")
    assert outsider.status_code == 400 and outsider.json()["errors"][0]["field"] == "assignee"
    assert outsider.json()["code"] == "assignee_out_of_scope"
    nobody = manager.post(actions_url(code), {"action": "assign", "assignee": "ghost"}, format="json")
    assert nobody.json()["code"] == "unknown_user"
    referred = manager.post(
        actions_url(three["s11"].tracking_code), {"action": "refer", "referred_to": "water"}, format="json"
    )
    assert referred.status_code == 200 and referred.json()["status"] == "not_responsible"


def test_the_consoles_session_works_and_needs_its_csrf_token_to_write(city, staff, three):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="unit_r1", password=STAFF_PASSWORD)
    assert client.get(LIST_URL).status_code == 200
    refused = client.post(actions_url(three["r1"].tracking_code), {"action": "acknowledge"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert Report.objects.get(pk=three["r1"].pk).status == ReportStatus.FORWARDED


def test_a_non_staff_session_is_refused(city, staff):
    get_user_model().objects.create_user(username="citizen", password="citizen-pass-1")
    client = APIClient()
    client.login(username="citizen", password="citizen-pass-1")
    response = client.get(LIST_URL)
    assert response.status_code == 403 and response.json()["code"] == "not_staff"


# --- The matrix: roles x endpoints x own/other scope x method ---------------------------------------

ROLES = ("operator", "supervisor", "manager_r1", "manager_r2", "unit_r1", "unit_r2", "council", "anonymous")
# Each role's own report and another one: R1's and R2's (the 137 centre and the council see the whole
# city, so for them "other" is simply the second district).
OWN = {
    "operator": "r1",
    "supervisor": "r1",
    "manager_r1": "r1",
    "manager_r2": "r2",
    "unit_r1": "r1",
    "unit_r2": "r2",
    "council": "r1",
    "anonymous": "r1",
}
OTHER = {role: "r2" if own == "r1" else "r1" for role, own in OWN.items()}

# (endpoint, method) -> role -> (status for the own report, status for the other one). The list is
# asked for the own or the other unit (`unit=`); an action's POST is `acknowledge` on a forwarded
# pothole. Authentication comes first (401), then the role (403), then the method (405), then scope.
EXPECTED: dict[tuple[str, str], dict[str, tuple[int, int]]] = {
    ("list", "GET"): {
        "operator": (200, 200),
        "supervisor": (200, 200),
        "manager_r1": (200, 200),
        "manager_r2": (200, 200),
        "unit_r1": (200, 200),
        "unit_r2": (200, 200),
        "council": (403, 403),
        "anonymous": (401, 401),
    },
    ("detail", "GET"): {
        "operator": (200, 200),
        "supervisor": (200, 200),
        "manager_r1": (200, 404),
        "manager_r2": (200, 404),
        "unit_r1": (200, 404),
        "unit_r2": (200, 404),
        "council": (403, 403),
        "anonymous": (401, 401),
    },
    ("actions", "POST"): {
        "operator": (403, 403),  # sees everything, acknowledges nothing: that is the unit's
        "supervisor": (200, 200),
        "manager_r1": (200, 404),
        "manager_r2": (200, 404),
        "unit_r1": (200, 404),
        "unit_r2": (200, 404),
        "council": (403, 403),
        "anonymous": (401, 401),
    },
}
# Any other method: refused once the user is known to work reports.
NOT_ALLOWED = {
    "operator": (405, 405),
    "supervisor": (405, 405),
    "manager_r1": (405, 405),
    "manager_r2": (405, 405),
    "unit_r1": (405, 405),
    "unit_r2": (405, 405),
    "council": (403, 403),
    "anonymous": (401, 401),
}
METHODS = ("GET", "POST", "PUT", "DELETE")
ERROR_CODES = {
    401: {"not_authenticated"},
    403: {"no_report_access", "role_forbidden"},
    404: {"not_found"},
    405: {"method_not_allowed"},
}

MATRIX = [
    pytest.param(
        endpoint,
        method,
        role,
        where,
        EXPECTED.get((endpoint, method), NOT_ALLOWED)[role][where == "other"],
        id=f"{endpoint}-{method}-{role}-{where}",
    )
    for endpoint in ("list", "detail", "actions")
    for method in METHODS
    for role in ROLES
    for where in ("own", "other")
]
UNIT_OF = {"r1": "roads-r1", "r2": "roads-r2"}


@pytest.mark.parametrize(("endpoint", "method", "role", "where", "expected"), MATRIX)
def test_matrix(city, staff, endpoint, method, role, where, expected):
    reports = {"r1": pothole(city, "r1"), "r2": pothole(city, "r2")}
    name = OWN[role] if where == "own" else OTHER[role]
    report = reports[name]
    client = client_for(None if role == "anonymous" else getattr(staff, role))
    if endpoint == "list":
        url = f"{LIST_URL}?unit={UNIT_OF[name]}"
    elif endpoint == "detail":
        url = detail_url(report.tracking_code)
    else:
        url = actions_url(report.tracking_code)
    body = {"action": "acknowledge"} if method in ("POST", "PUT") else None
    response = getattr(client, method.lower())(url, body, format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["code"] in ERROR_CODES[expected]
    if endpoint == "list" and expected == 200:
        # The list's 200 for another unit is an empty page for staff whose scope does not hold it.
        visible = where == "own" or role in ("operator", "supervisor")
        assert (report.tracking_code in codes(response)) is visible
    report.refresh_from_db()
    acknowledged = endpoint == "actions" and method == "POST" and expected == 200
    assert report.status == ("acknowledged" if acknowledged else "forwarded")


# --- Every transition for every role ---------------------------------------------------------------

UNIT, MANAGER, SUPERVISOR, OPERATOR = "unit_staff", "district_manager", "supervisor", "operator"
WITH_UNIT = {"forwarded", "transferred", "reopened"}
ACTIVE = {"received", "forwarded", "transferred", "reopened", "acknowledged", "in_progress"}
PROBLEM, SHORT = {"service_request"}, {"suggestion"}
# The workflow as the issue states it: action -> (roles, from states, kinds). Written out here, not
# read from issues.workflow.transitions, so a change of the table shows as a failing test.
WORKFLOW: dict[str, tuple[set[str], set[str], set[str]]] = {
    "route": ({SUPERVISOR}, {"received"}, PROBLEM | SHORT),
    "acknowledge": ({UNIT, MANAGER, SUPERVISOR}, WITH_UNIT, PROBLEM | SHORT),
    "start": ({UNIT, MANAGER, SUPERVISOR}, {"acknowledged"}, PROBLEM),
    "done": ({UNIT, MANAGER, SUPERVISOR}, {"acknowledged", "in_progress"}, PROBLEM),
    "verify": ({SUPERVISOR}, {"done"}, PROBLEM),
    "reopen": ({SUPERVISOR}, {"done", "verified", "closed"}, PROBLEM),
    "close": ({SUPERVISOR}, {"done", "verified"}, PROBLEM),
    "answer": ({UNIT, MANAGER, SUPERVISOR}, WITH_UNIT | {"acknowledged", "received"}, SHORT),
    "transfer": ({UNIT, MANAGER, SUPERVISOR}, ACTIVE, PROBLEM | SHORT),
    "refer": ({MANAGER, SUPERVISOR}, ACTIVE, PROBLEM | SHORT),
    "duplicate": ({UNIT, MANAGER, SUPERVISOR}, ACTIVE, PROBLEM | SHORT),
    "resolve_by_citizens": ({MANAGER, SUPERVISOR}, ACTIVE, PROBLEM),
    # No status change, any state.
    "note": ({UNIT, MANAGER, SUPERVISOR, OPERATOR}, set(ReportStatus.values), PROBLEM | SHORT),
    "assign": ({UNIT, MANAGER, SUPERVISOR}, set(ReportStatus.values), PROBLEM | SHORT),
}
STAFF_OF_ROLE = {
    UNIT: "unit_r1",
    MANAGER: "manager_r1",
    SUPERVISOR: "supervisor",
    OPERATOR: "operator",
    "council": "council",
}


def expected_answer(role: str, action: str, status: str, kind: str) -> int:
    roles, sources, kinds = WORKFLOW[action]
    if role == "council":
        return 403
    if role not in roles:
        return 403
    return 200 if status in sources and kind in kinds else 409


def action_body(action: str, target: Report) -> tuple[dict, str]:
    fields: dict = {"action": action}
    if action in ("route", "transfer"):
        fields["service_area"] = "roads-r2"
    if action in ("note", "answer", "transfer", "done"):
        fields["note"] = "a note"
    if action == "done":
        fields["photos"] = [jpeg_upload()]
    if action == "refer":
        fields["referred_to"] = "water"
    if action == "duplicate":
        fields["duplicate_of"] = target.tracking_code
    if action == "assign":
        fields["assignee"] = "unit_r1"
    return fields, "multipart" if action == "done" else "json"


@pytest.mark.parametrize("action", sorted(WORKFLOW))
@pytest.mark.parametrize("role", [UNIT, MANAGER, SUPERVISOR, OPERATOR, "council"])
def test_every_transition_for_every_role(city, staff, role, action):
    client = client_for(getattr(staff, STAFF_OF_ROLE[role]))
    target = pothole(city)  # what a duplicate duplicates
    reports = {
        "service_request": pothole(city),
        "suggestion": report_create(category=city.suggestion, location=pt(*city.points.r1)),
    }
    answers, wrong = {}, []
    for kind, report in reports.items():
        for status in ReportStatus.values:
            # Put the report in the state under test (and back with its unit, after a transfer).
            Report.objects.filter(pk=report.pk).update(status=status, service_area=city.areas.r1)
            before = ReportEvent.objects.filter(report=report).count()
            fields, form = action_body(action, target)
            response = client.post(actions_url(report.tracking_code), fields, format=form)
            expected = expected_answer(role, action, status, kind)
            answers[kind, status] = response.status_code
            if response.status_code != expected:
                wrong.append((kind, status, response.status_code, expected, response.json().get("error")))
            written = ReportEvent.objects.filter(report=report).count() - before
            assert (written > 0) == (response.status_code == 200), (kind, status)
            if response.status_code == 409:
                assert response.json()["current"]["status"] == status
    assert not wrong, wrong


# --- Two staff at once -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_actions_one_wins_one_conflicts(city, staff):
    report = pothole(city)
    clients = [client_for(staff.unit_r1), client_for(staff.manager_r1)]
    barrier = threading.Barrier(len(clients))
    answers: list[int] = []

    def act(client: APIClient) -> None:
        try:
            barrier.wait(timeout=10)
            response = client.post(
                actions_url(report.tracking_code), {"action": "acknowledge"}, format="json"
            )
            answers.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=act, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [200, 409]
    assert ReportEvent.objects.filter(report=report, kind=ReportEvent.Kind.STATUS).count() == 1
    report.refresh_from_db()
    assert report.status == "acknowledged" and report.version == 2

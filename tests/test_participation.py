"""Participation: points citizens report empty in one tap (staff restock them, in their scope) and
pledges ("I'll take care of it") that close a report as resolved by citizens through the workflow."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection

from issues.formats import token_hash
from issues.models import ReportEvent, ReportStatus
from issues.services.intake import report_create
from issues.workflow.services import TransitionConflict
from participation.models import ParticipationPoint, Pledge, PledgeEvent, PointEmptyReport, PointEvent
from participation.services import pledge_create, point_create, point_retire
from tests.conftest import STAFF_PASSWORD, pt

pytestmark = pytest.mark.django_db

REPORTER_TOKEN = "reporter-private-token-0123456789"
EXPECTED_PROPERTIES = {"id", "kind", "name_fa", "name_en", "status", "url"}


@pytest.fixture
def points(city):
    r1 = point_create(
        kind="salt_bin",
        name_fa="مخزن نمک میدان",
        name_en="Salt bin, square",
        location=pt(*city.points.r1),
        notes="Key with the caretaker, 0912 000 0000",
    )
    r2 = point_create(
        kind="sand_bin", name_fa="مخزن شن دو", name_en="Sand bin two", location=pt(*city.points.r2)
    )
    tools = point_create(kind="tool_lending", name_fa="امانت ابزار", location=pt(*city.points.s11))
    return type("Points", (), {"r1": r1, "r2": r2, "tools": tools})


@pytest.fixture
def salting(city, category_factory):
    return category_factory("salting", city.roads, name_en="Icy street", citizen_doable=True)


def _report(category, where=(50.015, 36.275), token=REPORTER_TOKEN, **extra):
    return report_create(
        category=category,
        location=pt(*where),
        description="یخ زده",
        reporter_name="Maryam Ahmadi",
        reporter_phone="09120000000",
        private_token_hash=token_hash(token),
        **extra,
    )


def _tap(client, point, addr="10.0.0.1", **extra):
    return client.post(f"/participation/points/{point.pk}/empty/", REMOTE_ADDR=addr, **extra)


# --- Points: one tap ----------------------------------------------------------------------------


def test_one_tap_reports_a_point_empty_and_a_second_tap_of_the_same_client_changes_nothing(client, points):
    response = _tap(client, points.r1)
    assert response.status_code == 303 and response["Location"] == f"/participation/points/{points.r1.pk}/"
    points.r1.refresh_from_db()
    assert points.r1.status == "empty" and points.r1.empty_reports == 1 and points.r1.reported_empty_at
    first_at = points.r1.reported_empty_at

    again = _tap(client, points.r1, HTTP_ACCEPT="application/json")
    assert again.status_code == 200
    assert again.json() == {"id": points.r1.pk, "status": "empty", "empty_reports": 1, "added": False}
    points.r1.refresh_from_db()
    assert points.r1.empty_reports == 1 and points.r1.reported_empty_at == first_at
    assert PointEvent.objects.filter(point=points.r1, kind="reported_empty").count() == 1

    # Another citizen is counted; the event says "citizen", never who.
    other = _tap(client, points.r1, addr="10.0.0.2", HTTP_ACCEPT="application/json")
    assert other.json()["empty_reports"] == 2 and other.json()["added"] is True
    labels = set(
        PointEvent.objects.filter(point=points.r1, kind="reported_empty").values_list(
            "actor_label", flat=True
        )
    )
    assert labels == {"citizen"}

    page = client.get(f"/participation/points/{points.r1.pk}/")
    assert 'id="point-status"' in page.content.decode() and "خالی" in page.content.decode()


def test_the_empty_tap_is_rate_limited_per_client_and_a_refused_tap_writes_nothing(client, points, settings):
    settings.OPEN137_RATE_POINT_EMPTY = "2/hour"
    assert _tap(client, points.r1).status_code == 303
    assert _tap(client, points.r1).status_code == 303  # idempotent, but counted
    refused = _tap(client, points.r2)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    points.r2.refresh_from_db()
    assert points.r2.status == "stocked" and points.r2.empty_reports == 0
    assert not PointEmptyReport.objects.filter(point=points.r2).exists()
    json_refused = _tap(client, points.r2, HTTP_ACCEPT="application/json")
    assert json_refused.status_code == 429 and "retry_after" in json_refused.json()
    # Another client is not held by this one's limit.
    assert _tap(client, points.r2, addr="10.9.9.9").status_code == 303


def test_the_api_one_tap_and_unknown_or_retired_points(api_client, points):
    response = api_client.post(f"/api/participation/points/{points.r1.pk}/empty/", format="json")
    assert response.status_code == 200 and response.json()["status"] == "empty"
    point_retire(point=points.r2, actor=None)
    assert (
        api_client.post(f"/api/participation/points/{points.r2.pk}/empty/", format="json").status_code == 404
    )
    assert api_client.post("/api/participation/points/999999/empty/", format="json").status_code == 404
    assert not PointEmptyReport.objects.filter(point=points.r2).exists()


# --- Points: GeoJSON and the public page ----------------------------------------------------------


def test_the_points_geojson_has_exactly_the_agreed_properties_and_nothing_private(api_client, points):
    body = api_client.get("/api/participation/points/").json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 3
    feature = next(f for f in body["features"] if f["id"] == points.r1.pk)
    assert set(feature["properties"]) == EXPECTED_PROPERTIES
    assert feature["properties"] == {
        "id": points.r1.pk,
        "kind": "salt_bin",
        "name_fa": "مخزن نمک میدان",
        "name_en": "Salt bin, square",
        "status": "stocked",
        "url": f"/participation/points/{points.r1.pk}/",
    }
    assert feature["geometry"] == {"type": "Point", "coordinates": [50.015, 36.275]}
    raw = api_client.get("/api/participation/points/").content.decode()
    assert "caretaker" not in raw and "0912" not in raw


def test_the_points_geojson_filters_and_refuses_bad_filters(api_client, points):
    def ids(query):
        return {f["id"] for f in api_client.get(f"/api/participation/points/{query}").json()["features"]}

    assert ids("?bbox=50.00,36.26,50.02,36.28") == {points.r1.pk, points.tools.pk}
    assert ids("?kind=sand_bin,tool_lending") == {points.r2.pk, points.tools.pk}
    assert ids("?bbox=50.00,36.26,50.02,36.28&kind=salt_bin") == {points.r1.pk}
    for bad in (
        "?bbox=1,2,3",
        "?bbox=a,b,c,d",
        "?bbox=50.02,36.26,50.00,36.28",
        "?kind=bucket",
        "?bbox=nan,1,2,3",
    ):
        response = api_client.get(f"/api/participation/points/{bad}")
        assert response.status_code == 400, bad
        assert response.json()["error"]
    point_retire(point=points.r2, actor=None)
    assert points.r2.pk not in ids("")


def test_a_points_page_is_persian_first_with_jalali_dates_and_english_one_click_away(client, points):
    page = client.get(f"/participation/points/{points.r1.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'dir="rtl"' in html and "مخزن نمک میدان" in html and "پر" in html
    # A Jalali date in Persian digits (the point was stocked today: 14xx).
    assert "۱۴" in html
    assert "caretaker" not in html  # staff notes stay with staff
    assert "<script>" not in html and "onclick" not in html
    assert 'name="language" value="en"' in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.get(f"/participation/points/{points.r1.pk}/").content.decode()
    assert 'dir="ltr"' in english and "Salt bin, square" in english and "It is empty" in english
    assert client.get("/participation/points/999999/").status_code == 404


# --- Points: staff ---------------------------------------------------------------------------------


def _signed_in(client, user):
    assert client.login(username=user.username, password=STAFF_PASSWORD)
    return client


def test_staff_list_puts_reported_empty_first_and_restock_respects_the_scope(client, points, staff):
    _tap(client, points.r2, addr="10.1.1.1")
    _signed_in(client, staff.supervisor)
    page = client.get("/console/participation/points/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.index("مخزن شن دو") < html.index("مخزن نمک میدان")  # the empty one on top
    assert "caretaker" in html  # staff see the notes

    # A manager of the other district: the point is as if it did not exist.
    _signed_in(client, staff.manager_r1)
    assert "مخزن شن دو" not in client.get("/console/participation/points/").content.decode()
    assert client.post(f"/console/participation/points/{points.r2.pk}/restocked/").status_code == 404
    # A unit of that other district sees it neither.
    _signed_in(client, staff.unit_r1)
    assert client.post(f"/console/participation/points/{points.r2.pk}/restocked/").status_code == 404
    # Roles that do not manage points: 403.
    for user in (staff.operator, staff.council):
        _signed_in(client, user)
        assert client.get("/console/participation/points/").status_code == 403
        assert client.post(f"/console/participation/points/{points.r2.pk}/restocked/").status_code == 403
    points.r2.refresh_from_db()
    assert points.r2.status == "empty"

    _signed_in(client, staff.manager_r2)
    assert client.post(f"/console/participation/points/{points.r2.pk}/restocked/").status_code == 302
    points.r2.refresh_from_db()
    assert points.r2.status == "stocked" and points.r2.empty_reports == 0
    event = PointEvent.objects.filter(point=points.r2, kind="restocked").get()
    assert event.actor == staff.manager_r2 and event.data == {"status": "empty", "empty_reports": 1}
    # A new round: the same client may say it is empty again.
    assert _tap(client, points.r2, addr="10.1.1.1", HTTP_ACCEPT="application/json").json()["added"] is True
    # The unit following R1 restocks the sub-district's point (S11 is inside R1).
    _signed_in(client, staff.unit_r1)
    assert client.post(f"/console/participation/points/{points.tools.pk}/restocked/").status_code == 302
    assert client.get("/console/participation/points/999999/restocked/").status_code == 405


def test_the_demo_points_load_once(city):
    call_command("participation_demo_load", verbosity=0)
    count = ParticipationPoint.objects.count()
    assert 8 <= count <= 12
    assert ParticipationPoint.objects.filter(status="empty").count() == 2
    assert ParticipationPoint.objects.filter(district__isnull=False).exists()
    call_command("participation_demo_load", verbosity=0)
    assert ParticipationPoint.objects.count() == count


def test_the_demo_marks_salting_and_drains_doable():
    import json

    from django.conf import settings

    categories = json.loads((settings.BASE_DIR / "fixtures" / "categories.json").read_text())["categories"]
    doable = {c["code"] for c in categories if c.get("citizen_doable")}
    assert doable == {"street-salting", "blocked-drain"}


# --- Pledges -------------------------------------------------------------------------------------


def _pledge(api_client, report, **body):
    return api_client.post(
        "/api/participation/pledges/", {"report": report.tracking_code, **body}, format="json"
    )


def test_a_pledge_only_on_an_open_report_of_a_doable_category(api_client, city, salting):
    not_doable = _report(city.pothole)
    response = _pledge(api_client, not_doable)
    assert response.status_code == 400 and "report" in response.json()["detail"]
    closed = _report(salting, token="closed-report-token")
    type(closed).objects.filter(pk=closed.pk).update(status=ReportStatus.CLOSED)
    assert _pledge(api_client, closed).status_code == 400
    assert _pledge(api_client, type("R", (), {"tracking_code": "ZZZZ9999"})).status_code == 404
    assert not Pledge.objects.exists()
    assert not ReportEvent.objects.filter(data__has_key="pledge").exists()


def test_bad_pledge_input_is_a_400_and_writes_nothing(api_client, salting):
    report = _report(salting)
    for body in ({"name": "x" * 101}, {"contact": "y" * 201}, {"name": "a\x00b"}, {"name": ["list"]}):
        response = _pledge(api_client, report, **body)
        assert response.status_code == 400, body
    assert api_client.post("/api/participation/pledges/", {}, format="json").status_code == 400
    assert api_client.post("/api/participation/pledges/done/", {}, format="json").status_code == 400
    # A form-encoded body (what another site's form could send) is refused.
    form_encoded = api_client.post(
        "/api/participation/pledges/",
        f"report={report.tracking_code}",
        content_type="application/x-www-form-urlencoded",
    )
    assert form_encoded.status_code == 415
    assert not Pledge.objects.exists() and not PledgeEvent.objects.exists()


def test_pledge_done_and_the_reporter_confirms_it_closes_as_resolved_by_citizens(api_client, client, salting):
    report = _report(salting)
    created = _pledge(api_client, report, name="Reza Karimi", contact="reza@example.org")
    assert created.status_code == 201
    token = created.json()["token"]
    assert created.json()["url"].endswith(f"/participation/pledges/{token}/")
    pledge = Pledge.objects.get()
    assert pledge.token_hash == token_hash(token) and token not in pledge.token_hash

    # Confirming before the pledger says done: 409, nothing changes.
    early = api_client.post(
        "/api/participation/pledges/confirm/",
        {"report": report.tracking_code, "token": REPORTER_TOKEN},
        format="json",
    )
    assert early.status_code == 409 and early.json()["code"] == "pledge_not_done"

    done = api_client.post("/api/participation/pledges/done/", {"token": token}, format="json")
    assert done.status_code == 200 and done.json() == {"report": report.tracking_code, "status": "done"}
    assert (
        api_client.post("/api/participation/pledges/done/", {"token": token}, format="json").status_code
        == 409
    )

    wrong = api_client.post(
        "/api/participation/pledges/confirm/",
        {"report": report.tracking_code, "token": "not-the-token"},
        format="json",
    )
    assert wrong.status_code == 403
    confirmed = api_client.post(
        "/api/participation/pledges/confirm/",
        {"report": report.tracking_code, "token": REPORTER_TOKEN},
        format="json",
    )
    assert confirmed.status_code == 200
    assert confirmed.json() == {
        "report": report.tracking_code,
        "status": "confirmed",
        "report_status": "resolved_by_citizens",
    }
    report.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED_BY_CITIZENS and report.closed_at
    assert list(PledgeEvent.objects.order_by("id").values_list("kind", "actor_label")) == [
        ("pledged", "pledger"),
        ("done", "pledger"),
        ("confirmed", "reporter"),
    ]
    public = list(ReportEvent.objects.filter(report=report, public=True).order_by("id"))
    assert [e.data.get("pledge") for e in public if "pledge" in e.data] == ["pledged", "done"]
    step = public[-1]
    assert (
        step.kind == "status"
        and step.data["action"] == "resolve_by_citizens"
        and step.actor_label == "citizen"
    )
    # The public timeline says a citizen took care of it, never who.
    page = client.get(f"/track/{report.tracking_code}/").content.decode()
    detail = api_client.get(f"/api/reports/{report.tracking_code}/").content.decode()
    for text in (page, detail):
        assert "Reza" not in text and "reza@example.org" not in text and "Maryam" not in text
    assert "شهروند" in page


def test_staff_confirm_from_the_console_in_scope_only(client, api_client, salting, staff):
    report = _report(salting)  # in R1
    token = _pledge(api_client, report, name="Reza", contact="0912 111 2222").json()["token"]
    url = f"/console/participation/reports/{report.tracking_code}/pledge/confirm/"

    # The console's report page shows the live pledge; the contact only to the 137 centre.
    _signed_in(client, staff.manager_r1)
    assert "0912 111 2222" not in client.get(f"/console/reports/{report.tracking_code}/").content.decode()
    _signed_in(client, staff.supervisor)
    page = client.get(f"/console/reports/{report.tracking_code}/").content.decode()
    assert 'id="pledge-staff"' in page and "0912 111 2222" in page

    api_client.post("/api/participation/pledges/done/", {"token": token}, format="json")
    _signed_in(client, staff.manager_r2)
    assert client.post(url).status_code == 404  # another district's report
    _signed_in(client, staff.unit_r1)
    assert client.post(url).status_code == 403  # a unit cannot resolve by citizens
    report.refresh_from_db()
    assert report.status != ReportStatus.RESOLVED_BY_CITIZENS
    _signed_in(client, staff.manager_r1)
    assert (
        'id="pledge-staff-confirm"'
        in client.get(f"/console/reports/{report.tracking_code}/").content.decode()
    )
    response = client.post(url)
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED_BY_CITIZENS
    confirmed = PledgeEvent.objects.get(kind="confirmed")
    assert confirmed.actor == staff.manager_r1 and confirmed.actor_label == "staff"
    event = ReportEvent.objects.filter(report=report, kind="status").order_by("-id").first()
    assert event.actor == staff.manager_r1 and event.to_status == "resolved_by_citizens"


def test_wrong_pledge_token_is_a_404(client, api_client, salting):
    report = _report(salting)
    _pledge(api_client, report)
    assert client.get("/participation/pledges/not-a-token/").status_code == 404
    assert client.post("/participation/pledges/not-a-token/done/").status_code == 404
    response = api_client.post("/api/participation/pledges/done/", {"token": "not-a-token"}, format="json")
    assert response.status_code == 404
    assert (
        api_client.post("/api/participation/pledges/withdraw/", {"token": "x"}, format="json").status_code
        == 404
    )
    assert Pledge.objects.get().status == "active"


def test_a_withdrawn_pledge_frees_the_report_for_another(api_client, client, salting):
    report = _report(salting)
    token = _pledge(api_client, report).json()["token"]
    assert _pledge(api_client, report).status_code == 409  # one live pledge per report
    # Through the pledger's page (a form), reached through the private link's exchange.
    page = client.get(f"/participation/pledges/{token}/", follow=True)
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    assert client.post(f"/participation/pledges/{token}/withdraw/").status_code == 303
    assert Pledge.objects.get().status == "withdrawn"
    assert (
        api_client.post("/api/participation/pledges/done/", {"token": token}, format="json").status_code
        == 409
    )
    assert ReportEvent.objects.filter(report=report, data__pledge="withdrawn", public=True).exists()
    second = _pledge(api_client, report)
    assert second.status_code == 201
    assert Pledge.objects.filter(status="active").count() == 1


def test_a_second_pledger_gets_a_conflict(api_client, salting):
    report = _report(salting)
    assert _pledge(api_client, report).status_code == 201
    second = _pledge(api_client, report, name="Second")
    assert second.status_code == 409 and second.json()["code"] == "already_pledged"
    assert Pledge.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_pledgers_at_the_same_moment_one_wins(salting):
    report = _report(salting)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def pledge() -> None:
        try:
            barrier.wait()
            pledge_create(report=report)
            outcomes.append("ok")
        except TransitionConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=pledge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert Pledge.objects.count() == 1


def test_the_tracking_page_offers_the_pledge_and_the_reporter_confirms_there(
    client, api_client, city, salting
):
    pothole = _report(city.pothole, token="pothole-report-token")
    assert 'id="pledge-submit"' not in client.get(f"/track/{pothole.tracking_code}/").content.decode()
    report = _report(salting)
    html = client.get(f"/track/{report.tracking_code}/").content.decode()
    assert 'id="pledge-submit"' in html and 'id="pledge-confirm"' not in html

    # The form on the page: the citizen lands on their private pledge page.
    response = client.post(
        f"/participation/reports/{report.tracking_code}/pledge/", {"name": "Ali", "contact": ""}
    )
    assert response.status_code == 303 and response["Location"].startswith("/participation/pledges/")
    pledge_page = response["Location"]
    assert client.post(pledge_page + "done/").status_code == 303
    public = client.get(f"/track/{report.tracking_code}/").content.decode()
    assert 'id="pledge-state"' in public and 'id="pledge-confirm"' not in public and "Ali" not in public

    # Without the reporter's token: refused; with it: closed as resolved by citizens.
    confirm = f"/participation/reports/{report.tracking_code}/pledge/confirm/"
    assert client.post(confirm, {"t": "wrong"}).status_code == 403
    assert client.post(confirm, {"t": REPORTER_TOKEN}).status_code == 303
    report.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED_BY_CITIZENS


def test_the_api_schema_documents_participation(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/participation/points/",
        "/api/participation/points/{point_id}/empty/",
        "/api/participation/pledges/",
        "/api/participation/pledges/done/",
        "/api/participation/pledges/withdraw/",
        "/api/participation/pledges/confirm/",
    ):
        assert path in schema["paths"], path


def test_the_reporter_confirms_from_the_tracking_page_opened_through_the_private_link(
    client, api_client, salting
):
    report = _report(salting)
    token = _pledge(api_client, report).json()["token"]
    api_client.post("/api/participation/pledges/done/", {"token": token}, format="json")
    page = client.get(f"/track/{report.tracking_code}/?t={REPORTER_TOKEN}", follow=True).content.decode()
    assert 'id="pledge-confirm"' in page
    # The form carries whatever the page carries (the session holds the reporter's rights, or the
    # page holds the token): the control works as shown.
    body = {"t": REPORTER_TOKEN} if f'name="t" value="{REPORTER_TOKEN}"' in page else {}
    response = client.post(f"/participation/reports/{report.tracking_code}/pledge/confirm/", body)
    assert response.status_code == 303
    report.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED_BY_CITIZENS
    assert "شهروندان" in client.get(f"/track/{report.tracking_code}/").content.decode()


def test_the_public_timeline_says_a_citizen_took_it_on_in_the_readers_language(api_client, client, salting):
    report = _report(salting)
    token = _pledge(api_client, report, name="Reza Karimi", contact="09121112233").json()["token"]
    api_client.post("/api/participation/pledges/done/", {"token": token}, format="json")
    persian = client.get(f"/track/{report.tracking_code}/").content.decode()
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(f"/track/{report.tracking_code}/").content.decode()
    assert "A citizen has offered to take care of this" in english
    assert "says it is done; awaiting confirmation" in english
    assert "Note from the municipality" not in english
    assert "یکی از شهروندان داوطلب رسیدگی به این مورد شده است" in persian
    # Nobody is named, nor reachable.
    for page in (english, persian):
        assert "Reza Karimi" not in page and "09121112233" not in page


def test_the_admin_refuses_a_bad_point_next_to_its_field_and_writes_nothing(admin_client, points):
    point = points.r1
    url = f"/admin/participation/participationpoint/{point.pk}/change/"
    data = {
        "kind": point.kind,
        "name_fa": point.name_fa,
        "name_en": point.name_en,
        "location": "SRID=4326;POINT(50.015 36.275)",
        "notes": "x" * 2001,
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "notes" in response.context["adminform"].form.errors
    events = PointEvent.objects.filter(point=point).count()
    point.refresh_from_db()
    assert point.notes != "x" * 2001 and PointEvent.objects.filter(point=point).count() == events
    data["notes"] = "the bin by the mosque"
    saved = admin_client.post(url, data)
    assert saved.status_code == 302
    point.refresh_from_db()
    assert point.notes == "the bin by the mosque"

"""The 137 call screen (console/views/call.py) over HTTP: only the 137 centre opens it; the caller's
earlier reports by the number they call from, however it is typed; the place search; filing a
phone report with a pin, with a typed place, or without a location; the tracking code shown big and
sent by SMS through the outbox."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from geo.srid import GEO_SRID
from issues.models import Channel, OutboxMessage, PlaceKind, Report, ReportEvent
from issues.places.services import place_create
from issues.services.submission import report_submit
from issues.workflow.callers import phone_variants, reports_by_phone
from tests.conftest import pt
from tests.test_console import text

pytestmark = pytest.mark.django_db

CALL = "/console/call/"
PLACES = "/console/call/places/"
CALLER = "/console/call/caller/"
PHONE = "09121234567"


@pytest.fixture
def en(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def filed(city, phone: str = "", **extra) -> Report:
    extra.setdefault("category", city.pothole)
    extra.setdefault("location", pt(*city.points.r1))
    return report_submit(reporter_phone=phone, description="چاله", **extra).report


def form_data(city, **fields: str) -> dict[str, str]:
    data = {
        "reporter_phone": "",
        "reporter_name": "",
        "reporter_email": "",
        "category": "pothole",
        "kind": "",
        "description": "چاله عمیق جلوی نانوایی",
        "place": "",
        "address": "",
        "lat": str(city.points.r1[1]),
        "lon": str(city.points.r1[0]),
        "idempotency_key": "6f1c1d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f",
    }
    data.update(fields)
    return data


# --- Who may open it ---------------------------------------------------------------------------------


def test_only_operators_and_supervisors(client, city, staff):
    urls = [CALL, f"{PLACES}?q=منطقه", f"{CALLER}?phone={PHONE}"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/console/login/"), url
    for user in (staff.operator, staff.supervisor):
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (user, url)
            assert response["Cache-Control"] == "private, no-store"
    for user in (staff.manager_r1, staff.unit_r1, staff.council):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user, url)
        assert client.post(CALL, form_data(city)).status_code == 403
    assert Report.objects.count() == 0


def test_the_console_header_links_to_the_call_screen_for_the_137_centre(client, city, staff):
    client.force_login(staff.operator)
    assert 'id="nav-call"' in client.get("/console/").content.decode()
    client.force_login(staff.manager_r1)
    assert 'id="nav-call"' not in client.get("/console/").content.decode()


# --- The caller's earlier reports --------------------------------------------------------------------


def test_phone_variants_of_an_iranian_number():
    expected = {"9121234567", "09121234567", "+989121234567", "00989121234567", "989121234567"}
    for typed in ("09121234567", "۰۹۱۲ ۱۲۳ ۴۵۶۷", "+98 912 123-4567", "0098 912 123 4567", "٩١٢١٢٣٤٥٦٧"):
        assert set(phone_variants(phone=typed)) == expected, typed
    assert set(phone_variants(phone="+44 20 7946 0958")) == {"+442079460958", "00442079460958"}
    assert phone_variants(phone="137") == [] and phone_variants(phone="") == []


def test_earlier_reports_by_phone_however_it_is_typed(client, city, staff):
    first = filed(city, "09121234567")
    second = filed(city, "+989121234567", category=city.suggestion, location=None)
    third = filed(city, "00989121234567")
    other = filed(city, "09351112222")
    ours = {first.tracking_code, second.tracking_code, third.tracking_code}

    for typed in ("۰۹۱۲۱۲۳۴۵۶۷", "+98 912 123 4567", "9121234567", "0912-123-4567"):
        assert {r["tracking_code"] for r in reports_by_phone(phone=typed)} == ours, typed
    assert reports_by_phone(phone="4567") == []

    client.force_login(staff.operator)
    page = client.get(CALL, {"phone": "۰۹۱۲ ۱۲۳ ۴۵۶۷"})
    body = page.content.decode()
    for code in ours:
        assert f"/console/reports/{code}/" in body
    assert other.tracking_code not in body
    assert 'value="۰۹۱۲ ۱۲۳ ۴۵۶۷"' in body  # the number is in the form, ready for the report

    data = client.get(CALLER, {"phone": "+98 912 123 4567"}).json()
    assert data["phone"] == "+989121234567"
    assert [r["code"] for r in data["reports"]] == [
        third.tracking_code,
        second.tracking_code,
        first.tracking_code,
    ]
    assert data["reports"][0]["url"] == f"/console/reports/{third.tracking_code}/"
    assert data["reports"][0]["status"] == "forwarded" and data["reports"][0]["created"]
    assert client.get(CALLER, {"phone": "0935 111 2222"}).json()["reports"][0]["code"] == other.tracking_code
    assert client.get(CALLER, {"phone": "123"}).json()["reports"] == []


def test_no_earlier_report_says_so(en, city, staff):
    en.force_login(staff.operator)
    assert "No earlier report from this number." in text(en.get(CALL, {"phone": "09129999999"}))


# --- The place search --------------------------------------------------------------------------------


def test_the_place_search_answers_places_and_districts(en, city, staff):
    place_create(
        name_fa="میدان آزادی", name_en="Azadi Square", kind=PlaceKind.LANDMARK, location=pt(50.011, 36.271)
    )
    place_create(name_fa="خیابان سپه", kind=PlaceKind.STREET, location=pt(50.003, 36.265))
    en.force_login(staff.operator)
    results = en.get(PLACES, {"q": "ميدان ازادي"}).json()["results"]
    assert results[0] == {
        "name": "Azadi Square",
        "name_fa": "میدان آزادی",
        "name_en": "Azadi Square",
        "source": "place",
        "kind": "landmark",
        "kind_label": "landmark",
        "code": "",
        "lat": 36.271,
        "lon": 50.011,
    }
    district = en.get(PLACES, {"q": "region one"}).json()["results"][0]
    assert (district["source"], district["code"], district["kind_label"]) == ("district", "R1", "region")
    assert en.get(PLACES, {"q": ""}).json()["results"] == []
    assert en.get(PLACES, {"q": "x" * 5000}).status_code == 200


# --- Filing a report ---------------------------------------------------------------------------------


def test_filing_a_phone_report_with_a_pin_shows_the_code_and_sends_it_by_sms(en, city, staff):
    en.force_login(staff.operator)
    response = en.post(
        CALL,
        form_data(city, reporter_phone="۰۹۱۲ ۱۲۳ ۴۵۶۷", reporter_name="Shirin Karimi", address="Alley 5"),
    )
    assert response.status_code == 302, text(response)[:2000]
    report = Report.objects.get()
    assert response["Location"] == f"/console/call/filed/{report.tracking_code}/"
    assert report.channel == Channel.PHONE
    assert report.reporter_phone == PHONE and report.reporter_name == "Shirin Karimi"
    assert report.address == "Alley 5"
    assert report.location.equals_exact(pt(*city.points.r1), tolerance=1e-9)
    assert report.district.code == "R1" and report.service_area == city.areas.r1
    created = ReportEvent.objects.get(report=report, kind=ReportEvent.Kind.CREATED)
    assert created.actor == staff.operator and created.data["channel"] == "phone"

    # The code goes by SMS through the outbox, in the report's own transaction.
    sms = OutboxMessage.objects.get(report=report, channel=OutboxMessage.Channel.SMS)
    assert sms.recipient == PHONE and report.tracking_code in sms.body

    page = en.get(response["Location"])
    assert page.status_code == 200
    body = text(page)
    grouped = f"{report.tracking_code[:4]}-{report.tracking_code[4:]}"
    assert grouped in body
    assert "sent by SMS to" in body and PHONE in body
    # Character by character, to read back.
    assert re.findall(r"<li>(\w)</li>", page.content.decode()) == list(report.tracking_code)
    # Shown once: a later visit goes to the report's page.
    again = en.get(response["Location"])
    assert again.status_code == 302 and again["Location"] == f"/console/reports/{report.tracking_code}/"


def test_the_same_send_twice_is_one_report(client, city, staff):
    client.force_login(staff.operator)
    data = form_data(city, reporter_phone=PHONE)
    assert client.post(CALL, data).status_code == 302
    assert client.post(CALL, data).status_code == 302
    assert Report.objects.count() == 1


def test_a_report_without_location_where_the_category_allows_it(en, city, staff):
    en.force_login(staff.supervisor)
    response = en.post(
        CALL,
        form_data(
            city,
            category="suggestion",
            no_location="on",
            lat="",
            lon="",
            description="پیشنهاد: ایستگاه دوچرخه",
        ),
    )
    assert response.status_code == 302, text(response)[:2000]
    report = Report.objects.get()
    assert report.location is None and report.routing_rule == "category"
    assert report.service_area == city.areas.central
    assert report.channel == Channel.PHONE
    body = text(en.get(response["Location"]))
    assert "no SMS" in body  # no phone was given
    assert not OutboxMessage.objects.exists()


def test_a_category_that_needs_a_location_is_refused_without_one(en, city, staff):
    en.force_login(staff.operator)
    no_location = en.post(CALL, form_data(city, no_location="on", lat="", lon=""))
    assert no_location.status_code == 400
    assert "This category needs a location" in text(no_location)
    nothing = en.post(CALL, form_data(city, lat="", lon=""))
    assert nothing.status_code == 400 and "This category needs a location" in text(nothing)
    # What was typed is kept.
    assert "چاله عمیق جلوی نانوایی" in nothing.content.decode()
    bad_phone = en.post(CALL, form_data(city, reporter_phone="12ab"))
    assert bad_phone.status_code == 400 and "phone number" in text(bad_phone)
    unknown = en.post(CALL, form_data(city, category="no-such-category"))
    assert unknown.status_code == 400
    assert Report.objects.count() == 0


def test_a_typed_place_gives_the_point_without_the_map(en, city, staff):
    square = place_create(name_fa="میدان آزادی", kind=PlaceKind.LANDMARK, location=pt(50.011, 36.271))
    en.force_login(staff.operator)
    response = en.post(CALL, form_data(city, lat="", lon="", place="ميدان ازادي"))
    assert response.status_code == 302, text(response)[:2000]
    report = Report.objects.get()
    assert report.location.equals_exact(square.location, tolerance=1e-9)
    assert report.location.srid == GEO_SRID
    assert report.address == "میدان آزادی" and report.district.code == "R1"
    nowhere = en.post(CALL, form_data(city, lat="", lon="", place="Atlantis", idempotency_key=""))
    assert nowhere.status_code == 400 and "No place or district is called" in text(nowhere)

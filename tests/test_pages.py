"""The citizen's pages over HTTP (Django's test client, real PostGIS): report a problem in Persian and
English, the thank-you page, the tracking page and the private link.

The town: two regions side by side around 50.0E 36.27N, a roads department with a unit for each
region and a central unit, a pothole category (needs a location) and a suggestion (does not).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from html import unescape
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.db import connection
from django.test import Client
from django.utils import timezone, translation

from districts.selectors import district_search
from districts.services import (
    boundary_set_activate,
    boundary_set_create,
    department_create,
    district_create,
    service_area_create,
)
from geo.srid import GEO_SRID
from issues.formats import token_hash
from issues.models import Category, MessageKind, Report, ReportEvent, ReportStatus
from maps.templatetags.open137 import localdate, localdatetime, localdigits, trackingcode

pytestmark = pytest.mark.django_db

IN_R1 = (36.27, 50.01)  # (lat, lon)
IN_R2 = (36.27, 50.03)


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)), srid=GEO_SRID)


def build_town() -> SimpleNamespace:
    """Districts, the roads department with its units, and two categories, through the services."""
    boundary_set = boundary_set_create(name="pages town")
    r1 = district_create(
        boundary_set=boundary_set,
        code="R1",
        name_fa="منطقه مرکزی",
        name_en="Central Region",
        boundary=rect(50.00, 36.26, 50.02, 36.28),
    )
    r2 = district_create(
        boundary_set=boundary_set,
        code="R2",
        name_fa="منطقه شمالی",
        name_en="Northern Region",
        boundary=rect(50.02, 36.26, 50.04, 36.28),
    )
    boundary_set_activate(boundary_set=boundary_set)
    roads = department_create(code="roads", name_fa="راه و ترابری", name_en="Roads")
    service_area_create(
        department=roads,
        code="roads-r1",
        unit_name_fa="واحد راه منطقه مرکزی",
        unit_name_en="Roads unit, Central",
        district_code="R1",
    )
    service_area_create(
        department=roads,
        code="roads-r2",
        unit_name_fa="واحد راه منطقه شمالی",
        unit_name_en="Roads unit, North",
        district_code="R2",
    )
    service_area_create(
        department=roads, code="roads-hq", unit_name_fa="ستاد راه", unit_name_en="Roads HQ", is_default=True
    )
    pothole = Category.objects.create(
        code="pothole", name_fa="چاله و خرابی آسفالت", name_en="Pothole", department=roads, icon="pothole"
    )
    suggestion = Category.objects.create(
        code="suggestion",
        name_fa="پیشنهاد",
        name_en="Suggestion",
        department=roads,
        kind=MessageKind.SUGGESTION,
        location_required=False,
        icon="lightbulb",
    )
    return SimpleNamespace(r1=r1, r2=r2, roads=roads, pothole=pothole, suggestion=suggestion)


@pytest.fixture
def town() -> SimpleNamespace:
    return build_town()


@pytest.fixture
def en_client() -> Client:
    """A citizen who chose English with the language switch."""
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def report_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "category": "pothole",
        "kind": "",
        "description": "چاله بزرگ جلوی نانوایی",
        "lat": str(IN_R1[0]),
        "lon": str(IN_R1[1]),
        "place": "",
        "reporter_name": "Maryam Rezaei",
        "reporter_phone": "09121234567",
        "reporter_email": "maryam@example.org",
        "consent_contact": "on",
        "idempotency_key": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def submit(client: Client, **overrides: Any) -> tuple[Any, Report | None]:
    response = client.post("/report/", report_data(**overrides))
    if response.status_code != 302:
        return response, None
    code = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    return response, Report.objects.get(tracking_code=code)


def html(response: Any) -> str:
    return unescape(response.content.decode())


# --- The report page ------------------------------------------------------------------------------


def test_report_page_in_persian_by_default(client, town):
    response = client.get("/report/")
    assert response.status_code == 200
    page = html(response)
    assert '<html lang="fa" dir="rtl">' in page
    assert "گزارش مشکل" in page  # "Report a problem"
    assert "ارسال گزارش" in page  # "Send the report"
    assert "چاله و خرابی آسفالت" in page and "راه و ترابری" in page  # category under its department
    assert re.search(r'name="idempotency_key" value="[0-9a-f-]{36}"', page)
    assert 'type="file" name="photos"' in page and 'accept="image/*"' in page and "multiple" in page
    assert 'data-location-required="0"' in page  # the suggestion needs no pin
    # Every field that the citizen fills in has a label tied to it.
    for field in ("id_description", "id_place", "id_reporter_name", "id_reporter_phone", "id_reporter_email"):
        assert f'for="{field}"' in page
    assert 'aria-live="polite"' in page


def test_report_page_in_english_after_switching_language(client, town):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/report/"})
    assert response.status_code == 302
    page = html(client.get("/report/"))
    assert '<html lang="en" dir="ltr">' in page
    assert "Report a problem" in page and "Send the report" in page and "Pothole" in page
    # ... and back to Persian in one click.
    assert 'name="language" value="fa"' in page


def test_report_page_in_english_from_the_language_cookie(en_client, town):
    page = html(en_client.get("/report/"))
    assert 'dir="ltr"' in page and "Where is it?" in page


def test_every_page_uses_only_local_scripts_and_styles(client, en_client, town):
    _, report = submit(client)
    assert report is not None
    token_page = client.get(f"/report/thanks/{report.tracking_code}/")
    pages = [
        client.get("/"),
        client.get("/report/"),
        en_client.get("/report/"),
        token_page,
        client.get("/track/"),
        client.get(f"/track/{report.tracking_code}/"),
        en_client.get(f"/track/{report.tracking_code}/"),
        client.post("/report/", report_data(lat="", lon="")),
    ]
    for response in pages:
        assert response.status_code in (200, 400), response
        page = response.content.decode()
        external = re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="((?:https?:)?//[^"]*)"', page)
        assert external == [], external
        # Any address naming a CDN, also in inline styles and scripts (a bare "cdn" would also match
        # the random CSRF token in a form).
        assert "fonts.googleapis" not in page
        assert not re.search(r"""(?:https?:)?//[^\s"'<>)]*cdn""", page, re.IGNORECASE)


# --- Sending a report -------------------------------------------------------------------------------


def test_report_is_created_routed_and_trackable(client, town):
    response, report = submit(client)
    assert report is not None
    assert response["Location"] == f"/report/thanks/{report.tracking_code}/"
    assert (report.district.code, report.service_area.code) == ("R1", "roads-r1")
    assert (report.reporter_name, report.reporter_phone, report.consent_contact) == (
        "Maryam Rezaei",
        "09121234567",
        True,
    )
    assert report.location.equals_exact(Point(50.01, 36.27, srid=GEO_SRID), tolerance=1e-9)
    page = html(client.get(f"/track/{report.tracking_code}/"))
    assert "واحد راه منطقه مرکزی" in page and "منطقه مرکزی" in page


def test_thank_you_page_shows_the_code_big_and_the_private_link_once(client, town):
    _, report = submit(client)
    code = report.tracking_code
    page = html(client.get(f"/report/thanks/{code}/"))
    assert f'id="tracking-code" dir="ltr" lang="en" data-code="{code}">{code[:4]}-{code[4:]}<' in page
    assert f"/track/{code}/" in page
    link = re.search(rf"http://testserver/track/{code}/\?t=([\w-]+)", page)
    assert link is not None
    assert Report.objects.get(pk=report.pk).private_token_hash == token_hash(link.group(1))
    # The private link lives only in the session flash: a reload shows the code but not the link.
    again = html(client.get(f"/report/thanks/{code}/"))
    assert code[:4] in again and "?t=" not in again
    # Another browser (another session) never sees it.
    assert "?t=" not in html(Client().get(f"/report/thanks/{code}/"))


def test_double_submit_with_the_same_key_gives_one_report(client, town):
    page = html(client.get("/report/"))
    key = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', page).group(1)
    first, report1 = submit(client, idempotency_key=key)
    second, report2 = submit(client, idempotency_key=key)
    assert report1 is not None and report1 == report2
    assert first["Location"] == second["Location"]
    assert Report.objects.count() == 1


def test_same_key_with_an_edited_form_is_refused_and_a_new_key_issued(en_client, town):
    # The back button after sending, then edits: not silently the old report, not a duplicate.
    key = str(uuid.uuid4())
    _, first = submit(en_client, idempotency_key=key)
    response, second = submit(en_client, idempotency_key=key, description="something else")
    assert second is None and response.status_code == 400
    page = html(response)
    assert "already used for a different report" in page
    new_key = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', page).group(1)
    assert new_key != key
    _, third = submit(en_client, idempotency_key=new_key, description="something else")
    assert third is not None and third != first


def test_missing_location_is_an_error_next_to_the_map_and_nothing_is_lost(client, town):
    response, report = submit(client, lat="", lon="", description="جلوی مدرسه", reporter_name="Ali")
    assert report is None and response.status_code == 400
    page = html(response)
    assert 'id="location-errors"' in page and 'role="alert"' in page
    assert 'id="cat-pothole" value="pothole" required' in page
    assert re.search(r'id="cat-pothole"[^>]*checked', page)
    assert "جلوی مدرسه</textarea>" in page
    assert 'value="Ali"' in page and 'value="09121234567"' in page
    assert Report.objects.count() == 0


def test_missing_location_message_in_english(en_client, town):
    response, _ = submit(en_client, lat="", lon="")
    assert "This category needs a location" in html(response)


def test_swapped_coordinates_are_refused_with_a_clear_message(en_client, town):
    response, report = submit(en_client, lat=str(IN_R1[1]), lon=str(IN_R1[0]))
    assert report is None and response.status_code == 400
    page = html(response)
    assert "swapped" in page and 'id="location-errors"' in page
    # The values stay in the form, so the citizen sees what was sent.
    assert f'name="lat" value="{IN_R1[1]}"' in page


def test_bad_coordinates_are_refused(en_client, town):
    response, report = submit(en_client, lat="abc", lon="50.01")
    assert report is None
    assert "lat must be a number" in html(response)


def test_report_by_district_name_gets_the_districts_point(client, town):
    # Typed on an Arabic keyboard (ي) and only part of the name: "شمالي" finds "منطقه شمالی".
    response, report = submit(client, lat="", lon="", place="شمالي")
    assert report is not None, html(response)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(ST_PointOnSurface(boundary)), ST_Y(ST_PointOnSurface(boundary)) FROM districts_district WHERE id = %s",
            [town.r2.pk],
        )
        x, y = cursor.fetchone()
    assert (report.location.x, report.location.y) == pytest.approx((x, y))
    assert (report.district.code, report.service_area.code) == ("R2", "roads-r2")
    assert report.address == "منطقه شمالی"


def test_district_name_that_matches_nothing_or_several_is_an_error(en_client, town):
    response, report = submit(en_client, lat="", lon="", place="Airport")
    assert report is None and "No district is called" in html(response)
    response, report = submit(en_client, lat="", lon="", place="Region")
    assert report is None and "Several districts match" in html(response)


def test_place_search_ranks_whole_names_first(town):
    matches = district_search(text="منطقه مرکزي")
    assert [m.code for m in matches] == ["R1"] and matches[0].rank == 0
    assert {m.code for m in district_search(text="منطقه")} == {"R1", "R2"}
    assert district_search(text="   ") == []


def test_suggestion_needs_no_location(client, town):
    response, report = submit(client, category="suggestion", lat="", lon="", description="پارک بیشتر")
    assert report is not None, html(response)
    assert report.location is None and report.kind == MessageKind.SUGGESTION
    assert report.service_area.code == "roads-hq"


def test_chosen_message_kind_is_kept(client, town):
    _, report = submit(client, kind="complaint")
    assert report.kind == MessageKind.COMPLAINT


def test_too_many_photos_are_refused_before_anything_is_written(en_client, town):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile(f"p{i}.jpg", b"not really", content_type="image/jpeg") for i in range(4)]
    response = en_client.post("/report/", {**report_data(), "photos": files})
    assert response.status_code == 400
    page = html(response)
    assert "At most 3 photos" in page and "choose your photos again" in page
    assert Report.objects.count() == 0


def test_bad_photo_is_an_error_next_to_the_photos(en_client, town):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("photo.jpg", b"this is not an image", content_type="image/jpeg")
    response = en_client.post("/report/", {**report_data(), "photos": [bad]})
    assert response.status_code == 400
    assert 'id="id_photos_error"' in html(response)
    assert Report.objects.count() == 0


def test_open_reports_nearby_are_listed_when_the_form_comes_back(en_client, town):
    _, first = submit(en_client)
    response, second = submit(en_client, reporter_email="not an e-mail")
    assert second is None
    page = html(response)
    assert 'id="nearby"' in page and f"/track/{first.tracking_code}/" in page


# --- Tracking --------------------------------------------------------------------------------------


def _aged(report: Report) -> Report:
    """Put the report and its first event on 1 Farvardin 1404 (21 March 2025), 10:00 in Tehran."""
    moment = dt.datetime(2025, 3, 21, 6, 30, tzinfo=dt.UTC)
    Report.objects.filter(pk=report.pk).update(created_at=moment)
    ReportEvent.objects.filter(report=report).update(at=moment)
    return report


def test_tracking_page_in_persian(client, town):
    _, report = submit(client)
    page = html(client.get(f"/track/{_aged(report).tracking_code}/"))
    assert f"{report.tracking_code[:4]}-{report.tracking_code[4:]}" in page
    assert "وضعیت" in page and "دریافت شد" in page  # "Status", "received"
    assert "واحد راه منطقه مرکزی" in page  # the unit
    assert "۱ فروردین ۱۴۰۴" in page and "ساعت ۱۰:۰۰" in page  # Jalali, Persian digits, Tehran time
    assert 'id="timeline"' in page and "گزارش دریافت شد" in page  # "Report received"
    assert "چاله بزرگ جلوی نانوایی" in page
    assert 'id="track-map"' in page


def test_tracking_page_in_english_has_gregorian_dates(en_client, town):
    _, report = submit(en_client)
    page = html(en_client.get(f"/track/{_aged(report).tracking_code}/"))
    assert "Status" in page and "received" in page and "Roads unit, Central" in page
    assert "21 March 2025, 10:00" in page
    assert "۱۴۰۴" not in page


def test_tracking_page_shows_expected_date_and_status_changes(client, town):
    _, report = submit(client)
    Report.objects.filter(pk=report.pk).update(
        status=ReportStatus.IN_PROGRESS, expected_at=dt.datetime(2025, 3, 25, 8, 0, tzinfo=dt.UTC)
    )
    ReportEvent.objects.create(
        report=report, kind=ReportEvent.Kind.STATUS, to_status=ReportStatus.IN_PROGRESS, note="اکیپ اعزام شد"
    )
    ReportEvent.objects.create(report=report, kind=ReportEvent.Kind.NOTE, note="internal only", public=False)
    page = html(client.get(f"/track/{report.tracking_code}/"))
    assert "۵ فروردین ۱۴۰۴" in page  # expected by
    assert "اکیپ اعزام شد" in page and "internal only" not in page
    assert 'aria-current="step"' in page


def test_tracking_page_never_shows_who_reported(client, town):
    _, report = submit(client)
    token = re.search(r"\?t=([\w-]+)", html(client.get(f"/report/thanks/{report.tracking_code}/"))).group(1)
    for url in (f"/track/{report.tracking_code}/", f"/track/{report.tracking_code}/?t={token}"):
        page = html(client.get(url, follow=True))
        assert "Maryam" not in page and "09121234567" not in page and "maryam@example.org" not in page


def test_tracking_code_is_case_insensitive_and_typed_codes_are_found(client, town):
    _, report = submit(client)
    code = report.tracking_code
    response = client.get(f"/track/{code.lower()}/")
    assert response.status_code == 301 and response["Location"] == f"/track/{code}/"
    response = client.get("/track/", {"code": f" {code[:4].lower()}-{code[4:]} "})
    assert response.status_code == 302 and response["Location"] == f"/track/{code}/"
    assert client.get("/track/", {"code": "ACDE-FGHK"}).status_code == 404
    assert client.get("/track/XXXXXXXX/").status_code == 404
    assert client.get("/track/").status_code == 200


def _private_token(client: Client, report: Report) -> str:
    page = html(client.get(f"/report/thanks/{report.tracking_code}/"))
    found = re.search(r"\?t=([\w-]+)", page)
    assert found, "the thank-you page shows the private link"
    return found.group(1)


def test_private_link_adds_information(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    response = client.get(f"/track/{report.tracking_code}/?t={token}", follow=True)
    # The token is a password in the URL: not cached, not sent to other sites, not indexed.
    assert response["Referrer-Policy"] == "same-origin" and "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"
    page = html(response)
    assert 'class="info-form"' in page and "feedback-form" not in page  # not done yet: no "fixed?"
    response = client.post(f"/track/{report.tracking_code}/info/", {"t": token, "text": "عمق چاله زیاد است"})
    assert response.status_code == 302
    event = ReportEvent.objects.get(report=report, kind=ReportEvent.Kind.CITIZEN_INFO)
    assert event.public and event.note == "عمق چاله زیاد است"
    page = html(client.get(response["Location"]))
    assert "عمق چاله زیاد است" in page
    # An empty note is an error on the form, not an event.
    response = client.post(f"/track/{report.tracking_code}/info/", {"t": token, "text": "  "})
    assert (
        response.status_code == 400
        and ReportEvent.objects.filter(kind=ReportEvent.Kind.CITIZEN_INFO).count() == 1
    )


def test_private_link_says_not_fixed_once_the_unit_is_done(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.DONE)
    page = html(client.get(f"/track/{report.tracking_code}/?t={token}", follow=True))
    assert 'class="feedback-form"' in page
    response = client.post(
        f"/track/{report.tracking_code}/feedback/", {"t": token, "fixed": "no", "note": "هنوز چاله هست"}
    )
    assert response.status_code == 302
    event = ReportEvent.objects.get(
        report=report, kind=ReportEvent.Kind.CITIZEN_FEEDBACK, data__feedback="not_fixed"
    )
    assert event.public and event.note == "هنوز چاله هست"
    assert "گزارش‌دهنده می‌گوید مشکل برطرف نشده است" in html(client.get(f"/track/{report.tracking_code}/"))


def test_wrong_token_cannot_add_anything(client, town):
    _, report = submit(client)
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.DONE)
    before = ReportEvent.objects.count()
    assert client.post(f"/track/{report.tracking_code}/info/", {"t": "wrong", "text": "x"}).status_code == 403
    assert client.post(f"/track/{report.tracking_code}/info/", {"text": "x"}).status_code == 403
    assert (
        client.post(f"/track/{report.tracking_code}/feedback/", {"t": "wrong", "fixed": "yes"}).status_code
        == 403
    )
    assert ReportEvent.objects.count() == before
    page = html(client.get(f"/track/{report.tracking_code}/?t=wrong"))
    assert "info-form" not in page and "feedback-form" not in page


def test_feedback_before_the_work_is_done_is_refused(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    response = client.post(f"/track/{report.tracking_code}/feedback/", {"t": token, "fixed": "yes"})
    assert response.status_code == 400
    assert not ReportEvent.objects.filter(kind=ReportEvent.Kind.CITIZEN_FEEDBACK).exists()


def test_me_too_from_the_tracking_page_and_from_the_nearby_list(client, town):
    _, report = submit(client)
    other = Client(REMOTE_ADDR="198.51.100.40")  # another citizen: another address
    response = other.post(f"/track/{report.tracking_code}/support/")
    assert response.status_code == 302
    response = other.post(f"/track/{report.tracking_code}/support/", HTTP_ACCEPT="application/json")
    assert response.json() == {"code": report.tracking_code, "support_count": 1, "added": False}
    page = html(client.get(f"/track/{report.tracking_code}/"))
    assert 'id="report-supporters">۱<' in page


# --- Template filters ---------------------------------------------------------------------------------


def test_date_and_digit_filters():
    moment = dt.datetime(2025, 3, 20, 21, 0, tzinfo=dt.UTC)  # 00:30 on 21 March in Tehran
    with translation.override("fa"):
        assert localdate(moment) == "۱ فروردین ۱۴۰۴"
        assert localdatetime(moment) == "۱ فروردین ۱۴۰۴، ساعت ۰۰:۳۰"
        assert localdigits(137) == "۱۳۷"
        assert localdate(dt.date(2024, 3, 19)) == "۲۹ اسفند ۱۴۰۲"
    with translation.override("en"):
        assert localdate(moment) == "21 March 2025"
        assert localdatetime(moment) == "21 March 2025, 00:30"
        assert localdigits(137) == "137"
    assert trackingcode("ACDEFGHJ") == "ACDE-FGHJ"
    assert localdate(None) == "" and timezone.is_aware(moment)


def test_pages_speak_persian_even_to_an_english_phone_until_the_citizen_switches(town):
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    page = html(client.get("/report/"))
    assert 'dir="rtl"' in page and 'lang="fa"' in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/report/"})
    page = html(client.get("/report/"))
    assert 'dir="ltr"' in page and 'lang="en"' in page
    # The APIs still follow Accept-Language, as API clients expect.
    body = client.get("/api/locate/?lat=x&lon=1", HTTP_ACCEPT_LANGUAGE="en").json()
    assert "number" in body["error"]


def test_a_phone_photo_with_gps_suggests_the_pin_when_none_was_placed(town, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.test_photos import LAT, LON, phone_jpeg

    settings.MEDIA_ROOT = str(tmp_path)
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    photo = SimpleUploadedFile("IMG_0001.jpg", phone_jpeg(), content_type="image/jpeg")
    data = report_data(lat="", lon="", photos=photo)
    response = client.post("/report/", data)
    assert response.status_code == 400 and Report.objects.count() == 0
    page = html(response)
    assert "where your photo was taken" in page
    assert f'value="{LAT:.6f}"' in page and f'value="{LON:.6f}"' in page
    # The citizen checks the pin and sends again (the browser cannot refill the photo).
    response = client.post(
        "/report/", report_data(lat=f"{LAT:.6f}", lon=f"{LON:.6f}", idempotency_key=data["idempotency_key"])
    )
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.location is not None and abs(report.location.y - LAT) < 1e-5

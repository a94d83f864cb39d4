"""The project's own report API under /api/: create (JSON, multipart, idempotent), list as GeoJSON with
filters and pages, detail with the public timeline, nearby + "me too", categories, rate limits, and
the OpenAPI schema and its docs page (served without any CDN). Real PostGIS, the conftest's `city`."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from urllib.parse import parse_qs, urlparse

import jdatetime
import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from geo.text import normalize_persian
from issues.models import CategoryAttribute, Channel, Report, ReportEvent, ReportStatus
from issues.services.submission import report_submit
from tests.conftest import metres_per_degree_lat, pt

NAME, PHONE, EMAIL = "Quorvell Tamsby", "09127770123", "quorvell.tamsby@example.org"
LIST_URL = "/api/reports/"


@pytest.fixture(autouse=True)
def _no_limits_and_tmp_media(settings, tmp_path):
    # Rate limits are tested on their own; elsewhere they would only make the tests order-dependent.
    settings.OPEN137_RATE_REPORTS = ""
    settings.OPEN137_RATE_SUPPORT = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def client() -> APIClient:
    # English messages, so the tests can read them whatever translations the project gains.
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _post(client: APIClient, data: dict, **extra):
    response = client.post(LIST_URL, data, format="json", **extra)
    return response, json.loads(response.content)


def _get(client: APIClient, url: str = LIST_URL, **params):
    response = client.get(url, params)
    return response, json.loads(response.content)


def _at(city, name: str = "s11", dy_m: float = 0.0) -> dict:
    lon, lat = getattr(city.points, name)
    return {"lat": lat + dy_m / metres_per_degree_lat(lat), "lon": lon}


def _submit(city, description: str = "چاله", *, category=None, point="s11", dy_m: float = 0.0, **kwargs):
    """A report through the service (faster than the API where the API is not what is tested)."""
    where = _at(city, point, dy_m)
    return report_submit(
        category=category or city.pothole,
        location=pt(where["lon"], where["lat"]),
        description=description,
        **kwargs,
    ).report


def _bad_request(response, body, field: str) -> str:
    assert response.status_code == 400, body
    assert field in body["error"], body
    assert "ErrorDetail" not in body["error"]
    return body["error"]


def _png(size=(8, 6), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


# --- Create -------------------------------------------------------------------------------------------


def test_create_json_routes_and_returns_token_once(city, client):
    response, body = _post(
        client,
        {
            "category": "pothole",
            **_at(city, "s11"),
            "description": "چاله بزرگ جلوی مدرسه",
            "address": "خیابان فردوسی",
            "name": NAME,
            "phone": PHONE,
            "email": EMAIL,
            "consent_contact": True,
        },
    )
    assert response.status_code == 201, body
    code = body["code"]
    assert re.fullmatch(r"[A-Z0-9]{8}", code)
    assert body["status"] == "forwarded" and body["open"] is True  # in its unit's inbox at once
    assert body["category"] == "pothole" and body["kind"] == "service_request"
    routing = body["routing"]
    assert routing["district"] == {
        "code": "S11",
        "name_fa": "ناحیه یک یک",
        "name_en": "Sub-district 1-1",
        "level": "sub_district",
    }
    assert routing["service_area"]["code"] == "roads-r1"
    assert routing["department"]["code"] == "roads"
    assert routing["unit"]["name_en"] == "Roads unit R1"
    assert routing["rule"] == "covers" and routing["distance_m"] == 0
    assert len(body["private_token"]) >= 20
    assert body["tracking_url"].endswith(f"/track/{code}/")
    assert response["Location"].endswith(f"/api/reports/{code}/")
    # Contact details are stored for 137 staff, and never echoed.
    text = response.content.decode()
    for secret in (NAME, PHONE, EMAIL):
        assert secret not in text
    report = Report.objects.get(tracking_code=code)
    assert (report.reporter_name, report.reporter_phone, report.reporter_email) == (NAME, PHONE, EMAIL)
    assert report.consent_contact is True and report.channel == Channel.API
    assert report.private_token_hash and body["private_token"] not in report.private_token_hash


def test_create_multipart_with_form_fields(city, client):
    where = _at(city, "r2")
    response = client.post(
        LIST_URL,
        {
            "category": "pothole",
            "lat": str(where["lat"]),
            "lon": str(where["lon"]),
            "description": "آسفالت خراب",
            "kind": "complaint",
            "consent_contact": "true",
            "attributes": "{}",
            "phone": "۰۹۱۲۷۷۷۰۱۲۳",
        },
        format="multipart",
    )
    body = json.loads(response.content)
    assert response.status_code == 201, body
    assert body["kind"] == "complaint"
    assert body["routing"]["district"]["code"] == "R2"
    report = Report.objects.get(tracking_code=body["code"])
    # Persian digits of a phone number are stored as ASCII digits.
    assert report.reporter_phone == PHONE and report.consent_contact is True


def test_create_multipart_with_photos(city, client):
    where = _at(city, "s11")
    uploads = [
        SimpleUploadedFile(f"p{i}.png", _png(colour=(i * 60, 20, 20)), content_type="image/png")
        for i in range(2)
    ]
    response = client.post(
        LIST_URL,
        {"category": "pothole", "lat": where["lat"], "lon": where["lon"], "photos": uploads},
        format="multipart",
    )
    body = json.loads(response.content)
    assert response.status_code == 201, body
    _, detail = _get(client, f"{LIST_URL}{body['code']}/")
    assert len(detail["photos"]) == 2
    assert all(p["url"].startswith("/media/") and p["width"] > 0 for p in detail["photos"])
    _, page = _get(client)
    assert len(page["features"][0]["properties"]["photo_urls"]) == 2
    # More than three photos are refused, and nothing is written.
    four = [SimpleUploadedFile(f"q{i}.png", _png(), content_type="image/png") for i in range(4)]
    response = client.post(
        LIST_URL,
        {"category": "pothole", "lat": where["lat"], "lon": where["lon"], "photos": four},
        format="multipart",
    )
    _bad_request(response, json.loads(response.content), "photos")
    # So is a file that is not an image (the photo service says why).
    fake = SimpleUploadedFile("p.png", b"not an image at all", content_type="image/png")
    response = client.post(
        LIST_URL,
        {"category": "pothole", "lat": where["lat"], "lon": where["lon"], "photos": [fake]},
        format="multipart",
    )
    _bad_request(response, json.loads(response.content), "photos")
    assert Report.objects.count() == 1


def test_idempotent_retry(city, client):
    data = {"category": "pothole", **_at(city), "description": "یک بار"}
    first, body1 = _post(client, data, HTTP_IDEMPOTENCY_KEY="5b0c6a1e-retry-1")
    again, body2 = _post(client, data, HTTP_IDEMPOTENCY_KEY="5b0c6a1e-retry-1")
    assert first.status_code == 201 and again.status_code == 200, (body1, body2)
    assert body1["code"] == body2["code"]
    assert again["Idempotent-Replayed"] == "true"
    # The private token is in the answer that created the report, and in the answer to a replay of
    # that very request (the first answer may have been lost): the same token.
    assert body1["private_token"] and body2["private_token"] == body1["private_token"]
    assert body2["routing"] == body1["routing"]
    assert Report.objects.count() == 1
    # The same key with another report is a client bug: refused, nothing written.
    other, body3 = _post(
        client, {**data, "description": "چیز دیگری"}, HTTP_IDEMPOTENCY_KEY="5b0c6a1e-retry-1"
    )
    assert other.status_code == 422, body3
    assert "Idempotency-Key" in body3["error"]
    assert Report.objects.count() == 1
    # A key that cannot be one.
    response, body = _post(client, data, HTTP_IDEMPOTENCY_KEY="x" * 200)
    _bad_request(response, body, "Idempotency-Key")


def test_location_rules(city, client):
    # A pothole needs a point ...
    response, body = _post(client, {"category": "pothole", "description": "بدون مکان"})
    _bad_request(response, body, "location")
    # ... a suggestion does not: it goes to the department's central unit by category.
    response, body = _post(client, {"category": "suggestion", "description": "پیشنهاد"})
    assert response.status_code == 201, body
    assert body["kind"] == "suggestion"
    assert body["routing"]["rule"] == "category"
    assert body["routing"]["district"] is None
    assert body["routing"]["service_area"]["code"] == "roads-central"
    # Half a point is not a point.
    response, body = _post(client, {"category": "pothole", "lat": 36.27})
    _bad_request(response, body, "lon")


def test_swapped_lat_lon_is_refused_with_a_hint(city, client):
    lon, lat = city.points.s11
    response, body = _post(client, {"category": "pothole", "lat": lon, "lon": lat})
    message = _bad_request(response, body, "lat")
    assert "swapped" in message
    assert Report.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"category": "no-such"}, "category"),
        ({"description": "a\x00b"}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"kind": "gossip"}, "kind"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"attributes": [1, 2]}, "attributes"),
        ({"attributes": {"nope": 1}}, "attributes"),
        ({"lat": "abc"}, "lat"),
        ({"lat": True}, "lat"),
        # Several things wrong: the category is named first, as without a point.
        ({"category": "no-such", "lat": "abc"}, "category"),
        ({"category": "no-such", "lon": None}, "category"),
    ],
)
def test_bad_input_is_a_clear_400(city, client, data, field):
    response, body = _post(client, {"category": "pothole", **_at(city), **data})
    _bad_request(response, body, field)
    assert Report.objects.count() == 0


def test_text_with_angle_brackets_or_markup_is_kept_as_typed(city, client):
    description = "عمق < ۱۰ سانتی‌متر <3 <b>x</b> <img src=x onerror=alert(1)"
    response, body = _post(client, {"category": "pothole", **_at(city), "description": description})
    assert response.status_code == 201, body
    assert Report.objects.get().description == description


def test_category_attributes_are_checked(city, client):
    CategoryAttribute.objects.create(
        category=city.pothole,
        code="depth",
        datatype=CategoryAttribute.Datatype.SINGLEVALUELIST,
        required=True,
        description_fa="عمق",
        description_en="How deep?",
        values=[
            {"key": "shallow", "name_fa": "کم", "name_en": "shallow"},
            {"key": "deep", "name_fa": "زیاد"},
        ],
    )
    response, body = _post(client, {"category": "pothole", **_at(city)})
    assert "depth is required" in _bad_request(response, body, "attributes")
    response, body = _post(
        client, {"category": "pothole", **_at(city), "attributes": {"depth": "bottomless"}}
    )
    _bad_request(response, body, "attributes")
    response, body = _post(client, {"category": "pothole", **_at(city), "attributes": {"depth": "deep"}})
    assert response.status_code == 201, body
    assert Report.objects.get(tracking_code=body["code"]).attributes == {"depth": "deep"}


# --- Rate limits ----------------------------------------------------------------------------------------


def test_rate_limit_on_writes_per_ip(city, client, settings):
    settings.OPEN137_RATE_REPORTS = "2/hour"
    settings.OPEN137_RATE_SUPPORT = "1/minute"
    data = {"category": "suggestion", "description": "پیشنهاد"}
    for _ in range(2):
        assert _post(client, data)[0].status_code == 201
    response, body = _post(client, data)
    assert response.status_code == 429, body
    assert 0 < int(response["Retry-After"]) <= 3600
    assert body["retry_after"] == int(response["Retry-After"])
    assert "Too many reports" in body["error"] and "Try again in" in body["error"]
    # A forged X-Forwarded-For does not make a new client (no trusted proxy is configured) ...
    assert _post(client, data, HTTP_X_FORWARDED_FOR="203.0.113.9")[0].status_code == 429
    # ... another address is another client, and reading is never limited.
    assert _post(client, data, REMOTE_ADDR="198.51.100.7")[0].status_code == 201
    assert client.get(LIST_URL).status_code == 200
    # "Me too" has its own limit.
    report = _submit(city)
    url = f"{LIST_URL}{report.tracking_code}/support/"
    assert client.post(url).status_code == 200
    refused = client.post(url)
    assert refused.status_code == 429 and int(refused["Retry-After"]) <= 60
    assert Report.objects.count() == 4


# --- List ---------------------------------------------------------------------------------------------


def test_list_is_geojson_with_public_fields(city, client):
    report = _submit(city, "چراغ خاموش", reporter_name=NAME, reporter_phone=PHONE, reporter_email=EMAIL)
    _submit(city, "بدون مکان", category=city.suggestion, point="r1")
    Report.objects.filter(category=city.suggestion).update(location=None)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection" and body["count"] == 2
    assert body["next"] is None and body["previous"] is None
    feature = next(f for f in body["features"] if f["id"] == report.tracking_code)
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [50.0075, 36.2675]}
    props = feature["properties"]
    assert props["code"] == report.tracking_code
    assert props["category"] == "pothole" and props["category_name_en"] == "Pothole"
    assert props["status"] == "forwarded" and props["open"] is True
    assert props["district"] == "S11" and props["service_area"] == "roads-r1"
    assert props["unit_name_en"] == "Roads unit R1"
    assert props["support_count"] == 0 and props["photo_urls"] == []
    assert datetime.fromisoformat(props["created_at"]).utcoffset() is not None
    assert set(props) == {
        "code", "category", "category_name_fa", "category_name_en", "kind", "status", "open",
        "description", "district", "service_area", "unit_name_fa", "unit_name_en", "support_count",
        "created_at", "updated_at", "generated", "photo_urls",
    }  # fmt: skip
    # A report without a location has no geometry, and is still listed.
    assert any(f["geometry"] is None for f in body["features"])
    for secret in (NAME, PHONE, EMAIL):
        assert secret not in response.content.decode()


def test_list_filters(city, client):
    s11 = _submit(city, "در ناحیه")
    r2 = _submit(city, "در منطقه دو", point="r2", kind="complaint")
    closed = _submit(city, "بسته", point="r1")
    Report.objects.filter(pk=closed.pk).update(status=ReportStatus.CLOSED)
    suggestion = _submit(city, "پیشنهاد", category=city.suggestion, point="r1")

    def codes(**params) -> set[str]:
        response, body = _get(client, **params)
        assert response.status_code == 200, body
        assert body["count"] == len(body["features"])
        return {f["id"] for f in body["features"]}

    assert codes(bbox="50.0,36.26,50.0199,36.28") == {
        s11.tracking_code,
        closed.tracking_code,
        suggestion.tracking_code,
    }
    assert codes(bbox="50.025,36.265,50.035,36.275") == {r2.tracking_code}
    # A point on the box's edge is inside it.
    assert codes(bbox="50.03,36.27,50.04,36.28") == {r2.tracking_code}
    assert codes(status="closed") == {closed.tracking_code}
    assert codes(status="open") == {s11.tracking_code, r2.tracking_code, suggestion.tracking_code}
    assert codes(status="forwarded,closed") == {
        s11.tracking_code,
        r2.tracking_code,
        closed.tracking_code,
        suggestion.tracking_code,
    }
    assert codes(category="suggestion") == {suggestion.tracking_code}
    assert codes(category="pothole,suggestion", status="closed") == {closed.tracking_code}
    # A region takes in its sub-districts' reports.
    assert codes(district="S11") == {s11.tracking_code}
    assert codes(district="R1") == {s11.tracking_code, closed.tracking_code, suggestion.tracking_code}
    assert codes(kind="complaint") == {r2.tracking_code}
    assert codes(kind="complaint,suggestion") == {r2.tracking_code, suggestion.tracking_code}
    # Empty parameters mean "not given".
    assert len(codes(bbox="", status="", q="")) == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "50.0,36.2,50.1"}, "bbox"),
        ({"bbox": "50.1,36.2,50.0,36.3"}, "bbox"),
        ({"bbox": "50.0,36.3,50.1,36.2"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "50,36,200,37"}, "bbox"),
        ({"status": "opened"}, "status"),
        ({"category": "no-such"}, "category"),
        ({"district": "R9"}, "district"),
        ({"kind": "gossip"}, "kind"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-02-30"}, "since"),
        ({"until": "1405-13-01"}, "until"),
        ({"since": "2026-11-29", "until": "2026-11-28"}, "since"),
        ({"q": "x" * 300}, "q"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"page_size": "1001"}, "page_size"),
        ({"category": "a\x00b"}, "category"),
    ],
)
def test_bad_filters_are_a_clear_400(city, client, params, field):
    response, body = _get(client, **params)
    _bad_request(response, body, field)


def test_jalali_and_iso_date_filters(city, client):
    # 7 Azar 1405 is 28 November 2026.
    assert jdatetime.date(1405, 9, 7).togregorian().isoformat() == "2026-11-28"
    tehran = timezone.get_default_timezone()
    made = {}
    for label, moment in {
        "before": datetime(2026, 11, 27, 23, 59, tzinfo=tehran),
        "day_start": datetime(2026, 11, 28, 0, 0, tzinfo=tehran),
        "day_end": datetime(2026, 11, 28, 23, 59, 59, tzinfo=tehran),
        "after": datetime(2026, 11, 29, 0, 0, 30, tzinfo=tehran),
    }.items():
        report = _submit(city, label)
        Report.objects.filter(pk=report.pk).update(created_at=moment)
        made[label] = report.tracking_code

    def labels(**params) -> set[str]:
        response, body = _get(client, **params)
        assert response.status_code == 200, body
        return {label for label, code in made.items() if code in {f["id"] for f in body["features"]}}

    assert labels(since="1405-09-07") == {"day_start", "day_end", "after"}
    assert labels(since="۱۴۰۵/۰۹/۰۷") == {"day_start", "day_end", "after"}
    assert labels(until="1405-09-07") == {"before", "day_start", "day_end"}
    assert labels(since="۱۴۰۵-۰۹-۰۷", until="۱۴۰۵-۰۹-۰۷") == {"day_start", "day_end"}
    assert labels(since="2026-11-28", until="2026-11-28") == {"day_start", "day_end"}
    assert labels(since="2026-11-28T12:00:00+03:30") == {"day_end", "after"}
    assert labels(until="2026-11-28T00:00:00+03:30") == {"before", "day_start"}
    assert labels(since="2026-11-28T20:30:00Z") == {"after"}


def _index_descriptions() -> None:
    # What report creation promises to store (Report.description_search); done here so the search
    # is tested on its own, whatever writes the column.
    for report in Report.objects.all():
        Report.objects.filter(pk=report.pk).update(description_search=normalize_persian(report.description))


def test_text_search_matches_persian_spelling_variants(city, client):
    # Typed on an Arabic keyboard (ي, ك) and on a Persian one (ی, ک), with a half-space.
    arabic = _submit(city, "تير چراغ برق كج شده")
    persian = _submit(city, "درخت خشک در پیاده‌رو ۱۲")
    _submit(city, "چاله")
    _index_descriptions()

    def found(q: str) -> set[str]:
        response, body = _get(client, q=q)
        assert response.status_code == 200, body
        return {f["id"] for f in body["features"]}

    assert found("تیر کج") == {arabic.tracking_code}
    assert found("تير كج") == {arabic.tracking_code}
    assert found("خشك") == {persian.tracking_code}
    assert found("پياده رو 12") == {persian.tracking_code}
    assert found("تیر خشک") == set()
    # LIKE wildcards in the query are plain characters.
    assert found("%") == set() and found("_") == set()


def test_created_reports_are_searchable(city, client):
    response, body = _post(client, {"category": "pothole", **_at(city), "description": "تير كج"})
    assert response.status_code == 201, body
    assert {f["id"] for f in _get(client, q="تیر")[1]["features"]} == {body["code"]}


def test_pagination(city, client):
    codes = [_submit(city, f"گزارش {i}").tracking_code for i in range(5)]
    response, body = _get(client, page_size=2)
    assert body["count"] == 5 and len(body["features"]) == 2
    # Newest first.
    assert [f["id"] for f in body["features"]] == codes[::-1][:2]
    assert body["previous"] is None
    seen = [f["id"] for f in body["features"]]
    url = body["next"]
    while url:
        query = parse_qs(urlparse(url).query)
        assert query["page_size"] == ["2"]
        response, body = _get(client, urlparse(url).path, **{k: v[0] for k, v in query.items()})
        assert body["previous"] is not None
        seen += [f["id"] for f in body["features"]]
        url = body["next"]
    assert seen == codes[::-1]
    response, body = _get(client, page_size=2, page=9)
    assert response.status_code == 200 and body["features"] == [] and body["count"] == 5
    response, body = _get(client, page_size=1000)
    assert len(body["features"]) == 5 and body["next"] is None


# --- Detail ---------------------------------------------------------------------------------------------


def test_detail_with_public_timeline(city, client):
    report = _submit(city, "چاله", reporter_name=NAME, reporter_phone=PHONE, reporter_email=EMAIL)
    ReportEvent.objects.create(
        report=report, kind=ReportEvent.Kind.NOTE, note="یادداشت داخلی محرمانه", public=False
    )
    ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.STATUS,
        from_status="forwarded",
        to_status="acknowledged",
        note="به واحد ارسال شد",
    )
    code = report.tracking_code
    response, body = _get(client, f"{LIST_URL}{code}/")
    assert response.status_code == 200, body
    assert body["id"] == body["code"] == code
    assert body["lat"] == 36.2675 and body["lon"] == 50.0075
    assert body["routing"]["district"]["code"] == "S11"
    assert body["routing"]["service_area"]["code"] == "roads-r1"
    assert [(e["kind"], e["status"]) for e in body["timeline"]] == [
        ("created", "forwarded"),
        ("status", "acknowledged"),
    ]
    assert body["timeline"][1]["note"] == "به واحد ارسال شد"
    assert body["photos"] == []
    text = response.content.decode()
    for secret in (NAME, PHONE, EMAIL, "محرمانه"):
        assert secret not in text
    # Codes are read over the phone: any case, with a dash or spaces, Persian digits.
    spoken = f"{code[:4].lower()}-{code[4:]}".replace("4", "۴")
    assert _get(client, f"{LIST_URL}{spoken}/")[1]["code"] == code
    response, body = _get(client, f"{LIST_URL}NOSUCH99/")
    assert response.status_code == 404 and "NOSUCH99" in body["error"]


# --- Nearby and "me too" ------------------------------------------------------------------------------


def test_nearby_and_me_too(city, client):
    near = _submit(city, "چاله نزدیک", dy_m=20)
    _submit(city, "چاله دور", dy_m=200)
    closed = _submit(city, "چاله بسته", dy_m=10)
    Report.objects.filter(pk=closed.pk).update(status=ReportStatus.CLOSED)
    _submit(city, "پیشنهاد نزدیک", category=city.suggestion, dy_m=5)
    response, body = _get(client, f"{LIST_URL}nearby/", **_at(city), category="pothole")
    assert response.status_code == 200, body
    assert body["category"] == "pothole" and body["radius_m"] == 50
    assert [r["code"] for r in body["results"]] == [near.tracking_code]
    hit = body["results"][0]
    assert abs(hit["distance_m"] - 20) < 0.5
    assert hit["description"] == "چاله نزدیک" and hit["status"] == "forwarded" and hit["support_count"] == 0
    # Nearest first.
    nearer = _submit(city, "چاله نزدیک‌تر", dy_m=-8)
    body = _get(client, f"{LIST_URL}nearby/", **_at(city), category="pothole")[1]
    assert [r["code"] for r in body["results"]] == [nearer.tracking_code, near.tracking_code]
    # Bad input.
    response, error = _get(client, f"{LIST_URL}nearby/", **_at(city))
    _bad_request(response, error, "category")
    response, error = _get(client, f"{LIST_URL}nearby/", lat=50.0075, lon=36.2675, category="pothole")
    assert "swapped" in _bad_request(response, error, "lat")

    # "Me too": once per client address, whatever browser it claims to be; another address counts again.
    url = f"{LIST_URL}{near.tracking_code.lower()}/support/"
    first = client.post(url, HTTP_USER_AGENT="phone A")
    assert first.status_code == 200 and json.loads(first.content) == {
        "code": near.tracking_code,
        "support_count": 1,
        "added": True,
    }
    again = json.loads(client.post(url, HTTP_USER_AGENT="phone B").content)
    assert again["support_count"] == 1 and again["added"] is False
    other = json.loads(client.post(url, REMOTE_ADDR="198.51.100.23").content)
    assert other["support_count"] == 2 and other["added"] is True
    near.refresh_from_db()
    assert near.support_count == 2
    body = _get(client, f"{LIST_URL}nearby/", **_at(city), category="pothole")[1]
    assert body["results"][1]["support_count"] == 2
    # A closed report cannot be supported; an unknown one is not found.
    response = client.post(f"{LIST_URL}{closed.tracking_code}/support/")
    assert response.status_code == 400 and "closed" in json.loads(response.content)["error"]
    assert client.post(f"{LIST_URL}NOSUCH99/support/").status_code == 404


# --- Categories -----------------------------------------------------------------------------------------


def test_categories(city, client):
    CategoryAttribute.objects.create(
        category=city.pothole,
        code="depth",
        datatype=CategoryAttribute.Datatype.SINGLEVALUELIST,
        description_fa="عمق",
        description_en="How deep?",
        values=[{"key": "deep", "name_fa": "زیاد", "name_en": "deep"}],
    )
    city.suggestion.active = False
    city.suggestion.save()
    response, body = _get(client, "/api/categories/")
    assert response.status_code == 200
    assert [c["code"] for c in body] == ["pothole"]
    pothole = body[0]
    assert pothole["name_en"] == "Pothole" and pothole["location_required"] is True
    assert pothole["department"] == {
        "code": "roads",
        "name_fa": "معاونت حمل و نقل و ترافیک",
        "name_en": "Roads",
    }
    assert pothole["duplicate_radius_m"] == 50 and pothole["kind"] == "service_request"
    assert pothole["attributes"] == [
        {
            "code": "depth",
            "datatype": "singlevaluelist",
            "required": False,
            "description_fa": "عمق",
            "description_en": "How deep?",
            "values": [{"key": "deep", "name_fa": "زیاد", "name_en": "deep"}],
            "order": 1,
        }
    ]


# --- Schema and docs ----------------------------------------------------------------------------------


def test_schema_is_valid_openapi(db, client):
    from drf_spectacular.validation import validate_schema

    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/reports/",
        "/api/reports/{code}/",
        "/api/reports/{code}/support/",
        "/api/reports/nearby/",
        "/api/categories/",
        "/api/locate/",
    ):
        assert path in schema["paths"], path
    assert {"get", "post"} <= set(schema["paths"]["/api/reports/"])
    create = schema["paths"]["/api/reports/"]["post"]
    assert {"application/json", "multipart/form-data"} <= set(create["requestBody"]["content"])
    assert {"201", "200", "400", "422", "429"} <= set(create["responses"])


def test_docs_page_has_no_external_assets(db, client):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for asset in assets:
        assert not re.match(r"^(https?:)?//", asset), asset
        if asset.startswith("/static/"):
            # Served by the app from an installed package.
            assert finders.find(asset.removeprefix("/static/")), asset
    assert not re.search(r"""<(?:script|link)[^>]+(?:src|href)\s*=\s*["'](?:https?:)?//""", html)

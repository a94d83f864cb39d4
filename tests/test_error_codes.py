"""Every error answer carries a stable, machine-readable code beside its translated sentence (issue 8,
fix 10), and the database away is a 503 with Retry-After for pages too, not only for the API.

- The project's API (/api/): `{"error": sentence, "code": code, ...}` for every 4xx and 503, the
  same code in Persian and English; the shape is the `Error` component of the OpenAPI schema.
- Open311: each `error` keeps the spec's `code` (the HTTP status) and `description`, and adds
  `error_code` (issues/open311/README.md, "Errors").
- Pages: a plain Persian and English page, 503, Retry-After, drawn without the database.
"""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import pytest
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from issues.models import Report
from issues.open311.services import api_key_create
from issues.services.submission import report_submit
from open137.middleware import ErrorAnswersMiddleware
from tests.conftest import pt
from tests.test_db_outage import database_down
from tests.test_pages import report_data

pytestmark = pytest.mark.django_db

STABLE = re.compile(r"[a-z][a-z0-9_]*")
LAT, LON = 36.2675, 50.0075  # inside S11 (and R1)


@pytest.fixture(autouse=True)
def _no_limits(settings, tmp_path):
    settings.OPEN137_RATE_REPORTS = ""
    settings.OPEN137_RATE_SUPPORT = ""
    settings.OPEN137_RATE_UPDATES = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body["error"], str) and body["error"].strip(), body
    assert body["code"] == code, body
    return body


def _post_json(client, url: str, body: object, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def test_each_kind_of_api_error_names_its_code(city, settings):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    submission = report_submit(category=city.pothole, location=pt(LON, LAT), description="چاله")
    code = submission.report.tracking_code
    token = submission.private_token

    body = _error(
        _post_json(client, "/api/reports/", {"category": "no-such", "lat": LAT, "lon": LON}), 400, "invalid"
    )
    assert body["errors"][0]["field"] == "category" and STABLE.fullmatch(body["errors"][0]["code"])
    _error(client.post("/api/reports/", "{not json", content_type="application/json"), 400, "parse_error")
    _error(client.get("/api/staff/reports/"), 401, "not_authenticated")
    _error(
        _post_json(client, f"/api/reports/{code}/stop-messages/", {"token": "wrong"}),
        403,
        "permission_denied",
    )
    _error(client.get("/api/reports/XXXXXXXX/"), 404, "not_found")
    _error(client.get("/api/no-such-endpoint/"), 404, "not_found")  # Django's own 404, as JSON
    _error(client.delete("/api/reports/"), 405, "method_not_allowed")
    _error(
        _post_json(client, f"/api/reports/{code}/feedback/", {"token": token, "fixed": True}), 409, "not_done"
    )
    _error(
        client.post("/api/reports/", "category=pothole", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )
    settings.OPEN137_RATE_SUPPORT = "1/hour"
    assert client.post(f"/api/reports/{code}/support/").status_code == 200
    throttled = _error(client.post(f"/api/reports/{code}/support/"), 429, "throttled")
    assert throttled["retry_after"] > 0
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    _error(_post_json(client, "/api/reports/", {"description": "x" * 5000}), 413, "too_large")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
    with database_down(OperationalError):
        down = _error(client.get("/api/reports/"), 503, "database_unavailable")
    assert down and Report.objects.count() == 1


def test_the_code_is_the_same_in_persian_and_english(city):
    answers = {
        lang: APIClient(HTTP_ACCEPT_LANGUAGE=lang).post(
            "/api/reports/",
            json.dumps({"category": "no-such", "lat": LAT, "lon": LON}),
            content_type="application/json",
        )
        for lang in ("fa", "en")
    }
    fa, en = (json.loads(answers[lang].content) for lang in ("fa", "en"))
    assert fa["code"] == en["code"] == "invalid" and fa["error"] != en["error"]
    assert re.search("[\u0600-\u06ff]", fa["error"]) and not re.search(
        "[\u0600-\u06ff]", en["error"].split(":")[0]
    )


def test_the_schema_documents_the_error_body(db):
    schema = json.loads(APIClient().get("/api/schema/", {"format": "json"}).content)
    error = schema["components"]["schemas"]["Error"]
    assert {"error", "code"} <= set(error["required"]) and {"detail", "errors"} <= set(error["properties"])
    assert "database_unavailable" in error["properties"]["code"]["description"]
    create = schema["paths"]["/api/reports/"]["post"]["responses"]["400"]
    assert create["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"
    throttled = schema["components"]["schemas"]["Throttled"]
    assert "code" in throttled["properties"]


# --- Open311 ----------------------------------------------------------------------------------------


def _open311_xml_errors(response, status: int) -> list[dict[str, str]]:
    assert response.status_code == status, response.content[:300]
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    errors = [{child.tag: child.text or "" for child in error} for error in root]
    for error in errors:
        # The spec's two fields first, as clients read them; ours after.
        assert list(error) == ["code", "description", "error_code"] and error["code"] == str(status)
    return errors


def test_open311_errors_carry_a_stable_error_code(city):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    [missing_key] = _open311_xml_errors(
        client.post("/open311/v2/requests.xml", {"service_code": "pothole", "lat": LAT, "long": LON}), 403
    )
    assert missing_key["error_code"] == "api_key_invalid"
    [unknown] = json.loads(client.get("/open311/v2/services/no-such.json").content)
    assert unknown["code"] == 404 and unknown["error_code"] == "not_found" and unknown["description"]
    _key, key = api_key_create(name="Test app")
    bad = client.post("/open311/v2/requests.json", {"api_key": key, "service_code": "pothole"})
    assert bad.status_code == 400
    assert {e["error_code"] for e in json.loads(bad.content)} == {"invalid"}


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_open311_answers_503_in_its_own_format_while_the_database_is_away(city, error):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    with database_down(error):
        xml = client.get("/open311/v2/services.xml")
        as_json = client.get("/open311/v2/requests.json")
    [down] = _open311_xml_errors(xml, 503)
    assert down["error_code"] == "database_unavailable" and "database" in down["description"]
    assert xml["Retry-After"] == "2"
    assert as_json.status_code == 503 and as_json["Retry-After"] == "2"
    assert json.loads(as_json.content)[0]["error_code"] == "database_unavailable"


# --- Pages ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_pages_answer_503_with_retry_after_while_the_database_is_away(city, error, settings):
    client = Client()
    for url in ("/", "/report/", "/track/ABCD1234/"):
        with database_down(error):
            response = client.get(url)
        assert response.status_code == 503, (url, response.status_code)
        assert response["Retry-After"] == "2" and "no-store" in response["Cache-Control"]
        assert response["Content-Type"].startswith("text/html")
        assert "Content-Security-Policy" in response  # still a page of ours, with its policy
        page = response.content.decode()
        # Persian first, with English below it; no script, nothing from another site.
        assert '<html lang="fa" dir="rtl">' in page
        assert "سامانه لحظه‌ای به پایگاه داده‌اش دسترسی ندارد" in page
        assert "The service cannot reach its database for a moment" in page
        assert "<script" not in page and "http" not in page.split("<body>", 1)[1]
    # A citizen who chose English reads English first.
    english = Client()
    english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with database_down(error):
        response = english.get("/")
    assert response.status_code == 503 and '<html lang="en" dir="ltr">' in response.content.decode()


def test_a_post_from_a_page_writes_nothing_and_gets_503(city):
    client = Client()
    form = report_data(lat=str(LAT), lon=str(LON))
    with database_down(OperationalError, when="INSERT"):
        response = client.post("/report/", form)
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert Report.objects.count() == 0
    # The same form sent again files the report once.
    assert client.post("/report/", form).status_code == 302 and Report.objects.count() == 1


def test_a_database_failure_outside_the_view_is_a_503_too(db, settings):
    """The session saved after the view, say: Django turns the exception into a 500 inside the
    middleware chain; the outer middleware makes it the 503 it is."""
    from django.core.handlers.exception import convert_exception_to_response

    settings.DEBUG = False

    def failing(request):  # type: ignore[no-untyped-def]
        raise OperationalError("server closed the connection unexpectedly")

    def ok(request):  # type: ignore[no-untyped-def]
        return HttpResponse("fine", status=500)

    request = RequestFactory().get("/track/")
    response = ErrorAnswersMiddleware(convert_exception_to_response(failing))(request)
    assert response.status_code == 503 and response["Retry-After"] == "2"
    # Any other 500 stays a 500.
    assert ErrorAnswersMiddleware(ok)(RequestFactory().get("/track/")).status_code == 500

"""Open311 GeoReport v2 at /open311/v2/: every endpoint in XML and JSON, every error in the spec's
shape, the POST bodies clients send (form-encoded, multipart with a photo), the filters of
`requests`, and that no reporter contact field ever leaves the server.

JSON answers are checked against JSON Schemas written from the spec (tests/data/open311_*.json);
XML answers are parsed with ElementTree and checked for the spec's element names.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, timedelta
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import jsonschema
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from issues.models import ApiKey, Category, CategoryAttribute, Channel, Report, ReportEvent, ReportStatus
from issues.open311.services import api_key_create
from issues.services.submission import report_submit
from tests.conftest import pt

DATA = Path(__file__).parent / "data"
BASE = "/open311/v2/"
FORMATS = ["xml", "json"]
ISO_WITH_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
# What a reporter gave about themselves: none of it may appear in any public answer.
SECRET_NAME, SECRET_LAST, SECRET_EMAIL, SECRET_PHONE = (
    "Shirin",
    "Secretname",
    "shirin.secret@example.com",
    "09121234567",
)


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((DATA / f"open311_{name}.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def check_json(response, name: str) -> Any:
    assert response["Content-Type"].startswith("application/json")
    data = json.loads(response.content.decode("utf-8"))
    validator(name).validate(data)
    return data


def parse_xml(response) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def child(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path)
    assert found is not None, f"no <{path}> in <{element.tag}>"
    return found


def xml_items(root: ET.Element, root_name: str, item_name: str) -> list[dict[str, Any]]:
    """A flat list document (`<services><service>...`) as dicts of the children's text."""
    assert root.tag == root_name
    assert all(child.tag == item_name for child in root)
    return [{child.tag: (child.text or "") for child in item} for item in root]


def check_errors(response, fmt: str, status: int) -> list[str]:
    """The spec's error document, in the requested format, with the HTTP status as the code, and
    our stable `error_code` after the description (issues/open311/README.md, "Errors")."""
    assert response.status_code == status, response.content
    stable = re.compile(r"[a-z][a-z0-9_]*")
    if fmt == "json":
        errors = check_json(response, "errors")
        assert {e["code"] for e in errors} == {status}
        assert all(stable.fullmatch(e["error_code"]) for e in errors)
        return [e["description"] for e in errors]
    root = parse_xml(response)
    assert root.tag == "errors"
    assert len(root) >= 1
    descriptions = []
    for error in root:
        assert error.tag == "error"
        assert [child.tag for child in error] == ["code", "description", "error_code"]
        assert error.findtext("code") == str(status)
        assert stable.fullmatch(error.findtext("error_code") or "")
        descriptions.append(error.findtext("description") or "")
    assert all(descriptions)
    return descriptions


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


# --- The test city ---------------------------------------------------------------------------------


@pytest.fixture
def o311(city, category_factory, settings, tmp_path) -> SimpleNamespace:
    """The standard test city (tests/conftest.py) plus a street-light category with questions,
    and an API key."""
    settings.MEDIA_ROOT = tmp_path
    settings.OPEN137_CITY = "qazvin"
    lights = category_factory(
        "streetlight",
        city.roads,
        name_fa="چراغ خیابان خاموش",
        name_en="Street light out",
        description_fa="چراغ روشنایی معابر",
        description_en="A street light that is off or flickering",
    )
    CategoryAttribute.objects.create(
        category=lights,
        code="lamp_state",
        datatype=CategoryAttribute.Datatype.SINGLEVALUELIST,
        required=True,
        description_fa="چراغ چه وضعی دارد؟",
        description_en="What is the lamp doing?",
        values=[
            {"key": "off", "name_fa": "خاموش", "name_en": "Off"},
            {"key": "flicker", "name_fa": "چشمک‌زن", "name_en": "Flickering"},
            {"key": "day", "name_fa": "روز روشن است", "name_en": "On during the day"},
        ],
        order=1,
    )
    CategoryAttribute.objects.create(
        category=lights,
        code="hazards",
        datatype=CategoryAttribute.Datatype.MULTIVALUELIST,
        description_fa="خطرها",
        description_en="Hazards",
        values=[
            {"key": "wires", "name_fa": "سیم بیرون", "name_en": "Bare wires"},
            {"key": "leaning", "name_fa": "تیر کج", "name_en": "Leaning pole"},
        ],
        order=2,
    )
    CategoryAttribute.objects.create(
        category=lights, code="pole_number", description_fa="شماره تیر", description_en="Pole number", order=3
    )
    CategoryAttribute.objects.create(
        category=lights,
        code="height",
        datatype=CategoryAttribute.Datatype.NUMBER,
        description_fa="ارتفاع",
        description_en="Height (m)",
        order=4,
    )
    api_key, key = api_key_create(name="Qazvin citizen app")
    return SimpleNamespace(
        city=city, lights=lights, pothole=city.pothole, suggestion=city.suggestion, key=key, api_key=api_key
    )


def submit(
    category: Category, lon: float | None = 50.015, lat: float | None = 36.275, **kwargs: Any
) -> Report:
    kwargs.setdefault("description", "A deep pothole in front of the school")
    kwargs.setdefault("reporter_name", f"{SECRET_NAME} {SECRET_LAST}")
    kwargs.setdefault("reporter_email", SECRET_EMAIL)
    kwargs.setdefault("reporter_phone", SECRET_PHONE)
    location = pt(lon, lat) if lon is not None and lat is not None else None
    return report_submit(category=category, location=location, **kwargs).report


def set_status(report: Report, status: str, *, note: str = "", public: bool = True) -> ReportEvent:
    event = ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.STATUS,
        actor_label="test",
        from_status=report.status,
        to_status=status,
        note=note,
        public=public,
    )
    Report.objects.filter(pk=report.pk).update(status=status)
    report.refresh_from_db()
    return event


def post_form(client: Client, fmt: str, data: dict[str, Any], **extra: Any):
    """A POST as most Open311 clients send it: application/x-www-form-urlencoded."""
    return client.post(
        f"{BASE}requests.{fmt}",
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded",
        **extra,
    )


def good_post(o311: SimpleNamespace, **overrides: Any) -> dict[str, Any]:
    data = {
        "api_key": o311.key,
        "service_code": "streetlight",
        "lat": "36.275",
        "long": "50.015",
        "attribute[lamp_state]": "flicker",
        "attribute[hazards][]": ["wires", "leaning"],
        "attribute[pole_number]": "QZ-1402",
        "attribute[height]": "۸",  # Persian digits, as a phone keyboard types them
        "description": "چراغ روشن و خاموش می‌شود",
        "email": SECRET_EMAIL,
        "first_name": SECRET_NAME,
        "last_name": SECRET_LAST,
        "phone": SECRET_PHONE,
        "device_id": "device-42",
        "account_id": "acct-7",
        "address_string": "خیابان پیروزی",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def assert_no_contact(content: bytes) -> None:
    text = content.decode("utf-8")
    for secret in (SECRET_NAME, SECRET_LAST, SECRET_EMAIL, SECRET_PHONE, "device-42"):
        assert secret not in text


# --- discovery ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(client, o311, fmt):
    response = client.get(f"{BASE}discovery.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        data = check_json(response, "discovery")
        endpoint = data["endpoints"][0]
        assert endpoint["formats"] == ["text/xml", "application/json"]
    else:
        root = parse_xml(response)
        assert root.tag == "discovery"
        assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
        endpoint_el = child(root, "endpoints/endpoint")
        assert [c.tag for c in endpoint_el] == ["specification", "url", "changeset", "type", "formats"]
        endpoint = {c.tag: c.text for c in endpoint_el}
        assert [f.text for f in endpoint_el.findall("formats/format")] == ["text/xml", "application/json"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    # Without a trailing slash: clients append "/services.xml" to it.
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["type"] == "test"  # not OPEN137_PRODUCTION


def test_discovery_type_follows_the_setting(client, o311, settings):
    settings.OPEN137_OPEN311_TYPE = "production"
    assert (
        check_json(client.get(f"{BASE}discovery.json"), "discovery")["endpoints"][0]["type"] == "production"
    )


def test_base_url_answers_with_discovery_in_xml(client, o311):
    response = client.get(BASE)
    assert response.status_code == 200
    assert parse_xml(response).tag == "discovery"


def _published_base(client: Client) -> str:
    return check_json(client.get(f"{BASE}discovery.json"), "discovery")["endpoints"][0]["url"]


def _path(url: str) -> str:
    # What the client sends on the request line: the test client takes the path and query.
    parts = urlsplit(url)
    assert parts.netloc == "testserver", url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_a_client_joining_paths_onto_the_discovered_url_reaches_every_endpoint(client, o311):
    """A third-party client reads the endpoint URL from discovery and appends "/<path>" to it, as
    GeoReporter (City of Bloomington's Open311 app) does with `mBaseUrl + "/requests.json"`."""
    base = _published_base(client)
    assert not base.endswith("/")
    services = check_json(client.get(_path(base + "/services.json")), "services")
    assert "streetlight" in {s["service_code"] for s in services}
    assert parse_xml(client.get(_path(base + "/services.xml"))).tag == "services"
    check_json(client.get(_path(base + "/services/streetlight.json")), "service_definition")
    created = client.post(
        _path(base + "/requests.json"),
        urlencode(good_post(o311), doseq=True),
        content_type="application/x-www-form-urlencoded",
    )
    assert created.status_code == 200, created.content
    code = json.loads(created.content)[0]["service_request_id"]
    [request] = check_json(client.get(_path(base + f"/requests/{code}.json")), "requests")
    assert request["service_request_id"] == code
    assert check_json(client.get(_path(base + "/requests.json")), "requests")
    check_json(client.get(_path(base + "/servicerequestupdates.json")), "request_updates")
    # Python clients often join with urljoin onto the base plus a slash.
    assert client.get(_path(urljoin(base + "/", "services.xml"))).status_code == 200
    # The base URL itself leads to discovery (through the slash Django adds).
    response = client.get(_path(base), follow=True)
    assert response.status_code == 200 and parse_xml(response).tag == "discovery"


@pytest.mark.parametrize("path", ["services.xml", "services.json", "discovery.json", "requests.json"])
def test_a_client_given_the_base_url_with_its_slash_still_gets_answers(client, o311, path):
    """A client configured with "…/open311/v2/" (what discovery used to publish, and what a city's
    documentation may still say) that appends "/services.xml" asks for "…/v2//services.xml"."""
    base_with_slash = _published_base(client) + "/"
    response = client.get(_path(f"{base_with_slash}/{path}"))
    assert response.status_code == 200, response.content
    if path.endswith(".xml"):
        assert parse_xml(response).tag == "services"
    else:
        json.loads(response.content)
    code = submit(o311.pothole).tracking_code
    detail = client.get(_path(f"{base_with_slash}/requests/{code}.json"))
    assert check_json(detail, "requests")[0]["service_request_id"] == code
    # Still the spec's 404 for what does not exist, doubled slash or not.
    check_errors(client.get(_path(f"{base_with_slash}/nothing-here.json")), "xml", 404)


# --- services ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_services(client, o311, fmt):
    Category.objects.create(
        code="retired", name_fa="قدیمی", name_en="Retired", department=o311.city.roads, active=False
    )
    response = client.get(f"{BASE}services.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        services = check_json(response, "services")
    else:
        services = xml_items(parse_xml(response), "services", "service")
        assert list(services[0]) == [
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        ]
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code) == {"pothole", "suggestion", "streetlight"}  # active categories only
    light, pothole = by_code["streetlight"], by_code["pothole"]
    # Persian by default; the group is the department.
    assert light["service_name"] == "چراغ خیابان خاموش"
    assert light["description"] == "چراغ روشنایی معابر"
    assert light["group"] == "معاونت حمل و نقل و ترافیک"
    assert light["type"] == "realtime"
    assert "Street light out" in light["keywords"]
    true, false = (True, False) if fmt == "json" else ("true", "false")
    assert (light["metadata"], pothole["metadata"]) == (true, false)


@pytest.mark.parametrize(
    "query, headers, expected",
    [
        ("", {}, "fa"),
        ("?locale=en", {}, "en"),
        ("?locale=en_US", {}, "en"),
        ("", {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}, "en"),
        ("?locale=fa_IR", {"HTTP_ACCEPT_LANGUAGE": "en"}, "fa"),  # the parameter wins over the header
        ("?locale=de", {}, "fa"),  # a language we do not speak: Persian
    ],
)
def test_service_names_follow_locale_and_accept_language(client, o311, query, headers, expected):
    services = check_json(client.get(f"{BASE}services.json{query}", **headers), "services")
    light = next(s for s in services if s["service_code"] == "streetlight")
    names = {"fa": ("چراغ خیابان خاموش", "معاونت حمل و نقل و ترافیک"), "en": ("Street light out", "Roads")}
    assert (light["service_name"], light["group"]) == names[expected]


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(client, o311, fmt):
    response = client.get(f"{BASE}services/streetlight.{fmt}?locale=en")
    assert response.status_code == 200
    if fmt == "json":
        definition = check_json(response, "service_definition")
        attributes = definition["attributes"]
        assert definition["service_code"] == "streetlight"
        lamp = attributes[0]
        assert lamp["variable"] is True and lamp["required"] is True
        assert lamp["values"] == [
            {"key": "off", "name": "Off"},
            {"key": "flicker", "name": "Flickering"},
            {"key": "day", "name": "On during the day"},
        ]
    else:
        root = parse_xml(response)
        assert root.tag == "service_definition"
        assert [c.tag for c in root] == ["service_code", "attributes"]
        attributes_el = root.findall("attributes/attribute")
        assert [c.tag for c in attributes_el[0]] == [
            "variable",
            "code",
            "datatype",
            "required",
            "datatype_description",
            "order",
            "description",
            "values",
        ]
        lamp_el = attributes_el[0]
        assert lamp_el.findtext("variable") == "true" and lamp_el.findtext("required") == "true"
        assert [(v.findtext("key"), v.findtext("name")) for v in lamp_el.findall("values/value")] == [
            ("off", "Off"),
            ("flicker", "Flickering"),
            ("day", "On during the day"),
        ]
        attributes = [{"code": a.findtext("code"), "datatype": a.findtext("datatype")} for a in attributes_el]
    assert [(a["code"], a["datatype"]) for a in attributes] == [
        ("lamp_state", "singlevaluelist"),
        ("hazards", "multivaluelist"),
        ("pole_number", "string"),
        ("height", "number"),
    ]


def test_service_definition_in_persian(client, o311):
    definition = check_json(client.get(f"{BASE}services/streetlight.json"), "service_definition")
    assert definition["attributes"][0]["description"] == "چراغ چه وضعی دارد؟"
    assert definition["attributes"][0]["values"][0]["name"] == "خاموش"


def test_service_without_questions_has_an_empty_definition(client, o311):
    definition = check_json(client.get(f"{BASE}services/pothole.json"), "service_definition")
    assert definition == {"service_code": "pothole", "attributes": []}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["no-such-service", "retired"])
def test_unknown_or_inactive_service_is_404(client, o311, fmt, code):
    Category.objects.create(
        code="retired", name_fa="قدیمی", name_en="Retired", department=o311.city.roads, active=False
    )
    [description] = check_errors(client.get(f"{BASE}services/{code}.{fmt}"), fmt, 404)
    assert code in description


# --- POST requests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_form_encoded_creates_a_routed_report(client, o311, fmt):
    before = timezone.now()
    response = post_form(client, fmt, good_post(o311))
    assert response.status_code == 200, response.content
    if fmt == "json":
        [reply] = check_json(response, "post_response")
    else:
        [reply] = xml_items(parse_xml(response), "service_requests", "request")
        assert list(reply) == ["service_request_id", "service_notice", "account_id"]
    assert "token" not in reply
    assert reply["account_id"] == "acct-7"
    report = Report.objects.get(tracking_code=reply["service_request_id"])
    assert reply["service_request_id"] in reply["service_notice"]
    # Routed like the web form: R1, its roads unit, by covers.
    assert report.district and report.service_area
    assert (report.district.code, report.service_area.code, report.routing_rule) == (
        "R1",
        "roads-r1",
        "covers",
    )
    assert report.channel == Channel.OPEN311
    assert report.created_at >= before
    assert report.attributes == {
        "lamp_state": "flicker",
        "hazards": ["wires", "leaning"],
        "pole_number": "QZ-1402",
        "height": 8,
    }
    assert report.description == "چراغ روشن و خاموش می‌شود"
    assert report.address == "خیابان پیروزی"
    assert (report.reporter_name, report.reporter_email, report.reporter_phone) == (
        f"{SECRET_NAME} {SECRET_LAST}",
        SECRET_EMAIL,
        SECRET_PHONE,
    )
    assert report.open311_token
    # What the Report has no column for is kept for staff, in a private note.
    note = report.events.get(kind=ReportEvent.Kind.CLIENT_DETAILS)
    assert note.public is False
    assert note.data == {
        "api_key": o311.api_key.prefix,
        "device_id": "device-42",
        "account_id": "acct-7",
    }
    o311.api_key.refresh_from_db()
    assert o311.api_key.last_used_at is not None
    assert_no_contact(response.content)


def test_post_multipart_with_a_photo(client, o311):
    data = good_post(o311)
    data["media"] = SimpleUploadedFile("lamp.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = client.post(f"{BASE}requests.json", data)  # the test client sends multipart/form-data
    assert response.status_code == 200, response.content
    [reply] = check_json(response, "post_response")
    report = Report.objects.get(tracking_code=reply["service_request_id"])
    assert report.attributes["hazards"] == ["wires", "leaning"]
    photo = report.photos.get()
    assert photo.width == 16 and photo.height == 12
    # The request now shows its photo as an absolute URL.
    [shown] = check_json(client.get(f"{BASE}requests/{report.tracking_code}.json"), "requests")
    assert shown["media_url"] == f"http://testserver{photo.image.url}"


def test_post_multipart_with_a_broken_photo_is_400(client, o311):
    data = good_post(o311)
    data["media"] = SimpleUploadedFile("lamp.jpg", b"not a jpeg at all", content_type="image/jpeg")
    descriptions = check_errors(client.post(f"{BASE}requests.xml", data), "xml", 400)
    assert descriptions[0].startswith("media: ")
    assert not Report.objects.exists()


def test_post_needs_no_csrf_token(o311):
    client = Client(enforce_csrf_checks=True)
    assert post_form(client, "json", good_post(o311)).status_code == 200


def test_post_accepts_the_api_key_in_the_query_string(client, o311):
    data = good_post(o311)
    key = data.pop("api_key")
    response = client.post(
        f"{BASE}requests.json?api_key={key}",
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200


POST_ERRORS = [
    # (name, overrides, status, words in the description)
    ("missing api_key", {"api_key": None}, 403, "api_key"),
    ("empty api_key", {"api_key": ""}, 403, "api_key"),
    ("bad api_key", {"api_key": "not-a-key"}, 403, "api_key"),
    ("missing service_code", {"service_code": None}, 400, "service_code"),
    ("unknown service", {"service_code": "no-such-service"}, 404, "no-such-service"),
    ("missing location", {"lat": None, "long": None, "address_string": None}, 400, "location"),
    ("bad lat", {"lat": "north"}, 400, "lat"),
    ("lat out of range", {"lat": "95"}, 400, "lat"),
    ("lat without long", {"long": None}, 400, "together"),
    ("swapped lat and long", {"lat": "50.015", "long": "36.275"}, 400, "swapped"),
    ("missing required attribute", {"attribute[lamp_state]": None}, 400, "attribute[lamp_state]"),
    ("bad singlevaluelist value", {"attribute[lamp_state]": "exploded"}, 400, "exploded"),
    ("bad multivaluelist value", {"attribute[hazards][]": ["wires", "ghosts"]}, 400, "ghosts"),
    ("two values for a single list", {"attribute[lamp_state]": ["off", "day"]}, 400, "single"),
    ("not a number", {"attribute[height]": "tall"}, 400, "number"),
    ("address only, location needed", {"lat": None, "long": None}, 400, "geocod"),
    ("description too long", {"description": "x" * 4001}, 400, "description"),
    ("bad email", {"email": "not-an-email"}, 400, "email"),
    ("bad media_url", {"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ("other jurisdiction", {"jurisdiction_id": "tehran"}, 404, "tehran"),
    ("NUL in a value", {"description": "a\x00b"}, 400, "NUL"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "overrides, status, words", [c[1:] for c in POST_ERRORS], ids=[c[0] for c in POST_ERRORS]
)
def test_post_errors(client, o311, fmt, overrides, status, words):
    response = post_form(client, fmt, good_post(o311, **overrides), HTTP_ACCEPT_LANGUAGE="en")
    descriptions = check_errors(response, fmt, status)
    assert any(words in d for d in descriptions), descriptions
    assert not Report.objects.exists()


def test_inactive_api_key_is_403(client, o311):
    ApiKey.objects.filter(pk=o311.api_key.pk).update(active=False)
    check_errors(post_form(client, "json", good_post(o311)), "json", 403)


def test_several_problems_are_several_errors(client, o311):
    overrides = {"attribute[lamp_state]": None, "attribute[hazards][]": "ghosts", "email": "nope"}
    descriptions = check_errors(post_form(client, "json", good_post(o311, **overrides)), "json", 400)
    assert len(descriptions) >= 2


def test_address_only_is_accepted_where_no_point_is_needed(client, o311):
    data = {
        "api_key": o311.key,
        "service_code": "suggestion",
        "address_string": "میدان آزادی",
        "description": "More benches",
    }
    [reply] = check_json(post_form(client, "json", data), "post_response")
    report = Report.objects.get(tracking_code=reply["service_request_id"])
    assert report.location is None and report.address == "میدان آزادی"
    assert report.service_area and report.service_area.code == "roads-central"  # routed by category alone


def test_lon_is_accepted_for_long(client, o311):
    data = good_post(o311, long=None, lon="50.015")
    [reply] = check_json(post_form(client, "json", data), "post_response")
    assert Report.objects.get(tracking_code=reply["service_request_id"]).district.code == "R1"  # type: ignore[union-attr]


def test_matching_jurisdiction_id_is_accepted(client, o311):
    assert post_form(client, "json", good_post(o311, jurisdiction_id="Qazvin")).status_code == 200


def test_a_point_outside_the_city_goes_to_triage_not_away(client, o311):
    [reply] = check_json(
        post_form(client, "json", good_post(o311, lat="35.70", long="51.40")), "post_response"
    )
    assert Report.objects.get(tracking_code=reply["service_request_id"]).routing_rule == "triage"


def test_a_retry_with_the_same_idempotency_key_gives_the_same_request(client, o311):
    first = check_json(
        post_form(client, "json", good_post(o311), HTTP_IDEMPOTENCY_KEY="tap-1"), "post_response"
    )
    again = check_json(
        post_form(client, "json", good_post(o311), HTTP_IDEMPOTENCY_KEY="tap-1"), "post_response"
    )
    assert first[0]["service_request_id"] == again[0]["service_request_id"]
    assert Report.objects.count() == 1
    # The key is the client's own: another client's "tap-1" is another report.
    _other, other_key = api_key_create(name="Another app")
    other = check_json(
        post_form(client, "json", good_post(o311, api_key=other_key), HTTP_IDEMPOTENCY_KEY="tap-1"),
        "post_response",
    )
    assert other[0]["service_request_id"] != first[0]["service_request_id"]
    # The same key for a different report is refused.
    conflict = post_form(
        client, "json", good_post(o311, description="Something else"), HTTP_IDEMPOTENCY_KEY="tap-1"
    )
    check_errors(conflict, "json", 400)


def test_malformed_multipart_is_400(client, o311):
    # No boundary: the body cannot be split into fields.
    response = client.generic(
        "POST", f"{BASE}requests.json", b"--xx\r\nnonsense", content_type="multipart/form-data"
    )
    check_errors(response, "json", 400)


# --- GET requests ---------------------------------------------------------------------------------------


@pytest.fixture
def reports(o311) -> SimpleNamespace:
    """Three reports: an open pothole in R1, a closed one in R2 with a public note, an open light."""
    r1 = submit(o311.pothole, 50.015, 36.275)
    r2 = submit(o311.pothole, 50.03, 36.27, description="Pothole in region two")
    set_status(r2, ReportStatus.IN_PROGRESS)
    set_status(r2, ReportStatus.CLOSED, note="Filled with asphalt on Tuesday")
    set_status(r2, ReportStatus.CLOSED, note="Internal: contractor invoice 77", public=False)
    light = submit(o311.lights, 50.0075, 36.2675, description="Lamp out", attributes={"lamp_state": "off"})
    return SimpleNamespace(r1=r1, r2=r2, light=light)


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests(client, o311, reports, fmt):
    response = client.get(f"{BASE}requests.{fmt}?locale=en")
    assert response.status_code == 200
    if fmt == "json":
        requests = check_json(response, "requests")
    else:
        requests = xml_items(parse_xml(response), "service_requests", "request")
        assert all(list(r) == REQUEST_FIELDS for r in requests)
    assert [r["service_request_id"] for r in requests] == [
        reports.light.tracking_code,
        reports.r2.tracking_code,
        reports.r1.tracking_code,
    ]  # newest first
    r2 = requests[1]
    assert r2["status"] == "closed"
    assert r2["status_notes"] == "Filled with asphalt on Tuesday"  # the public note, not the internal one
    assert r2["service_code"] == "pothole" and r2["service_name"] == "Pothole"
    assert r2["agency_responsible"] == "Roads unit R2"
    assert float(r2["lat"]) == 36.27 and float(r2["long"]) == 50.03
    assert requests[0]["agency_responsible"] == "Roads unit R1"  # S11 is inside R1: its unit
    assert requests[2]["status"] == "open"
    for r in requests:
        assert ISO_WITH_ZONE.match(r["requested_datetime"]) and r["requested_datetime"].endswith("+03:30")
        assert ISO_WITH_ZONE.match(r["updated_datetime"])
    assert_no_contact(response.content)
    assert b"Internal: contractor" not in response.content


def test_requests_in_persian(client, o311, reports):
    requests = check_json(client.get(f"{BASE}requests.json"), "requests")
    assert requests[-1]["service_name"] == "موضوع pothole"
    assert requests[-1]["agency_responsible"] == "واحد roads-r1"


def codes(client, query: str) -> list[str]:
    return [
        r["service_request_id"] for r in check_json(client.get(f"{BASE}requests.json?{query}"), "requests")
    ]


def test_filter_by_service_code_list(client, o311, reports):
    assert codes(client, "service_code=streetlight") == [reports.light.tracking_code]
    assert len(codes(client, "service_code=streetlight,pothole")) == 3
    assert codes(client, "service_code=no-such") == []


def test_filter_by_status(client, o311, reports):
    assert codes(client, "status=closed") == [reports.r2.tracking_code]
    assert codes(client, "status=open") == [reports.light.tracking_code, reports.r1.tracking_code]
    assert len(codes(client, "status=open,closed")) == 3


def test_filter_by_dates_and_default_window(client, o311, reports):
    now = timezone.now()
    Report.objects.filter(pk=reports.r1.pk).update(created_at=now - timedelta(days=100))
    Report.objects.filter(pk=reports.r2.pk).update(created_at=now - timedelta(days=10))
    # Without dates: the last 90 days.
    assert codes(client, "") == [reports.light.tracking_code, reports.r2.tracking_code]
    start = (now - timedelta(days=120)).isoformat()
    end = (now - timedelta(days=5)).isoformat()
    assert codes(client, urlencode({"start_date": start, "end_date": end})) == [
        reports.r2.tracking_code,
        reports.r1.tracking_code,
    ]
    # Only an end date: the 90 days before it.
    assert codes(client, urlencode({"end_date": end})) == [reports.r2.tracking_code]
    # Tehran's offset and UTC both read.
    tehran = timezone.localtime(now - timedelta(days=11)).isoformat(timespec="seconds")
    assert tehran.endswith("+03:30")
    assert codes(client, urlencode({"start_date": tehran})) == [
        reports.light.tracking_code,
        reports.r2.tracking_code,
    ]
    # A client that forgot to encode the offset's "+": it arrives as a space and is still read.
    assert codes(client, "start_date=" + tehran.replace("+", "%20")) == [
        reports.light.tracking_code,
        reports.r2.tracking_code,
    ]
    utc_z = (now - timedelta(days=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert codes(client, urlencode({"start_date": utc_z})) == [reports.light.tracking_code]


def test_a_bare_date_is_the_city_midnight(client, o311, reports):
    today = timezone.localdate().isoformat()
    assert len(codes(client, f"start_date={today}")) == 3
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert codes(client, f"start_date={tomorrow}") == []


def test_filter_by_bbox_and_radius(client, o311, reports):
    assert codes(client, "bbox=50.0,36.26,50.02,36.28") == [
        reports.light.tracking_code,
        reports.r1.tracking_code,
    ]
    assert codes(client, "bbox=50.025,36.26,50.04,36.28") == [reports.r2.tracking_code]
    assert codes(client, "lat=36.275&long=50.015&radius=100") == [reports.r1.tracking_code]
    # r1 is about 1.1 km from the light; 2 km takes both, and r2 is further.
    assert codes(client, "lat=36.2675&long=50.0075&radius=2000") == [
        reports.light.tracking_code,
        reports.r1.tracking_code,
    ]


def test_paging(client, o311, reports):
    assert codes(client, "page_size=2") == [reports.light.tracking_code, reports.r2.tracking_code]
    assert codes(client, "page_size=2&page=2") == [reports.r1.tracking_code]
    assert codes(client, "page_size=2&page=3") == []


def test_service_request_id_list_overrides_the_other_filters(client, o311, reports):
    Report.objects.filter(pk=reports.r1.pk).update(created_at=timezone.now() - timedelta(days=400))
    query = f"service_request_id={reports.r1.tracking_code.lower()},{reports.r2.tracking_code},NOPE&status=open&service_code=streetlight"
    assert codes(client, query) == [reports.r2.tracking_code, reports.r1.tracking_code]


GET_ERRORS = [
    ("bad start_date", "start_date=yesterday", "start_date"),
    ("bad end_date", "end_date=2026-13-45T00:00:00Z", "end_date"),
    ("start after end", "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "start_date"),
    ("far-away date", "end_date=0001-01-01T00:00:00+03:30", "end_date"),
    ("bad status", "status=pending", "status"),
    ("bad bbox", "bbox=1,2,3", "bbox"),
    ("inverted bbox", "bbox=50.04,36.26,50.0,36.28", "bbox"),
    ("bad page", "page=0", "page"),
    ("huge page", "page=99999999999999999999", "page"),
    ("bad page_size", "page_size=5000", "page_size"),
    ("bad radius", "lat=36.27&long=50.01&radius=-5", "radius"),
    ("radius alone", "radius=100", "radius"),
    ("bad lat", "lat=abc&long=50", "lat"),
    ("other jurisdiction", "jurisdiction_id=tehran", "tehran"),
    ("NUL in a filter", "service_code=a%00b", "NUL"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("query, words", [c[1:] for c in GET_ERRORS], ids=[c[0] for c in GET_ERRORS])
def test_get_requests_errors(client, o311, fmt, query, words):
    status = 404 if "jurisdiction" in query else 400
    descriptions = check_errors(client.get(f"{BASE}requests.{fmt}?{query}&locale=en"), fmt, status)
    assert any(words in d for d in descriptions), descriptions


@pytest.mark.parametrize("fmt", FORMATS)
def test_extensions_add_the_detailed_state_and_the_public_timeline(client, o311, reports, fmt):
    response = client.get(
        f"{BASE}requests.{fmt}?extensions=true&service_request_id={reports.r2.tracking_code}"
    )
    if fmt == "json":
        [request] = check_json(response, "requests")
        extended, notes = request["extended_attributes"], request["notes"]
    else:
        [request_el] = parse_xml(response)
        extended = {c.tag: c.text for c in child(request_el, "extended_attributes")}
        notes = [{c.tag: c.text for c in note} for note in request_el.findall("notes/note")]
        assert all(list(n) == ["datetime", "description", "type"] for n in notes)
        extended["support_count"] = int(extended["support_count"])
    assert extended["detailed_status"] == "closed"
    assert extended["district"] == "R2"
    assert extended["channel"] == "web"
    assert extended["support_count"] == 0
    assert [n["type"] for n in notes] == ["created", "status", "status"]
    assert notes[-1]["description"] == "Filled with asphalt on Tuesday"
    assert all(ISO_WITH_ZONE.match(n["datetime"]) for n in notes)
    assert b"contractor invoice" not in response.content


def test_without_extensions_there_are_no_notes(client, o311, reports):
    requests = check_json(client.get(f"{BASE}requests.json"), "requests")
    assert all("notes" not in r and "extended_attributes" not in r for r in requests)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_list_costs_the_same_queries_for_3_or_13_requests(client, o311, reports):
    url = f"{BASE}requests.json?extensions=true"
    few = _queries(client, url)
    for i in range(10):
        report = submit(o311.pothole, 50.015, 36.275 - i * 0.0005)
        set_status(report, ReportStatus.ACKNOWLEDGED, note=f"seen {i}")
    assert len(check_json(client.get(url), "requests")) == 13
    assert _queries(client, url) == few <= 2


# --- requests/{id}, tokens/{token} -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_one_request(client, o311, reports, fmt):
    response = client.get(f"{BASE}requests/{reports.r1.tracking_code}.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        [request] = check_json(response, "requests")
    else:
        [request] = xml_items(parse_xml(response), "service_requests", "request")
        assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == reports.r1.tracking_code
    assert_no_contact(response.content)


def test_a_request_id_is_read_as_typed(client, o311, reports):
    code = reports.r1.tracking_code
    assert client.get(f"{BASE}requests/{code.lower()}.json").status_code == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_request_is_404(client, o311, fmt):
    [description] = check_errors(client.get(f"{BASE}requests/NOSUCH99.{fmt}"), fmt, 404)
    assert "NOSUCH99" in description


@pytest.mark.parametrize("fmt", FORMATS)
def test_token(client, o311, reports, fmt):
    token = reports.r1.open311_token
    response = client.get(f"{BASE}tokens/{token}.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        [item] = check_json(response, "tokens")
    else:
        [item] = xml_items(parse_xml(response), "service_requests", "request")
        assert list(item) == ["service_request_id", "token"]
    assert item == {"service_request_id": reports.r1.tracking_code, "token": token}


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_token_is_404(client, o311, fmt):
    check_errors(client.get(f"{BASE}tokens/0123456789abcdef.{fmt}"), fmt, 404)


# --- servicerequestupdates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_request_updates(client, o311, reports, fmt):
    response = client.get(f"{BASE}servicerequestupdates.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        updates = check_json(response, "request_updates")
    else:
        updates = xml_items(parse_xml(response), "service_request_updates", "request_update")
        assert all(
            list(u)[:6]
            == ["update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"]
            for u in updates
        )
    # The two public status changes of r2, oldest first; the internal one and the creations are not updates.
    assert [(u["service_request_id"], u["status"]) for u in updates] == [
        (reports.r2.tracking_code, "open"),
        (reports.r2.tracking_code, "closed"),
    ]
    assert updates[1]["description"] == "Filled with asphalt on Tuesday"
    assert updates[0]["external_status_code"] == "in_progress"
    assert all(ISO_WITH_ZONE.match(u["updated_datetime"]) for u in updates)
    assert b"contractor invoice" not in response.content


def test_service_request_updates_by_date(client, o311, reports):
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert (
        check_json(
            client.get(f"{BASE}servicerequestupdates.json?{urlencode({'start_date': later})}"),
            "request_updates",
        )
        == []
    )
    check_errors(client.get(f"{BASE}servicerequestupdates.json?start_date=soon"), "json", 400)


# --- Formats, methods, odd input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "services.csv",
        "requests.html",
        "services/pothole.yaml",
        "discovery.XML",
        "services",
        "nothing-here.json",
    ],
)
def test_unknown_format_or_endpoint_is_404_in_xml(client, o311, path):
    check_errors(client.get(f"{BASE}{path}"), "xml", 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrong_method_is_400(client, o311, fmt):
    response = client.put(f"{BASE}requests.{fmt}")
    check_errors(response, fmt, 400)
    assert "POST" in response["Allow"]
    check_errors(client.post(f"{BASE}services.{fmt}"), fmt, 400)


def test_xml_stays_well_formed_with_control_characters(client, o311):
    submit(o311.pothole, description="bell\x07 and form feed\x0c and persian ی")
    root = parse_xml(client.get(f"{BASE}requests.xml"))
    assert child(root, "request/description").text == "bell and form feed and persian ی"


# --- API keys ------------------------------------------------------------------------------------------------


def test_create_api_key_command_prints_a_key_that_works(client, o311):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "Partner back-end", stdout=out, stderr=err)
    key = out.getvalue().strip()
    api_key = ApiKey.objects.get(name="Partner back-end")
    assert key.startswith(api_key.prefix) and len(api_key.prefix) == 8
    assert key != api_key.key_hash and key not in api_key.key_hash  # only the hash is stored
    assert "only now" in err.getvalue()
    assert post_form(client, "json", good_post(o311, api_key=key)).status_code == 200


def test_admin_creates_a_key_shows_it_once_and_deactivates(admin_client, o311):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the admin chose English
    response = admin_client.post("/admin/issues/apikey/add/", {"name": "Council dashboard"}, follow=True)
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="Council dashboard")
    shown = [str(m) for m in response.context["messages"]]
    [message] = [m for m in shown if "Copy it now" in m]
    found = re.search(r"is (\S+)\. Copy", message)
    assert found
    key = found.group(1)
    assert ApiKey.objects.get(key_hash=hashlib.sha256(key.encode()).hexdigest()) == api_key
    listing = admin_client.get("/admin/issues/apikey/")
    assert api_key.prefix.encode() in listing.content
    assert api_key.key_hash.encode() not in listing.content and key.encode() not in listing.content
    change = admin_client.get(f"/admin/issues/apikey/{api_key.pk}/change/")
    assert api_key.key_hash.encode() not in change.content and key.encode() not in change.content
    admin_client.post(
        "/admin/issues/apikey/", {"action": "deactivate", "_selected_action": [api_key.pk]}, follow=True
    )
    api_key.refresh_from_db()
    assert api_key.active is False


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_posts_are_limited_per_api_key_with_retry_after(client, o311, settings, fmt):
    from issues.open311.services import api_key_create

    settings.OPEN137_RATE_OPEN311 = "2/hour"
    for n in range(2):
        assert post_form(client, fmt, good_post(o311, description=f"n{n}")).status_code == 200
    refused = post_form(client, fmt, good_post(o311, description="third"))
    assert refused.status_code == 429, refused.content
    assert int(refused.headers.get("Retry-After", 0)) > 0, dict(refused.headers)
    assert b"api_key" in refused.content
    assert Report.objects.filter(channel="open311").count() == 2
    # Another client's key is counted on its own.
    _other, other_key = api_key_create(name="Another app")
    assert post_form(client, fmt, good_post(o311, api_key=other_key, description="other")).status_code == 200

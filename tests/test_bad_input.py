"""Bad input of any kind gets a clear 4xx and writes nothing; no input at all can make a 500.

First the cases a reviewer found (each once answered with a server error), then property tests
that throw arbitrary values at the report API, the report list filters and Open311.
"""

from __future__ import annotations

import io
import json
import os
import re
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image
from rest_framework.test import APIClient

from issues.models import CategoryAttribute, Report
from issues.open311.services import api_key_create

REPORTS = "/api/reports/"
OPEN311 = "/open311/v2/"


@pytest.fixture(autouse=True)
def _no_limits_and_tmp_media(settings, tmp_path):
    # The write limits have their own tests; here they would only turn examples into 429s.
    settings.OPEN137_RATE_REPORTS = ""
    settings.OPEN137_RATE_SUPPORT = ""
    settings.OPEN137_RATE_OPEN311 = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def client() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def o311() -> Client:
    # One client for many requests: a new one loads the middleware again (about 0.1 s).
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def bad_city(city):
    """The standard test city, with a question of each datatype on potholes, for `attributes`."""
    Datatype = CategoryAttribute.Datatype
    keys = [{"key": k, "name_fa": k, "name_en": k} for k in ("left", "right", "7")]
    for order, (code, datatype) in enumerate(
        [
            ("note", Datatype.STRING),
            ("more", Datatype.TEXT),
            ("depth", Datatype.NUMBER),
            ("seen_at", Datatype.DATETIME),
            ("side", Datatype.SINGLEVALUELIST),
            ("hazards", Datatype.MULTIVALUELIST),
        ]
    ):
        CategoryAttribute.objects.create(
            category=city.pothole,
            code=code,
            datatype=datatype,
            description_fa=code,
            description_en=code,
            values=keys if "list" in datatype else [],
            order=order,
        )
    return city


def _good(city) -> dict[str, Any]:
    lon, lat = city.points.s11
    return {"category": "pothole", "lat": lat, "lon": lon, "description": "چاله"}


def _post_raw(client: APIClient, body: str | bytes, content_type: str = "application/json", **extra):
    return client.generic("POST", REPORTS, body, content_type=content_type, **extra)  # type: ignore[arg-type]


def _json_error(response, status: int) -> dict[str, Any]:
    """The answer is `status` with the API's JSON error shape: a sentence in "error"."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert isinstance(body["error"], str) and body["error"]
    return body


# --- 1. JSON nested deeper than the parser can go -------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000,
        "[" * 5000 + "]" * 5000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        '{"category": "pothole", "attributes": {"note": ' + "[" * 5000 + "]" * 5000 + "}}",
    ],
    ids=["open-lists", "closed-lists", "objects", "inside-a-field"],
)
def test_deeply_nested_json_is_a_400(client, bad_city, english, body):
    before = Report.objects.count()
    error = _json_error(_post_raw(client, body), 400)
    assert "JSON" in error["error"]
    assert Report.objects.count() == before


def test_json_nested_deeper_than_any_report_needs_is_a_400(client, bad_city, english):
    # Deep enough for Python's parser, too deep for what the view does with it (orjson gives up at
    # 255 levels): refused by the parser, before any view code.
    deep = "[" * 300 + "]" * 300
    before = Report.objects.count()
    body = {**_good(bad_city), "attributes": {"note": json.loads(deep)}}
    error = _json_error(_post_raw(client, json.dumps(body)), 400)
    assert "nested" in error["error"]
    assert Report.objects.count() == before


@pytest.mark.parametrize(
    "field, raw",
    [
        ("attributes.note", '{"note": 100000000000000000000}'),  # orjson: 64-bit integers at most
        ("description", "1e400"),  # parses as infinity: a description "inf" otherwise
        ("lat", "-1e400"),
        ("attributes.depth", '{"depth": 1e999}'),
    ],
)
def test_numbers_nothing_can_hold_are_a_400(client, bad_city, english, field, raw):
    before = Report.objects.count()
    good = json.dumps({k: v for k, v in _good(bad_city).items() if k != field.split(".")[0]})
    body = f'{{"{field.split(".")[0]}": {raw}, {good[1:]}'
    error = _json_error(_post_raw(client, body), 400)
    assert f"{field}: " in error["error"] and "number" in error["error"]
    assert Report.objects.count() == before


# --- 2. Lone surrogates (text that is not valid Unicode) -------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("lat", "\ud800"),
        ("lon", "50.0\udfff"),
        ("kind", "\ud800"),
        ("description", "\ud800"),
        ("attributes", {"\ud800": "x"}),
        ("attributes", {"note": "\udc00"}),
    ],
)
def test_lone_surrogates_are_a_400(client, bad_city, english, field, value):
    before = Report.objects.count()
    body = json.dumps({**_good(bad_city), field: value})  # ensure_ascii: "\ud800" escapes
    _json_error(_post_raw(client, body), 400)
    assert Report.objects.count() == before


# --- 3, 4. Dates at the edges of what Python and PostgreSQL hold -----------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"until": "9999-12-31T23:59:59.999999"},
        {"until": "9999-12-31T23:59:59.999999+00:00"},
        {"since": "0001-01-01T00:00:00+14:00"},
        {"until": "0001-01-01T00:00:00+23:59"},
        {"since": "9999-12-31T23:59:59-23:59"},
    ],
)
def test_dates_out_of_range_are_a_400(client, city, english, params):
    error = _json_error(client.get(REPORTS, params), 400)
    assert next(iter(params)) in error["error"]


@pytest.mark.parametrize("offset", ["+23:59", "-23:59", "+16:00", "-16:30", "+15:59"])
def test_any_utc_offset_python_accepts_is_read(client, city, offset):
    response = client.get(REPORTS, {"since": f"2020-01-01T00:00:00{offset}"})
    assert response.status_code == 200, response.content[:300]
    response = client.get(REPORTS, {"until": f"2020-01-01T00:00:00{offset}"})
    assert response.status_code == 200, response.content[:300]


# --- 5. Open311 dates with offsets PostgreSQL cannot hold ------------------------------------------


@pytest.mark.parametrize("endpoint", ["requests.json", "servicerequestupdates.json"])
@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize("offset", ["+23:00", "-23:59", "+16:00"])
def test_open311_dates_with_any_offset_are_read(o311, city, endpoint, name, offset):
    query = urlencode({name: f"2020-01-01T00:00:00{offset}"})
    response = o311.get(f"{OPEN311}{endpoint}?{query}")
    assert response.status_code == 200, response.content[:300]
    assert isinstance(json.loads(response.content), list)


@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:59"])
def test_open311_dates_out_of_range_are_a_400(o311, city, name, text):
    response = o311.get(f"{OPEN311}requests.json?{urlencode({name: text})}")
    assert response.status_code == 400, response.content[:300]
    assert name in json.loads(response.content)[0]["description"]


# --- 6. Bodies over the size limit -----------------------------------------------------------------


def test_json_body_over_the_limit_is_a_json_413(client, city, settings, english):
    before = Report.objects.count()
    body = json.dumps({**_good(city), "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    error = _json_error(_post_raw(client, body), 413)
    assert "large" in error["error"]
    assert Report.objects.count() == before


def test_multipart_fields_over_the_limit_are_a_json_413(client, city, settings, english):
    before = Report.objects.count()
    data = {**_good(city), "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    error = _json_error(client.post(REPORTS, data, format="multipart"), 413)
    assert "large" in error["error"]
    assert Report.objects.count() == before


def test_too_many_multipart_fields_is_a_json_400(client, city, settings, english):
    data = {f"f{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    _json_error(client.post(REPORTS, {**_good(city), **data}, format="multipart"), 400)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_body_over_the_limit_is_a_413_in_the_spec_shape(o311, city, settings, fmt):
    before = Report.objects.count()
    key = api_key_create(name="big")[1]
    body = urlencode(
        {"api_key": key, "service_code": "pothole", "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    )
    response = o311.generic(
        "POST", f"{OPEN311}requests.{fmt}", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    if fmt == "json":
        assert "too large" in json.loads(response.content)[0]["description"]
    else:
        assert b"<code>413</code>" in response.content and b"too large" in response.content
    assert Report.objects.count() == before


def _noise_png(size_bytes: int) -> bytes:
    """A PNG of random pixels about `size_bytes` long (noise does not compress)."""
    side = int((size_bytes / 3) ** 0.5)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        buffer, format="PNG", compress_level=0
    )
    return buffer.getvalue()


def test_three_big_photos_still_upload(client, city, settings):
    # Files count against the photo limit (OPEN137_PHOTO_MAX_BYTES), not DATA_UPLOAD_MAX_MEMORY_SIZE.
    image = _noise_png(min(settings.OPEN137_PHOTO_MAX_BYTES, 10 * 1024 * 1024) - 64 * 1024)
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < len(image) <= settings.OPEN137_PHOTO_MAX_BYTES
    photos = [SimpleUploadedFile(f"p{i}.png", image, content_type="image/png") for i in range(3)]
    response = client.post(REPORTS, {**_good(city), "photos": photos}, format="multipart")
    assert response.status_code == 201, response.content[:300]
    report = Report.objects.get(tracking_code=json.loads(response.content)["code"])
    assert report.photos.count() == 3


# --- 7. Cross-site form posts ----------------------------------------------------------------------


def test_form_encoded_posts_to_the_api_are_refused(client, city, english):
    before = Report.objects.count()
    body = urlencode(_good(city))
    error = _json_error(_post_raw(client, body, "application/x-www-form-urlencoded"), 415)
    assert "JSON" in error["error"]
    assert Report.objects.count() == before


def test_text_plain_posts_to_the_api_are_refused(client, city, english):
    before = Report.objects.count()
    _json_error(_post_raw(client, json.dumps(_good(city)), "text/plain"), 415)
    assert Report.objects.count() == before


@pytest.mark.parametrize("origin", ["https://evil.example", "http://testserver.evil.example", "null"])
def test_cross_site_multipart_posts_are_refused(client, city, english, origin):
    before = Report.objects.count()
    response = client.post(REPORTS, _good(city), format="multipart", HTTP_ORIGIN=origin)
    error = _json_error(response, 403)
    assert "site" in error["error"]
    assert Report.objects.count() == before


@pytest.mark.parametrize("origin", [None, "http://testserver", "https://testserver"])
def test_same_site_and_originless_multipart_posts_are_taken(client, city, origin):
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    response = client.post(REPORTS, _good(city), format="multipart", **extra)
    assert response.status_code == 201, response.content[:300]


def test_trusted_origins_may_post_multipart(client, city, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.city.example"]
    response = client.post(REPORTS, _good(city), format="multipart", HTTP_ORIGIN="https://app.city.example")
    assert response.status_code == 201, response.content[:300]


def test_json_posts_are_taken_whatever_the_origin(client, city):
    # A page on another site cannot send a JSON body without a CORS preflight, which we never allow.
    response = client.post(REPORTS, _good(city), format="json", HTTP_ORIGIN="https://app.example")
    assert response.status_code == 201, response.content[:300]


def _report_code(client: APIClient, city) -> str:
    response = client.post(REPORTS, _good(city), format="json")
    assert response.status_code == 201
    return json.loads(response.content)["code"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"content_type": "application/x-www-form-urlencoded", "data": ""},
        {"content_type": "text/plain", "data": ""},
        {"content_type": "multipart/form-data; boundary=x", "data": "--x--\r\n"},
        {"data": ""},
    ],
    ids=["form", "text", "multipart", "no-body"],
)
def test_cross_site_me_too_is_refused(client, city, english, kwargs):
    code = _report_code(client, city)
    url = f"{REPORTS}{code}/support/"
    response = client.generic("POST", url, HTTP_ORIGIN="https://evil.example", **kwargs)
    assert response.status_code in (403, 415), response.content[:300]
    _json_error(response, response.status_code)
    assert Report.objects.get(tracking_code=code).support_count == 0


def test_me_too_from_the_site_itself_counts(client, city):
    code = _report_code(client, city)
    response = client.post(f"{REPORTS}{code}/support/", HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200, response.content[:300]
    assert json.loads(response.content)["support_count"] == 1


def test_open311_still_takes_form_encoded_posts_from_anywhere(o311, city):
    key = api_key_create(name="app")[1]
    lon, lat = city.points.s11
    body = urlencode({"api_key": key, "service_code": "pothole", "lat": lat, "long": lon})
    response = o311.generic(
        "POST",
        f"{OPEN311}requests.json",
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_ORIGIN="https://partner.example",
    )
    assert response.status_code == 200, response.content[:300]


# --- Property tests: nothing anyone sends makes a 500, and each answer says what it should ---------

# The examples and the seed come from the hypothesis profile (tests/conftest.py): fixed and bounded
# in `make test`, many more from a new seed in `make stress`.
PROPERTY_SETTINGS = hsettings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as clients really send it, and worse: any code point, lone surrogates (a JSON "\ud800"
# escape, or bytes that are not UTF-8 in a URL), NULs, Persian digits, HTML, very long strings.
_char = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.sampled_from(["\x00", "۳", "٫", ",", "-", ".", "e", ":", "T", "+", "<", ">", " "]),
)
any_text = st.one_of(
    st.lists(_char, max_size=30).map("".join),
    st.sampled_from(["", " ", "\x00", "\ud800", "nan", "inf", "-0", "1e400", "9" * 5000, "<b>x</b>"]),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([36.2675, 50.0075, 90, -180, 1e308, 2**63, -(2**64)]),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)
REPORT_FIELDS = [
    "category",
    "lat",
    "lon",
    "kind",
    "description",
    "address",
    "name",
    "phone",
    "email",
    "consent_contact",
    "attributes",
    "photos",
]


def _attributes() -> st.SearchStrategy[Any]:
    """`attributes` objects that use the questions' codes, so the answers reach their checks."""
    codes = st.sampled_from(["note", "more", "depth", "seen_at", "side", "hazards"]) | any_text
    return st.dictionaries(codes, json_values, max_size=4)


def _no_500(response, before: int) -> Any:
    """The answer is below 500 and parseable JSON; a refusal wrote no report."""
    assert response.status_code < 500, response.content[:300]
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert Report.objects.count() == before
    return body


def _post_json(client: APIClient, body: Any, check=None):
    """POST `body` as JSON, check the answer (and `check(response, result)`) and roll back, so each
    example starts from the same database."""
    # json.dumps writes NaN and Infinity (not JSON: refused) and escapes lone surrogates as \ud800.
    before = Report.objects.count()
    with transaction.atomic():
        response = _post_raw(client, json.dumps(body))
        result = _no_500(response, before)
        if check is not None:
            check(response, result)
        transaction.set_rollback(True)
    return response, result


def _not_json(value: Any) -> bool:
    """Whether json.dumps writes `value` as something that is not JSON (NaN, Infinity)."""
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, list):
        return any(_not_json(v) for v in value)
    if isinstance(value, dict):
        return any(_not_json(v) for v in value.values())
    return False


@pytest.mark.parametrize("field", REPORT_FIELDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_json_value_in_any_report_field(client, bad_city, english, field, data):
    """A valid report with one field replaced by anything: either a report is made, and a text field
    holds what was sent, or it is a 400 that names that field (or says the body is not JSON)."""
    value = data.draw(_attributes() | json_values if field == "attributes" else json_values)

    def check(response, result):
        assert response.status_code in (201, 400), response.content[:300]
        if response.status_code == 400:
            assert result["error"]
            if _not_json(value):
                assert "JSON" in result["error"], result
            else:
                assert field in result["error"] or "JSON" in result["error"], result
            return
        report = Report.objects.get(tracking_code=result["code"])
        if field in ("description", "address") and isinstance(value, str):
            # What the JSON says: two surrogates that make a pair, escaped by json.dumps, are one
            # character once parsed (an emoji), as any JSON reader reads them. Compared as ascii(),
            # so a failure's message holds no lone surrogate (pytest-xdist cannot send one).
            sent = json.loads(json.dumps(value))
            assert ascii(getattr(report, field)) == ascii(sent.strip())

    _post_json(client, {**_good(bad_city), "attributes": {}, field: value}, check)


def test_an_escaped_surrogate_pair_is_the_character_it_encodes(client, bad_city, english):
    """A client that escapes characters beyond the first plane (as JSON allows, and as
    JavaScript's JSON.stringify never does but others do) sends an emoji as two escapes: it is one
    character, stored as such; half a pair is refused."""
    body = json.dumps({**_good(bad_city), "address": "x"}).replace(
        '"x"', '"\\ud83d\\udea7 \\u0686\\u0627\\u0644\\u0647"'
    )
    response = _post_raw(client, body)
    assert response.status_code == 201, response.content[:300]
    assert Report.objects.get(tracking_code=response.json()["code"]).address == "\U0001f6a7 چاله"
    half = json.dumps({**_good(bad_city), "address": "x"}).replace('"x"', '"\\ud83d only"')
    assert "surrogate" in _json_error(_post_raw(client, half), 400)["error"]


@PROPERTY_SETTINGS
@given(body=json_values | st.dictionaries(st.sampled_from(REPORT_FIELDS) | any_text, json_values))
def test_any_json_body(client, bad_city, english, body):
    """Anything as the body: a report only from an object naming a category; otherwise a 400 with a
    sentence (never a 201 for a list, a number or a string)."""

    def check(response, result):
        assert response.status_code in (201, 400), response.content[:300]
        if response.status_code == 201:
            assert isinstance(body, dict) and body.get("category") in ("pothole", "suggestion")
        else:
            assert isinstance(result["error"], str) and result["error"]

    _post_json(client, body, check)


def _query(params: dict[str, str]) -> str:
    # Lone surrogates go out as the bytes "surrogatepass" makes of them: not UTF-8, as a broken or
    # hostile client may send; the server must decode them somehow and still answer.
    return "&".join(
        f"{quote(k, safe='', errors='surrogatepass')}={quote(v, safe='', errors='surrogatepass')}"
        for k, v in params.items()
    )


def _near_valid(kind: str) -> st.SearchStrategy[str]:
    """Values shaped like the real thing, so the parsers get past their first check."""
    floats = st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.integers().map(str)
    moments = st.datetimes().map(lambda d: d.isoformat())
    offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
        lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
    )
    if kind == "date":
        return (
            st.tuples(moments, offsets).map("".join)
            | moments
            | st.dates().map(str)
            | st.tuples(st.integers(0, 99999), st.integers(-1, 13), st.integers(-1, 32)).map(
                lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
            )
        )
    if kind == "numbers":
        return st.lists(floats, min_size=1, max_size=5).map(",".join)
    if kind == "int":
        return st.integers(min_value=-(10**30), max_value=10**30).map(str)
    return st.lists(st.sampled_from(["open", "closed", "new", "pothole", "R1", "S11", "x"]), max_size=4).map(
        ",".join
    )


REPORT_FILTERS = {
    "bbox": "numbers",
    "status": "words",
    "category": "words",
    "district": "words",
    "kind": "words",
    "since": "date",
    "until": "date",
    "q": "words",
    "page": "int",
    "page_size": "int",
}


def _params(spec: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    return st.lists(
        st.sampled_from(sorted(spec)).flatmap(
            lambda name: st.tuples(st.just(name), any_text | _near_valid(spec[name]))
        ),
        min_size=1,
        max_size=4,
    ).map(dict)


def _names_a_parameter(text: str, params: dict[str, str]) -> bool:
    return any(name in text for name in params)


@PROPERTY_SETTINGS
@given(params=_params(REPORT_FILTERS))
def test_any_report_list_filters(client, bad_city, english, params):
    """A 200 is a page of at most page_size of the `count` matching reports; a 400 names one of the
    parameters sent."""
    response = client.get(f"{REPORTS}?{_query(params)}")
    body = _no_500(response, Report.objects.count())
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 200:
        assert body["type"] == "FeatureCollection"
        assert len(body["features"]) <= body["count"]
    else:
        assert _names_a_parameter(body["error"], params), (params, body)


OPEN311_FILTERS = {
    "start_date": "date",
    "end_date": "date",
    "status": "words",
    "service_code": "words",
    "bbox": "numbers",
    "lat": "numbers",
    "long": "numbers",
    "radius": "numbers",
    "page": "int",
    "page_size": "int",
}


def _open311_errors(response) -> list[str]:
    """The spec's error shape: a list of {code: the HTTP status, description: a sentence}, with our
    stable error_code beside them."""
    body = json.loads(response.content)
    assert isinstance(body, list) and body, body
    for error in body:
        assert set(error) == {"code", "description", "error_code"}, error
        assert error["error_code"] == {400: "invalid", 404: "not_found"}.get(response.status_code)
        assert error["code"] == response.status_code
        assert isinstance(error["description"], str) and error["description"]
    return [error["description"] for error in body]


@PROPERTY_SETTINGS
@given(params=_params(OPEN311_FILTERS))
def test_any_open311_request_filters(o311, bad_city, params):
    """A 200 is a list of requests; a refusal is a 400 in the spec's error shape naming one of the
    parameters sent."""
    response = o311.get(f"{OPEN311}requests.json?{_query(params)}")
    body = _no_500(response, Report.objects.count())
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 200:
        assert isinstance(body, list) and all("service_request_id" in item for item in body)
    else:
        descriptions = _open311_errors(response)
        assert any(_names_a_parameter(d, params) for d in descriptions), (params, descriptions)


OPEN311_POST_FIELDS = {
    "lat": "numbers",
    "long": "numbers",
    "service_code": "words",
    "attribute[note]": "words",
    "attribute[depth]": "numbers",
    "attribute[seen_at]": "date",
    "attribute[side]": "words",
    "attribute[hazards][]": "words",
    "attribute[nosuch]": "words",
    "description": "words",
    "email": "words",
    "phone": "numbers",
}


@pytest.fixture
def open311_key(bad_city) -> str:
    return api_key_create(name="fuzz")[1]


def _open311_post(o311: Client, fields: dict[str, str], check) -> None:
    """POST `fields` form-encoded to requests.json, `check(response)`, and roll back."""
    before = Report.objects.count()
    with transaction.atomic():
        response = o311.generic(
            "POST",
            f"{OPEN311}requests.json",
            _query(fields),
            content_type="application/x-www-form-urlencoded",
        )
        _no_500(response, before)
        check(response)
        transaction.set_rollback(True)


def _open311_parameter(name: str) -> str:
    # `attribute[hazards][]` is named `attribute[hazards]` in messages (either spelling is read).
    return name.removesuffix("[]")


def test_an_open311_description_that_is_not_utf8_is_read_as_replacement_characters(
    o311, bad_city, open311_key
):
    """A form whose description holds bytes that are not UTF-8 (a lone surrogate encoded anyway) is
    read as a browser reads such a page: each bad byte a U+FFFD, the request made."""
    lon, lat = bad_city.points.s11
    fields = {"api_key": open311_key, "service_code": "pothole", "lat": str(lat), "long": str(lon)}
    fields["description"] = "چاله \ud800"
    before = Report.objects.count()
    response = o311.generic(
        "POST", f"{OPEN311}requests.json", _query(fields), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200, response.content[:300]
    (created,) = json.loads(response.content)
    assert Report.objects.count() == before + 1
    assert (
        Report.objects.get(tracking_code=created["service_request_id"]).description
        == "چاله \ufffd\ufffd\ufffd"
    )


@PROPERTY_SETTINGS
@given(params=_params(OPEN311_POST_FIELDS))
def test_any_open311_post(o311, bad_city, open311_key, params):
    """A valid request with any of its parameters replaced: either a request is made (200, its id a
    report's tracking code, holding the description sent), or a 400/404 in the spec's error shape
    naming a parameter that was sent."""
    lon, lat = bad_city.points.s11
    fields = {"api_key": open311_key, "service_code": "pothole", "lat": str(lat), "long": str(lon), **params}

    def check(response):
        assert response.status_code in (200, 400, 404), response.content[:300]
        if response.status_code == 200:
            (created,) = json.loads(response.content)
            report = Report.objects.get(tracking_code=created["service_request_id"])
            # What the bytes sent say, read as UTF-8: a lone surrogate went out as bytes that are
            # not UTF-8 (see _query), and each of them is read as U+FFFD, as browsers read them.
            sent = fields.get("description", "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            assert ascii(report.description) == ascii(sent.strip())
            return
        descriptions = _open311_errors(response)
        sent = {_open311_parameter(name): v for name, v in params.items()}
        assert any(_names_a_parameter(d, sent) for d in descriptions), (params, descriptions)

    _open311_post(o311, fields, check)


# Text a citizen may type: any letter, digit, mark, punctuation or space of any script, Persian
# included, but no NUL (refused) and nothing XML cannot carry (kept, but dropped from XML answers).
_typed_text = st.text(
    st.characters(
        categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters="\x00", include_characters="\n\r\t"
    ),
    max_size=300,
)
_city_lon = st.floats(min_value=50.0005, max_value=50.0395)  # R1, S11 and R2, off their edges
_city_lat = st.floats(min_value=36.2605, max_value=36.2795)


@PROPERTY_SETTINGS
@given(
    description=_typed_text,
    lon=_city_lon,
    lat=_city_lat,
    depth=st.none() | st.integers(0, 500) | st.floats(0, 500, allow_nan=False),
    side=st.none() | st.sampled_from(["left", "right", "7"]),
    fmt=st.sampled_from(["json", "xml"]),
)
def test_open311_valid_request_is_accepted_and_round_trips(
    o311, bad_city, open311_key, description, lon, lat, depth, side, fmt
):
    """Any valid request is accepted (200 with a service_request_id) and reads back the same: the
    description as sent (stripped), the point to the 6 decimals the spec's answers give, the
    service code and the answers to the questions."""
    fields = {
        "api_key": open311_key,
        "service_code": "pothole",
        "lat": repr(lat),
        "long": repr(lon),
        "description": description,
    }
    if depth is not None:
        fields["attribute[depth]"] = str(depth)
    if side is not None:
        fields["attribute[side]"] = side

    def check(response):
        assert response.status_code == 200, response.content[:300]
        assert response["Content-Type"].startswith("application/json")
        (created,) = json.loads(response.content)
        code = created["service_request_id"]
        read = o311.get(f"{OPEN311}requests/{code}.{fmt}")
        assert read.status_code == 200
        if fmt == "json":
            (request,) = json.loads(read.content)
            text = request["description"]
        else:
            request = ElementTree.fromstring(read.content).find("request")
            request = {child.tag: child.text or "" for child in request}
            # An XML parser reads every line end as "\n" (XML 1.0, 2.11).
            text = request["description"]
            description_read = description.strip().replace("\r\n", "\n").replace("\r", "\n")
            assert text == description_read
        if fmt == "json":
            assert text == description.strip()
        assert request["service_request_id"] == code
        assert request["service_code"] == "pothole"
        assert float(request["lat"]) == pytest.approx(lat, abs=1e-6)
        assert float(request["long"]) == pytest.approx(lon, abs=1e-6)
        report = Report.objects.get(tracking_code=code)
        expected = {}
        if depth is not None:
            expected["depth"] = pytest.approx(float(depth))
        if side is not None:
            expected["side"] = side
        assert report.attributes == expected

    _open311_post(o311, fields, check)


# One parameter made invalid, each in its own way, and the parameter the answer must name.
_INVALID_OPEN311 = st.one_of(
    st.tuples(st.just("lat"), st.floats(min_value=90.0001, max_value=1e300).map(repr)),
    st.tuples(st.just("lat"), st.sampled_from(["north", "", "1,2", "nan", "inf", "۳۶٫۲٫۷"])),
    st.tuples(st.just("long"), st.floats(max_value=-180.0001, min_value=-1e300).map(repr)),
    st.tuples(st.just("long"), st.sampled_from(["east", "50..0", "--50", "infinity"])),
    st.tuples(st.just("phone"), st.text("0123456789", min_size=1, max_size=6)),
    st.tuples(st.just("phone"), st.text(st.characters(categories=["L"]), min_size=1, max_size=12)),
    st.tuples(st.just("email"), st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=20)),
    st.tuples(st.just("attribute[depth]"), st.text(st.characters(categories=["L"]), min_size=1, max_size=10)),
    st.tuples(st.just("attribute[side]"), st.text("abcdefghijklmnopqrstuvwxyz89", min_size=1, max_size=10)),
    st.tuples(st.just("attribute[nosuch]"), st.text("abc", min_size=1, max_size=5)),
    st.tuples(st.just("attribute[seen_at]"), st.sampled_from(["yesterday", "2026-13-01T00:00", "12:00"])),
    st.tuples(st.just("description"), st.integers(4001, 4100).map(lambda n: "x" * n)),
    st.tuples(st.just("description"), st.text(min_size=0, max_size=10).map(lambda t: t + "\x00" + t)),
)


@PROPERTY_SETTINGS
@given(invalid=_INVALID_OPEN311)
def test_open311_invalid_parameter_is_a_400_naming_it(o311, bad_city, open311_key, english, invalid):
    """A valid request with one parameter made invalid is a 400 in the spec's error shape whose
    description names that parameter, and nothing is written."""
    name, value = invalid
    lon, lat = bad_city.points.s11
    fields = {
        "api_key": open311_key,
        "service_code": "pothole",
        "lat": str(lat),
        "long": str(lon),
        "description": "چاله",
        name: value,
    }
    before = Report.objects.count()

    def check(response):
        assert response.status_code == 400, response.content[:300]
        descriptions = _open311_errors(response)
        # "lat must be between...", "attribute[depth]: ...": the sentence starts with its name.
        assert any(re.match(rf"{re.escape(name)}[ :]", d) for d in descriptions), (name, value, descriptions)
        assert Report.objects.count() == before

    _open311_post(o311, fields, check)


# --- Multipart text fields and page numbers -------------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param("[" * 5000, id="too-deep-to-parse"),
        pytest.param('{"note": 100000000000000000000000}', id="huge-int"),
        pytest.param('{"\\ud800": 1}', id="lone-surrogate"),
        pytest.param('{"note":' + "[" * 300 + "]" * 300 + "}", id="too-deep-for-orjson"),
    ],
)
def test_attributes_as_multipart_text(client, bad_city, english, attributes):
    # Multipart fields skip the JSON parser: `attributes` is JSON text the field reads itself.
    before = Report.objects.count()
    data = {**_good(bad_city), "attributes": attributes}
    error = _json_error(client.post(REPORTS, data, format="multipart"), 400)
    assert "attributes" in error["error"]
    assert Report.objects.count() == before


@pytest.mark.parametrize("value", ["²", "9" * 5000])
@pytest.mark.parametrize("name", ["page", "page_size"])
def test_page_numbers_python_cannot_read(client, city, name, value):
    _json_error(client.get(REPORTS, {name: value}), 400)

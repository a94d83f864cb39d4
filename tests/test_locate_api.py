"""`GET /api/locate/?lat=&lon=[&category=]`: which district, service area and unit take a point."""

from __future__ import annotations

import json
import math

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import metres_per_degree_lon


@pytest.fixture
def locate(city, api_client):
    url = reverse("api:locate")

    def get(lang=None, **params):
        headers = {"HTTP_ACCEPT_LANGUAGE": lang} if lang else {}
        response = api_client.get(url, params, **headers)
        assert response["Content-Type"].startswith("application/json")
        return response, json.loads(response.content)

    return get


def _bad(locate, field, lang=None, **params):
    response, body = locate(lang=lang, **params)
    assert response.status_code == 400, body
    assert isinstance(body["error"], str)
    assert field in body["error"]
    assert field in body["detail"]
    # A sentence for people, not the repr of Python objects.
    assert "ErrorDetail" not in body["error"]
    assert "[" not in body["error"]
    return body["error"]


def test_inside_a_district_with_a_category(locate):
    response, body = locate(lat="36.275", lon="50.015", category="pothole")
    assert response.status_code == 200
    assert body == {
        "lat": 36.275,
        "lon": 50.015,
        "district": {"code": "R1", "name_fa": "منطقه یک", "name_en": "Region One", "level": "region"},
        "service_area": {
            "code": "roads-r1",
            "unit_name_fa": "واحد roads-r1",
            "unit_name_en": "Roads unit R1",
        },
        "department": {"code": "roads", "name_fa": "معاونت حمل و نقل و ترافیک", "name_en": "Roads"},
        "unit": {"name_fa": "واحد roads-r1", "name_en": "Roads unit R1"},
        "rule": "covers",
        "distance_m": 0.0,
        "inside_jurisdiction": True,
    }


def test_inside_a_sub_district(locate):
    _, body = locate(lat="36.2675", lon="50.0075", category="pothole")
    assert body["district"]["code"] == "S11"
    assert body["district"]["level"] == "sub_district"
    assert body["service_area"]["code"] == "roads-r1"  # the unit of its region


def test_without_a_category_there_is_no_unit(locate):
    response, body = locate(lat="36.27", lon="50.03")
    assert response.status_code == 200
    assert body["district"]["code"] == "R2"
    assert (body["service_area"], body["department"], body["unit"]) == (None, None, None)
    assert body["rule"] == "covers"


def test_on_the_shared_edge(locate, city):
    r1, r2 = city.districts["R1"], city.districts["R2"]
    expected = min((r1, r2), key=lambda d: (d.area_m2, d.code))
    _, body = locate(lat="36.27", lon="50.02", category="pothole")
    assert body["rule"] == "covers"
    assert body["district"]["code"] == expected.code
    assert body["service_area"]["code"] == f"roads-{expected.code.lower()}"
    assert body["inside_jurisdiction"] is True


def test_outside_within_the_tolerance(locate):
    response, body = locate(lat="36.27", lon="50.0415", category="pothole")  # 0.0015 deg east of R2
    assert response.status_code == 200
    assert body["rule"] == "nearest"
    assert body["district"]["code"] == "R2"
    assert body["service_area"]["code"] == "roads-r2"
    assert body["distance_m"] == pytest.approx(0.0015 * metres_per_degree_lon(36.27), rel=0.01)
    assert body["inside_jurisdiction"] is False


def test_outside_beyond_the_tolerance_is_triage(locate):
    response, body = locate(lat="36.27", lon="50.1", category="pothole")
    assert response.status_code == 200
    assert body["rule"] == "triage"
    assert body["district"] is None
    assert body["service_area"] is None
    assert body["inside_jurisdiction"] is False


def test_swapped_lat_and_lon_is_refused_with_a_hint(locate):
    message = _bad(locate, "lat", lang="en", lat="50.015", lon="36.275")
    assert "swapped" in message
    assert "lat=36.275" in message and "lon=50.015" in message


def test_swapped_hint_in_persian_by_default(locate):
    # The city's language is the default: a client that asks for nothing gets Persian.
    message = _bad(locate, "lat", lat="50.015", lon="36.275")
    assert "جابه‌جا" in message
    assert "lat=36.275" in message and "lon=50.015" in message


def test_a_point_far_away_is_not_taken_for_swapped(locate):
    # Neither way round is in the city: a plain triage answer, not a 400.
    response, body = locate(lat="30", lon="60")
    assert response.status_code == 200
    assert body["rule"] == "triage"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": "50.01"}, "lat"),
        ({"lat": "36.27"}, "lon"),
        ({}, "lat"),
        ({"lat": "", "lon": "50.01"}, "lat"),
        ({"lat": "   ", "lon": "50.01"}, "lat"),
        ({"lat": "36.27", "lon": ""}, "lon"),
        ({"lat": "abc", "lon": "50.01"}, "lat"),
        ({"lat": "36.27", "lon": "50,01"}, "lon"),
        ({"lat": "36.27", "lon": "0x32"}, "lon"),
        ({"lat": "nan", "lon": "50.01"}, "lat"),
        ({"lat": "36.27", "lon": "NaN"}, "lon"),
        ({"lat": "inf", "lon": "50.01"}, "lat"),
        ({"lat": "36.27", "lon": "-Infinity"}, "lon"),
        ({"lat": "1e999", "lon": "50.01"}, "lat"),
        ({"lat": "90.0001", "lon": "50.01"}, "lat"),
        ({"lat": "-91", "lon": "50.01"}, "lat"),
        ({"lat": "36.27", "lon": "180.5"}, "lon"),
        ({"lat": "36.27", "lon": "-200"}, "lon"),
        ({"lat": "3" * 50, "lon": "50.01"}, "lat"),
    ],
)
@pytest.mark.parametrize("lang", ["fa", "en"])
def test_bad_coordinates_are_400_with_a_message_naming_the_field(locate, params, field, lang):
    _bad(locate, field, lang=lang, **params)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [("۳۶٫۲۷۵", "۵۰٫۰۱۵"), ("٣٦.٢٧٥", "٥٠.٠١٥"), (" 36.275 ", "50.015"), ("36.275", "۵۰.۰۱۵")],
)
def test_persian_and_arabic_digits_are_accepted(locate, lat, lon):
    response, body = locate(lat=lat, lon=lon, category="pothole")
    assert response.status_code == 200
    assert (body["lat"], body["lon"]) == (36.275, 50.015)
    assert body["district"]["code"] == "R1"


def test_unknown_category_is_400(locate):
    message = _bad(locate, "category", lang="en", lat="36.27", lon="50.01", category="no-such-thing")
    assert message == "category: Unknown category “no-such-thing”."
    message = _bad(locate, "category", lang="fa", lat="36.27", lon="50.01", category="no-such-thing")
    assert "no-such-thing" in message and "ناشناخته" in message


def test_inactive_category_is_unknown(locate, city):
    city.pothole.active = False
    city.pothole.save()
    _bad(locate, "category", lat="36.27", lon="50.01", category="pothole")


def test_category_with_a_nul_byte_is_400_not_500(locate):
    _bad(locate, "category", lat="36.27", lon="50.01", category="pot\x00hole")


def test_suggestion_category_routes_like_any_other(locate):
    _, body = locate(lat="36.27", lon="50.03", category="suggestion")
    assert body["service_area"]["code"] == "roads-r2"


# --- Property-based: whatever arrives, the answer is JSON, 200 or 400, never a server error ----------

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-200, max_value=200).map(str),
    st.floats(min_value=35.0, max_value=37.0).map(lambda v: f"{v:.6f}"),
    st.floats(min_value=49.0, max_value=51.0).map(lambda v: f"{v:.6f}"),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
_values = st.one_of(st.none(), st.text(max_size=60), _numbers)


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lat=_values, lon=_values)
def test_any_lat_lon_gives_json_200_or_400(city, api_client, lat, lon):
    params = {k: v for k, v in (("lat", lat), ("lon", lon)) if v is not None}
    response = api_client.get(reverse("api:locate"), params)
    assert response.status_code in (200, 400)
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    if response.status_code == 400:
        assert isinstance(body["error"], str) and body["error"]
        assert set(body["detail"]) <= {"lat", "lon"}
    else:
        assert -90 <= body["lat"] <= 90 and -180 <= body["lon"] <= 180
        assert math.isfinite(body["lat"]) and math.isfinite(body["lon"])
        assert body["rule"] in {"covers", "nearest", "triage"}


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(category=st.text(max_size=80))
def test_any_category_gives_json_200_or_400(city, api_client, category):
    response = api_client.get(reverse("api:locate"), {"lat": "36.275", "lon": "50.015", "category": category})
    assert response.status_code in (200, 400)
    body = json.loads(response.content)
    if response.status_code == 400:
        assert "category" in body["detail"]
    else:
        assert body["district"]["code"] == "R1"


# --- The district list shares the error shape -----------------------------------------------------------


def test_district_list_bad_level_is_a_readable_400(city, api_client):
    response = api_client.get(reverse("api:district-list"), {"level": "7"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["error"] == "level: level must be 0, 1 or 2."
    assert body["detail"] == {"level": ["level must be 0, 1 or 2."]}
    body = json.loads(api_client.get(reverse("api:district-list"), {"level": "x"}).content)
    assert body["error"].startswith("level: ") and "ErrorDetail" not in body["error"]


def test_district_list_by_level(city, api_client):
    response = api_client.get(reverse("api:district-list"), {"level": "2"})
    assert response.status_code == 200
    features = json.loads(response.content)["features"]
    assert [(f["id"], f["properties"]["parent"]) for f in features] == [("S11", "R1")]

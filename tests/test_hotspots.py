"""Hotspots (issues.oversight.hotspots and /api/hotspots/): on a city built to hold one place where
potholes recur among scattered ones, the place is found (where it is, how many, when, which
district, which reports) and nothing else is: not two categories at one corner, not a cluster older
than the window, not duplicates; distances in true metres; the API's filters and its 400s."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from issues.models import Report
from issues.oversight.hotspots import HotspotParameterError, hotspot_list
from tests.test_tiles import EMAIL, NAME, PHONE, report_row

URL = "/api/hotspots/"
# The recurring place, in R1 (not in S11): six potholes within about 20 m over two months.
PLACE = (50.015, 36.275)
# Metres per degree at the test city's latitude.
M_PER_DEG_LAT = 110_950.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(36.27))
# Three potholes and three suggestions at one corner of R2; an old cluster in R1; duplicates in R2.
CORNER = (50.03, 36.27)
OLD = (50.005, 36.262)
DUP = (50.035, 36.278)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * M_PER_DEG_LON, (a[1] - b[1]) * M_PER_DEG_LAT)


def offset(point: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    return point[0] + east_m / M_PER_DEG_LON, point[1] + north_m / M_PER_DEG_LAT


def make(city, rows_spec) -> list[Report]:
    """Reports from (point, days ago, status, category, district) tuples."""
    start = Report.objects.count()
    rows = []
    for i, (point, _ago, status, category, district) in enumerate(rows_spec):
        rows.append(
            report_row(
                city,
                start + i,
                point[0],
                point[1],
                status=status,
                category=category,
                district=city.districts[district],
            )
        )
    made = Report.objects.bulk_create(rows)
    now = timezone.now()
    for report, (_p, ago, *_rest) in zip(made, rows_spec, strict=True):
        Report.objects.filter(pk=report.pk).update(created_at=now - timedelta(days=ago))
    for report in made:
        report.refresh_from_db(fields=["created_at"])
    return made


@pytest.fixture
def city_reports(city):
    """The recurring place, noise, two categories at one corner of R2, an old cluster and duplicates."""
    rng = random.Random(7)
    spec = []
    statuses = ["closed", "received", "done", "closed", "in_progress", "forwarded"]
    for i in range(6):  # the place: within 20 m, 5 to 60 days ago, repaired and back again
        point = offset(PLACE, rng.uniform(-10, 10), rng.uniform(-10, 10))
        spec.append((point, 5 + i * 11, statuses[i], city.pothole, "R1"))
    noise: list[tuple[float, float]] = []
    while len(noise) < 40:  # scattered over the city, none within 150 m of another or of a cluster
        p = (rng.uniform(50.0, 50.04), rng.uniform(36.26, 36.28))
        if all(metres(p, q) > 150 for q in [*noise, PLACE, CORNER, OLD, DUP]):
            noise.append(p)
    for i, p in enumerate(noise):
        spec.append((p, i % 80, "received", city.pothole, "R2" if p[0] >= 50.02 else "R1"))
    corner = CORNER  # three potholes and three suggestions at one corner: no category recurs
    for i in range(6):
        spec.append(
            (offset(corner, i * 3, 0), 3 + i, "received", city.pothole if i % 2 else city.suggestion, "R2")
        )
    old = OLD  # six potholes in R1, five of them 200 days ago: outside the default window
    for i in range(6):
        spec.append((offset(old, 0, i * 4), 200 + i if i else 10, "closed", city.pothole, "R1"))
    dup = DUP  # one pothole and five duplicates of it
    for i in range(6):
        spec.append((offset(dup, i * 2, 0), 2 + i, "received" if i == 0 else "duplicate", city.pothole, "R2"))
    made = make(city, spec)
    return {"place": made[:6], "old": made[52:58]}


@pytest.fixture
def client() -> Client:
    return Client()


def test_the_recurring_place_is_found_and_nothing_else(city, city_reports):
    hotspots = hotspot_list()
    assert len(hotspots) == 1
    spot = hotspots[0]
    place = city_reports["place"]
    assert spot.category == "pothole" and spot.count == 6 and spot.district == "R1"
    assert spot.first_at == min(r.created_at for r in place)
    assert spot.last_at == max(r.created_at for r in place)
    newest = sorted(place, key=lambda r: r.created_at, reverse=True)
    assert spot.codes == tuple(r.tracking_code for r in newest[:5])
    east = (spot.lon - PLACE[0]) * M_PER_DEG_LON
    north = (spot.lat - PLACE[1]) * M_PER_DEG_LAT
    assert math.hypot(east, north) < 15  # its centre is at the place
    assert 0 < spot.spread_m < 16
    assert spot.generated == 0


def test_a_longer_window_finds_the_old_cluster(city, city_reports):
    year = hotspot_list(days=366)
    assert [(h.category, h.count, h.district) for h in year] == [("pothole", 6, "R1")] * 2
    old = [h for h in year if h.first_at < timezone.now() - timedelta(days=150)]
    assert len(old) == 1 and set(old[0].codes) <= {r.tracking_code for r in city_reports["old"]}
    # Ending the window before the place's reports leaves only the old one.
    assert [h.count for h in hotspot_list(until=timezone.now() - timedelta(days=100), days=200)] == [5]


def test_two_categories_at_one_corner_are_no_hotspot_but_each_counts_with_a_lower_bar(city, city_reports):
    corner = {(h.category, h.count) for h in hotspot_list(min_reports=3) if h.district == "R2"}
    assert corner == {("pothole", 3), ("suggestion", 3)}
    assert not [h for h in hotspot_list(min_reports=4) if h.district == "R2"]


def test_duplicates_are_left_out_unless_asked_for(city, city_reports):
    assert {h.district for h in hotspot_list()} == {"R1"}
    asked = hotspot_list(statuses=["received", "duplicate"], min_reports=5)
    assert [(h.district, h.count) for h in asked] == [("R2", 6)]


@pytest.mark.parametrize(("east", "north"), [(45, 0), (0, 45), (32, 32)])
def test_the_radius_is_in_metres_in_every_direction(city, east, north):
    a = (50.012, 36.263)
    make(
        city,
        [(a, 1, "received", city.pothole, "R1"), (offset(a, east, north), 1, "received", city.pothole, "R1")],
    )
    assert [h.count for h in hotspot_list(min_reports=2, radius_m=48)] == [2]
    assert hotspot_list(min_reports=2, radius_m=43) == []


def test_parameters_out_of_bounds_are_refused(city):
    for kwargs, field in [
        ({"min_reports": 1}, "min_reports"),
        ({"radius_m": 0.5}, "radius_m"),
        ({"radius_m": float("nan")}, "radius_m"),
        ({"days": 0}, "days"),
        ({"days": 367}, "days"),
        ({"since": timezone.now() - timedelta(days=400)}, "since"),
        ({"since": timezone.now(), "until": timezone.now() - timedelta(days=1)}, "since"),
    ]:
        with pytest.raises(HotspotParameterError) as caught:
            hotspot_list(**kwargs)
        assert caught.value.field == field, kwargs


# --- /api/hotspots/ ---------------------------------------------------------------------------------


def get(client: Client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    return response


def test_api_answers_geojson_points_with_public_properties(city, city_reports, client):
    response = get(client)
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["count"] == 1
    assert body["min_reports"] == 5 and body["radius_m"] == 50
    (feature,) = body["features"]
    assert feature["geometry"]["type"] == "Point"
    props = feature["properties"]
    assert set(props) == {
        "category",
        "count",
        "spread_m",
        "district",
        "first_at",
        "last_at",
        "codes",
        "generated",
    }
    assert props["category"] == "pothole" and props["count"] == 6 and props["district"] == "R1"
    assert len(props["codes"]) == 5
    for secret in (NAME, PHONE, EMAIL):
        assert secret.encode() not in response.content
    assert response["Cache-Control"].startswith("public") and response["ETag"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"district": "R1"}, [("R1", 6)]),
        ({"district": "R2"}, []),
        ({"district": "S11"}, []),
        ({"category": "suggestion"}, []),
        ({"category": "pothole", "status": "open"}, []),  # two of the six are closed: four open
        ({"category": "pothole", "status": "open", "min_reports": "4"}, [("R1", 4)]),
        ({"bbox": "50.01,36.27,50.02,36.28"}, [("R1", 6)]),
        ({"bbox": "50.02,36.26,50.04,36.28"}, []),
        ({"days": "30"}, []),  # the place's reports of the last 30 days: three
        ({"days": "30", "min_reports": "3", "district": "R1"}, [("R1", 3)]),
        (
            {
                "since": (timezone.localdate() - timedelta(days=30)).isoformat(),
                "min_reports": "3",
                "district": "R1",
            },
            [("R1", 3)],
        ),
        ({"days": "366", "radius_m": "30"}, [("R1", 6), ("R1", 6)]),
        ({"radius_m": "۵۰", "min_reports": "۶"}, [("R1", 6)]),
    ],
)
def test_api_filters(city, city_reports, client, params, expected):
    features = get(client, **params).json()["features"]
    assert [(f["properties"]["district"], f["properties"]["count"]) for f in features] == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_reports": "1"}, "min_reports"),
        ({"min_reports": "1001"}, "min_reports"),
        ({"min_reports": "five"}, "min_reports"),
        ({"min_reports": "2.5"}, "min_reports"),
        ({"radius_m": "0"}, "radius_m"),
        ({"radius_m": "5000"}, "radius_m"),
        ({"radius_m": "nan"}, "radius_m"),
        ({"radius_m": "inf"}, "radius_m"),
        ({"radius_m": "ten"}, "radius_m"),
        ({"days": "0"}, "days"),
        ({"days": "367"}, "days"),
        ({"days": "-3"}, "days"),
        ({"since": "2020-01-01"}, "since"),
        ({"since": "2026-13-01"}, "since"),
        ({"category": "nope"}, "category"),
        ({"district": "nope"}, "district"),
        ({"status": "nope"}, "status"),
        ({"bbox": "1,2,3"}, "bbox"),
    ],
)
def test_api_bad_values_are_a_clear_400(city, client, params, field):
    response = client.get(URL, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["detail"]) == [field] and body["error"].startswith(f"{field}: ")


def test_api_in_the_schema(db, client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/hotspots/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {
        "min_reports",
        "radius_m",
        "days",
        "bbox",
        "status",
        "category",
        "district",
        "since",
        "until",
    } <= names

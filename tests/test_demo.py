"""The Qazvin demo: its fixtures, and `demo_load` into an empty database (twice, and with --reset)."""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import GEOSGeometry, Point, Polygon
from django.core.management import call_command

from districts.models import BoundarySet, Department, District, DistrictLevel, DistrictPiece, ServiceArea
from districts.selectors import route_point
from geo.srid import GEO_SRID
from issues.management.commands.demo_load import DEMO_ACTOR, DEMO_SET_NAMES
from issues.models import Category, Report, ReportEvent

FIXTURES = Path(settings.BASE_DIR) / "fixtures"
CENTRE = Point(50.004, 36.269, srid=GEO_SRID)  # Sabzeh Meydan
# Squared degrees: at Qazvin's latitude 1e-10 deg² is about 1 m², far below any real overlap.
AREA_TOLERANCE = 1e-10


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    # The sample reports' work photos go to a temporary MEDIA_ROOT, not the project's var/.
    settings.MEDIA_ROOT = tmp_path / "media"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_load", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = [BoundarySet, District, DistrictPiece, Department, ServiceArea, Category, Report, ReportEvent]
    result = {m.__name__: m._default_manager.count() for m in models}
    result["User"] = get_user_model().objects.count()
    return result


def active_districts(level: int) -> dict[str, District]:
    return {
        d.code: d
        for d in District.objects.filter(boundary_set__active=True, level=level).select_related("parent")
    }


# --- the fixture files (no database) ---------------------------------------------------------------


def test_fixtures_are_consistent() -> None:
    county = fixture("qazvin_county.geojson")
    assert county["attribution"] == "© OpenStreetMap contributors, ODbL"
    assert [f["properties"]["code"] for f in county["features"]] == ["qazvin-county"]
    assert county["features"][0]["properties"]["osm_id"] == 6555151
    for name in ("qazvin_regions_illustrative.geojson", "qazvin_subdistricts_illustrative.geojson"):
        for feature in fixture(name)["features"]:
            assert feature["properties"]["illustrative"] is True
            assert "Illustrative" in feature["properties"]["note"]
    departments = {d["code"]: d for d in fixture("departments.json")["departments"]}
    for department in departments.values():
        defaults = [a for a in department["service_areas"] if a.get("is_default")]
        assert len(defaults) == 1, department["code"]
    categories = fixture("categories.json")["categories"]
    assert len(categories) >= 20
    assert {c["department"] for c in categories} <= set(departments)
    assert {c["kind"] for c in categories} == {
        "service_request",
        "complaint",
        "criticism",
        "suggestion",
        "dissatisfaction",
        "appreciation",
    }
    # Persian written with Persian letters, not their Arabic look-alikes (ي ك).
    text = "".join((FIXTURES / n).read_text("utf-8") for n in ("departments.json", "categories.json"))
    text += (FIXTURES / "sample_reports.json").read_text("utf-8")
    assert "\u064a" not in text and "\u0643" not in text


def test_demo_logins_prints_the_urls_and_the_login() -> None:
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    text = out.getvalue()
    for expected in ("http://127.0.0.1:8000/admin/", "/api/locate/?lat=36.269&lon=50.004", "/api/schema/"):
        assert expected in text
    assert "admin / open137-demo" in text


# --- demo_load ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_demo_loads_once_and_a_second_run_changes_nothing() -> None:
    first = load()
    assert "ILLUSTRATIVE" in first
    loaded = counts()
    assert BoundarySet.objects.filter(name__in=DEMO_SET_NAMES).count() == 3
    assert BoundarySet.objects.get(active=True).name == DEMO_SET_NAMES[-1]
    assert {level: len(active_districts(level)) for level in DistrictLevel.values} == {0: 1, 1: 3, 2: 8}
    assert loaded["Department"] == len(fixture("departments.json")["departments"])
    assert loaded["Category"] == len(fixture("categories.json")["categories"])
    assert loaded["Report"] == len(fixture("sample_reports.json")["reports"])
    assert get_user_model().objects.get(username="admin").check_password("open137-demo")
    categories_before = list(Category.objects.order_by("code").values())

    started = time.monotonic()
    second = load()
    assert time.monotonic() - started < 10
    assert "nothing changed" in second
    assert counts() == loaded
    assert list(Category.objects.order_by("code").values()) == categories_before


@pytest.mark.django_db(transaction=True)
def test_reset_reloads_without_duplicates() -> None:
    load()
    loaded = counts()
    out = load("--reset")
    assert "Reset: deleted" in out
    assert counts() == loaded
    assert BoundarySet.objects.filter(active=True).get().name == DEMO_SET_NAMES[-1]


@pytest.mark.django_db(transaction=True)
def test_regions_tile_and_sub_districts_nest() -> None:
    load()
    (jurisdiction,) = active_districts(DistrictLevel.JURISDICTION).values()
    regions = active_districts(DistrictLevel.REGION)
    subs = active_districts(DistrictLevel.SUB_DISTRICT)
    assert sorted(regions) == ["R1", "R2", "R3"]
    for a, b in combinations(regions.values(), 2):
        assert a.boundary.intersection(b.boundary).area < AREA_TOLERANCE, (a.code, b.code)
    for a, b in combinations(subs.values(), 2):
        assert a.boundary.intersection(b.boundary).area < AREA_TOLERANCE, (a.code, b.code)
    for code, region in regions.items():
        assert jurisdiction.boundary.covers(region.boundary), code
        children = [s for s in subs.values() if s.parent_id == region.pk]
        assert 2 <= len(children) <= 3, code
        union: GEOSGeometry = children[0].boundary
        for child in children[1:]:
            union = union.union(child.boundary)
        for child in children:
            assert region.boundary.covers(child.boundary), child.code
            assert child.code.startswith(f"{code}-")
        assert union.sym_difference(region.boundary).area < AREA_TOLERANCE, code
    # No gaps between regions: their union is one polygon without holes.
    whole = regions["R1"].boundary.union(regions["R2"].boundary).union(regions["R3"].boundary)
    assert isinstance(whole, Polygon) and whole.num_interior_rings == 0


@pytest.mark.django_db(transaction=True)
def test_every_category_has_a_unit_at_the_city_centre_and_snow_zones_cross_regions() -> None:
    load()
    for category in Category.objects.select_related("department"):
        routing = route_point(point=CENTRE, department_id=category.department_id)
        assert routing.rule == "covers", category.code
        assert routing.inside_jurisdiction is True
        # Sabzeh Meydan lies inside one sub-district, not on the corner the districts share.
        assert routing.district is not None and routing.district.code == "R1-2"
        area = routing.service_area
        assert area is not None, category.code
        assert area.department_code == category.department.code
        # A unit for the place, not the department's central fallback.
        assert not area.code.endswith("-central"), (category.code, area.code)

    snow = Department.objects.get(code="snow").pk
    # North of the snow line in two different regions: the same (north) crew; south: the other.
    north_west = route_point(point=Point(49.96, 36.29, srid=GEO_SRID), department_id=snow)
    north_east = route_point(point=Point(50.05, 36.29, srid=GEO_SRID), department_id=snow)
    south = route_point(point=Point(50.00, 36.245, srid=GEO_SRID), department_id=snow)
    assert north_west.district and north_east.district
    assert north_west.district.code.startswith("R1") and north_east.district.code.startswith("R2")
    assert north_west.service_area and north_east.service_area and south.service_area
    assert north_west.service_area.code == north_east.service_area.code == "snow-north"
    assert south.service_area.code == "snow-south"


@pytest.mark.django_db(transaction=True)
def test_sample_reports_are_routed_as_expected() -> None:
    load()
    specs = {r["key"]: r for r in fixture("sample_reports.json")["reports"]}
    keys = dict(
        ReportEvent.objects.filter(actor_label=DEMO_ACTOR, data__has_key="demo_key").values_list(
            "report_id", "data__demo_key"
        )
    )
    rules: Counter[str] = Counter()
    for report in Report.objects.select_related("district", "service_area", "category"):
        spec = specs[keys[report.pk]]
        rules[report.routing_rule] += 1
        assert report.routing_rule == spec["expect"], spec["key"]
        assert report.status == spec["status"], spec["key"]
        if spec["expect"] == "covers":
            assert report.district is not None and report.district.code == spec["sub_district"], spec["key"]
        if spec["expect"] == "nearest":
            assert 0 < report.routing_distance_m <= settings.OPEN137_ROUTING_TOLERANCE_M
        if spec["expect"] == "triage":
            assert report.district is None and report.service_area is None
            # Outside the city's districts, but inside the jurisdiction (Qazvin County).
            county = GEOSGeometry(
                json.dumps(fixture("qazvin_county.geojson")["features"][0]["geometry"]), srid=GEO_SRID
            )
            assert report.location is not None and county.covers(report.location)
        else:
            assert report.service_area is not None, spec["key"]
            assert report.service_area.department_id == report.category.department_id
    assert rules["triage"] == 1
    assert rules["nearest"] >= 2
    assert rules["covers"] > 0.75 * sum(rules.values())


@pytest.mark.django_db(transaction=True)
def test_the_printed_open311_key_files_a_report(client) -> None:
    from issues.management.commands.demo_load import DEMO_API_KEY

    call_command("demo_load", stdout=io.StringIO())
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    assert DEMO_API_KEY in out.getvalue() and "/report/" in out.getvalue()
    response = client.post(
        "/open311/v2/requests.json",
        {
            "api_key": DEMO_API_KEY,
            "service_code": "pothole",
            "lat": "36.269",
            "long": "50.004",
            "description": "چاله",
        },
    )
    assert response.status_code == 200, response.content
    code = response.json()[0]["service_request_id"]
    assert Report.objects.get(tracking_code=code).district is not None

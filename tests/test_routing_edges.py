# mypy: disable-error-code="union-attr"
"""Routing's edges, pinned with expected answers written out by hand (never recomputed the way the
code computes them): a point exactly at the tolerance, two districts at the same distance, an
enclave, the nearest rule between a sub-district and its region, and geometries handed to the
services without an SRID (or with another one)."""

from __future__ import annotations

import math

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.exceptions import ValidationError
from django.db import connection

from districts.models import DistrictLevel, RoutingRule
from districts.selectors import district_codes_for_points, district_for_point, district_nearest, route_point
from districts.services import boundary_set_activate, boundary_set_create, district_create
from geo.srid import GEO_SRID, METRIC_SRID
from tests.conftest import D, metres_per_degree_lon, pt, rect

pytestmark = pytest.mark.django_db


def _routed(lon: float, lat: float) -> tuple[str, str | None]:
    """(rule, district code) of route_point; the bulk lookup must agree on a covered point."""
    routing = route_point(point=pt(lon, lat), department_id=None)
    code = routing.district.code if routing.district else None
    if routing.rule == RoutingRule.COVERS:
        assert district_codes_for_points(lons=[lon], lats=[lat]) == [code]
    return str(routing.rule), code


def _geodesic_distance_m(lon: float, lat: float, code: str) -> float:
    """PostGIS's distance on the ellipsoid from the point to the district's boundary: the measuring
    instrument, not the code under test (which reads it from the subdivided pieces)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Distance(d.boundary::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)"
            "  FROM districts_district d JOIN districts_boundaryset s ON s.id = d.boundary_set_id"
            " WHERE s.active AND d.code = %s",
            [lon, lat, code],
        )
        return float(cursor.fetchone()[0])


# --- Exactly at the tolerance --------------------------------------------------------------------


def test_a_point_exactly_at_the_tolerance_goes_to_the_nearest(boundary_set_factory, settings):
    # A 0.01-degree square; the point 0.002 degrees of longitude east of its east edge (about 180 m).
    boundary_set_factory([D("A", rect(50.00, 36.26, 50.01, 36.27))])
    lon, lat = 50.012, 36.265
    distance = _geodesic_distance_m(lon, lat, "A")
    assert distance == pytest.approx(0.002 * metres_per_degree_lon(lat), rel=1e-3)

    # "Within the tolerance" includes the tolerance itself ...
    settings.OPEN137_ROUTING_TOLERANCE_M = distance
    routing = route_point(point=pt(lon, lat), department_id=None)
    assert (routing.rule, routing.district.code) == (RoutingRule.NEAREST, "A")
    assert routing.distance_m == pytest.approx(distance, abs=1e-6)
    # ... and the search box in degrees that comes before the exact distance does not cut it off.
    assert district_nearest(point=pt(lon, lat), within_m=distance).code == "A"

    # A hair less is beyond it: triage.
    settings.OPEN137_ROUTING_TOLERANCE_M = math.nextafter(distance, 0) - 1e-6
    assert _routed(lon, lat) == (RoutingRule.TRIAGE, None)
    settings.OPEN137_ROUTING_TOLERANCE_M = distance - 0.5
    assert _routed(lon, lat) == (RoutingRule.TRIAGE, None)


@pytest.mark.parametrize("bearing", ["north", "east", "south", "west", "north-east"])
def test_the_tolerance_holds_in_every_direction(boundary_set_factory, settings, bearing):
    # The degree box that pre-filters the nearest search is wider east-west than north-south (a
    # degree of longitude is shorter): a point at 199 m in any direction is found, one at 201 m not.
    boundary_set_factory([D("A", rect(50.00, 36.26, 50.01, 36.27))])
    settings.OPEN137_ROUTING_TOLERANCE_M = 200
    corner_or_edge = {
        "north": (50.005, 36.27, 0, 1),
        "east": (50.01, 36.265, 1, 0),
        "south": (50.005, 36.26, 0, -1),
        "west": (50.00, 36.265, -1, 0),
        "north-east": (50.01, 36.27, 1, 1),
    }[bearing]
    x0, y0, dx, dy = corner_or_edge
    norm = math.hypot(dx, dy)

    def at(metres: float) -> tuple[float, float]:
        # Degrees for `metres` along the bearing, refined on PostGIS's own distance.
        lon, lat = x0, y0
        for _step in range(6):
            lon_try = x0 + dx / norm * metres / metres_per_degree_lon(y0)
            lat_try = y0 + dy / norm * metres / 110_950.0
            measured = _geodesic_distance_m(lon_try, lat_try, "A")
            metres *= (metres / measured) if measured else 1
            lon, lat = lon_try, lat_try
        return lon, lat

    assert _routed(*at(199.0)) == (RoutingRule.NEAREST, "A")
    assert _routed(*at(201.0)) == (RoutingRule.TRIAGE, None)


# --- Two districts at the same distance ----------------------------------------------------------


@pytest.mark.parametrize("order", ["west first", "east first"])
def test_two_districts_at_the_same_distance_go_to_the_lower_code(boundary_set_factory, order):
    # Equal squares with a 0.002-degree gap; the point in the middle of the gap, on the same
    # latitude: the same distance to both (by symmetry), the same area, so the lower code, "E".
    west = D("W", rect(50.00, 36.26, 50.01, 36.27))
    east = D("E", rect(50.012, 36.26, 50.022, 36.27))
    built = boundary_set_factory([west, east] if order == "west first" else [east, west])
    assert built["W"].area_m2 == built["E"].area_m2
    for lat in (36.261, 36.265, 36.269):
        assert _routed(50.011, lat) == (RoutingRule.NEAREST, "E")


def test_two_districts_at_the_same_distance_go_to_the_smaller(boundary_set_factory):
    # Now the western square is the smaller (half as tall) and has the higher code: area decides.
    boundary_set_factory(
        [D("W", rect(50.00, 36.26, 50.01, 36.265)), D("E", rect(50.012, 36.26, 50.022, 36.27))]
    )
    assert _routed(50.011, 36.2625) == (RoutingRule.NEAREST, "W")


# --- An enclave ----------------------------------------------------------------------------------


@pytest.fixture
def enclave(boundary_set_factory):
    # "O" is a square with a hole; "I", a district of the same level, fills the hole exactly (a
    # village inside a town's limits). Their shared ring is the hole's edge.
    hole = ((50.005, 36.265), (50.015, 36.265), (50.015, 36.275), (50.005, 36.275), (50.005, 36.265))
    outer = ((50.00, 36.26), (50.02, 36.26), (50.02, 36.28), (50.00, 36.28), (50.00, 36.26))
    return boundary_set_factory(
        [D("O", Polygon(outer, hole, srid=GEO_SRID)), D("I", Polygon(hole, srid=GEO_SRID))]
    )


def test_an_enclave_takes_its_inside_and_its_ring(enclave):
    assert enclave["I"].area_m2 < enclave["O"].area_m2
    assert _routed(50.01, 36.27) == (RoutingRule.COVERS, "I")  # the enclave's middle
    assert _routed(50.0025, 36.2625) == (RoutingRule.COVERS, "O")  # the town around it
    # On the shared ring both cover the point: the smaller, the enclave, takes it.
    for lon, lat in ((50.005, 36.27), (50.015, 36.27), (50.01, 36.265), (50.005, 36.265)):
        assert _routed(lon, lat) == (RoutingRule.COVERS, "I"), (lon, lat)


def test_outside_an_enclaves_town_the_town_is_nearest(enclave):
    # 0.001 degrees west of the town: the enclave is over 500 m away.
    assert _routed(49.999, 36.27) == (RoutingRule.NEAREST, "O")


# --- The nearest rule between a sub-district and its region ---------------------------------------


@pytest.fixture
def region_with_edge_sub_district(boundary_set_factory):
    # The sub-district "S" lies against the region "R"'s east edge: east of that stretch of edge,
    # both are at the same distance.
    return boundary_set_factory(
        [
            D("R", rect(50.00, 36.26, 50.02, 36.28)),
            D("S", rect(50.015, 36.265, 50.02, 36.27), level=DistrictLevel.SUB_DISTRICT, parent="R"),
        ]
    )


def test_nearest_between_a_sub_district_and_its_region_is_the_sub_district(region_with_edge_sub_district):
    # Inside, the deeper level wins (covers); outside, at the same distance, it wins too, as it
    # would one step to the west.
    assert _routed(50.0199, 36.2675) == (RoutingRule.COVERS, "S")
    assert _routed(50.02, 36.2675) == (RoutingRule.COVERS, "S")  # on the shared edge
    for lat in (36.2651, 36.2675, 36.2699):
        assert _routed(50.021, lat) == (RoutingRule.NEAREST, "S"), lat


def test_nearest_beside_the_sub_district_is_the_region(region_with_edge_sub_district):
    # East of the region but north of the sub-district: the region's edge is nearer.
    assert _routed(50.021, 36.275) == (RoutingRule.NEAREST, "R")
    # Diagonally off the sub-district's north-east corner, the region's edge (straight west) is
    # nearer than the corner.
    assert _routed(50.021, 36.2705) == (RoutingRule.NEAREST, "R")


# --- Geometries without an SRID, or with another one ----------------------------------------------


def test_a_boundary_without_srid_is_taken_as_wgs84(db):
    boundary_set = boundary_set_create(name="no srid")
    bare = Polygon(((50.00, 36.26), (50.01, 36.26), (50.01, 36.27), (50.00, 36.27), (50.00, 36.26)))
    assert bare.srid is None
    district = district_create(boundary_set=boundary_set, code="A", name_fa="الف", boundary=bare)
    boundary_set_activate(boundary_set=boundary_set)
    assert district.boundary.srid == GEO_SRID
    assert district.boundary.extent == pytest.approx((50.00, 36.26, 50.01, 36.27))
    assert _routed(50.005, 36.265) == (RoutingRule.COVERS, "A")


def test_a_boundary_in_another_srid_is_reprojected(db):
    boundary_set = boundary_set_create(name="utm")
    wgs84 = rect(50.00, 36.26, 50.01, 36.27)
    metric = wgs84.transform(METRIC_SRID, clone=True)
    district = district_create(boundary_set=boundary_set, code="A", name_fa="الف", boundary=metric)
    boundary_set_activate(boundary_set=boundary_set)
    assert district.boundary.srid == GEO_SRID
    assert district.boundary.extent == pytest.approx((50.00, 36.26, 50.01, 36.27), abs=1e-7)
    assert _routed(50.005, 36.265) == (RoutingRule.COVERS, "A")


def test_a_boundary_without_srid_in_metres_is_refused_not_a_database_error(db):
    # UTM coordinates with the SRID lost on the way: as degrees they are nowhere on Earth.
    boundary_set = boundary_set_create(name="lost srid")
    metric = rect(50.00, 36.26, 50.01, 36.27).transform(METRIC_SRID, clone=True)
    bare = Polygon(metric[0].coords)
    assert bare.srid is None and bare.extent[0] > 180
    with pytest.raises(ValidationError, match="degrees|longitude|latitude|WGS"):
        district_create(boundary_set=boundary_set, code="A", name_fa="الف", boundary=MultiPolygon(bare))


def test_a_point_without_srid_is_routed_as_wgs84(boundary_set_factory):
    boundary_set_factory([D("A", rect(50.00, 36.26, 50.01, 36.27))])
    routing = route_point(point=Point(50.005, 36.265), department_id=None)
    assert (routing.rule, routing.district.code) == (RoutingRule.COVERS, "A")
    assert district_for_point(point=Point(50.005, 36.265)).code == "A"


def test_a_point_in_another_srid_is_routed_where_it_is(boundary_set_factory):
    # The same place in UTM 39N metres: routed there, not read as degrees.
    boundary_set_factory([D("A", rect(50.00, 36.26, 50.01, 36.27))])
    metric = pt(50.005, 36.265).transform(METRIC_SRID, clone=True)
    routing = route_point(point=metric, department_id=None)
    assert (routing.rule, routing.district.code) == (RoutingRule.COVERS, "A")
    assert district_for_point(point=metric).code == "A"

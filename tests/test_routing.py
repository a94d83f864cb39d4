# mypy: disable-error-code="union-attr"
"""Routing a point to a district, a service area and a unit, on hand-made squares and on real OSM
county boundaries (Qazvin and Tehran provinces)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.db import connection
from shapely.geometry import shape

from districts.models import BoundarySet, DistrictLevel, DistrictPiece, RoutingRule
from districts.selectors import (
    district_codes_for_points,
    district_for_point,
    district_nearest,
    jurisdiction_covers,
    route_point,
)
from districts.services import boundary_set_activate, district_create
from tests.conftest import D, metres_per_degree_lat, metres_per_degree_lon, multi, pt, rect

# --- Covers, edges and vertices --------------------------------------------------------------------


def code_at(lon: float, lat: float) -> str | None:
    """The covering district's code, by the single lookup; the bulk lookup must say the same."""
    match = district_for_point(point=pt(lon, lat))
    code = match.code if match else None
    assert district_codes_for_points(lons=[lon], lats=[lat]) == [code], "bulk and single lookups disagree"
    return code


def test_point_inside_one_district(boundary_set_factory):
    boundary_set_factory([D("A", rect(50.00, 36.26, 50.01, 36.27)), D("B", rect(50.01, 36.26, 50.02, 36.27))])
    assert code_at(50.005, 36.265) == "A"
    assert code_at(50.015, 36.265) == "B"
    routing = route_point(point=pt(50.005, 36.265), department_id=None)
    assert (routing.district.code, routing.rule, routing.distance_m) == ("A", RoutingRule.COVERS, 0.0)


@pytest.mark.parametrize("order", ["small first", "big first"])
def test_shared_edge_goes_to_the_smaller_district_whatever_the_creation_order(boundary_set_factory, order):
    # "A" is the larger; "Z" is smaller (and has the higher code): area decides, not the code.
    big = D("A", rect(50.00, 36.26, 50.02, 36.28))
    small = D("Z", rect(50.02, 36.26, 50.03, 36.27))
    boundary_set_factory([small, big] if order == "small first" else [big, small])
    on_edge = pt(50.02, 36.265)
    assert district_for_point(point=on_edge).code == "Z"
    assert district_codes_for_points(lons=[on_edge.x], lats=[on_edge.y]) == ["Z"]


@pytest.mark.parametrize("order", ["west first", "east first"])
def test_shared_edge_between_equal_squares_is_deterministic(boundary_set_factory, order):
    west = D("W", rect(50.00, 36.26, 50.01, 36.27))
    east = D("E", rect(50.01, 36.26, 50.02, 36.27))
    built = boundary_set_factory([west, east] if order == "west first" else [east, west])
    # The same size in degrees in the same band of latitude: the same area to the square metre, so
    # the lower code takes the shared edge, "E" (the east square) whichever was created first.
    assert built["W"].area_m2 == built["E"].area_m2 > 0
    for lat in (36.261, 36.265, 36.2699):
        assert code_at(50.01, lat) == "E"
    assert district_codes_for_points(lons=[50.01], lats=[36.265]) == ["E"]


@pytest.mark.parametrize("order", ["K first", "M first"])
def test_identical_districts_go_to_the_lower_code(boundary_set_factory, order):
    same = rect(50.00, 36.26, 50.01, 36.27)
    specs = [D("K", same), D("M", same)]
    boundary_set_factory(specs if order == "K first" else specs[::-1])
    assert code_at(50.005, 36.265) == "K"
    assert code_at(50.01, 36.265) == "K"


def test_point_on_a_vertex(boundary_set_factory):
    # Four rectangles meet at (50.02, 36.27); "B" is the smallest of them.
    boundary_set_factory(
        [
            D("A", rect(50.00, 36.26, 50.02, 36.27)),
            D("B", rect(50.02, 36.26, 50.03, 36.27)),
            D("C", rect(50.00, 36.27, 50.02, 36.29)),
            D("D", rect(50.02, 36.27, 50.04, 36.29)),
        ]
    )
    assert code_at(50.02, 36.27) == "B"
    # An outer corner belongs to its only district.
    assert code_at(50.00, 36.26) == "A"
    assert code_at(50.04, 36.29) == "D"


def test_deeper_level_wins_on_an_edge_and_inside(boundary_set_factory):
    boundary_set_factory(
        [
            D("R", rect(50.00, 36.26, 50.02, 36.28)),
            D("S", rect(50.005, 36.265, 50.01, 36.27), level=DistrictLevel.SUB_DISTRICT, parent="R"),
        ]
    )
    assert code_at(50.0075, 36.2675) == "S"
    assert code_at(50.005, 36.2675) == "S"  # S's west edge, inside R
    assert code_at(50.015, 36.275) == "R"


def test_deeper_level_wins_even_when_it_is_larger(boundary_set_factory):
    boundary_set_factory(
        [
            D("P", rect(50.00, 36.26, 50.01, 36.27)),
            D("Q", rect(50.05, 36.26, 50.06, 36.27)),
            # A (badly drawn) sub-district of Q that is far larger and overlaps P.
            D("S", rect(50.00, 36.26, 50.04, 36.30), level=DistrictLevel.SUB_DISTRICT, parent="Q"),
        ]
    )
    assert code_at(50.005, 36.265) == "S"


@pytest.mark.parametrize("order", ["small first", "big first"])
def test_overlap_goes_to_the_smaller_district(boundary_set_factory, order):
    big = D("A", rect(50.00, 36.26, 50.02, 36.28))
    small = D("Z", rect(50.01, 36.27, 50.025, 36.285))
    boundary_set_factory([small, big] if order == "small first" else [big, small])
    assert code_at(50.015, 36.275) == "Z"
    assert code_at(50.005, 36.265) == "A"
    assert code_at(50.022, 36.282) == "Z"


# --- Subdivision ----------------------------------------------------------------------------------


def _internal_piece_points(district_id: int) -> list[tuple[float, float]]:
    """Piece vertices and internal-edge midpoints that lie strictly inside the district: points on the
    edges that ST_Subdivide added, where `contains` on the pieces would find nothing."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH d AS (SELECT boundary FROM districts_district WHERE id = %(id)s),
                 p AS (SELECT geom FROM districts_districtpiece WHERE district_id = %(id)s),
                 vertices AS (SELECT (ST_DumpPoints(p.geom)).geom AS g FROM p),
                 edges AS (SELECT (ST_Dump(ST_Difference(ST_Boundary(p.geom), ST_Boundary(d.boundary)))).geom AS g
                             FROM p, d),
                 midpoints AS (SELECT ST_LineInterpolatePoint(g, 0.5) AS g FROM edges
                                WHERE ST_GeometryType(g) = 'ST_LineString')
            SELECT DISTINCT ST_X(c.g), ST_Y(c.g)
              FROM (SELECT g FROM vertices UNION ALL SELECT g FROM midpoints) c, d
             WHERE ST_Contains(d.boundary, c.g)
               AND NOT EXISTS (SELECT 1 FROM p WHERE ST_Contains(p.geom, c.g))""",
            {"id": district_id},
        )
        return cursor.fetchall()


def test_point_on_an_internal_subdivision_edge_still_matches(settings, boundary_set_factory):
    settings.OPEN137_SUBDIVIDE_MAX_VERTICES = 8
    circle = pt(50.0, 36.27).buffer(0.01, quadsegs=32)  # 129 vertices
    assert circle.num_points > 100
    built = boundary_set_factory([D("C", circle)])
    district = built["C"]
    assert DistrictPiece.objects.filter(district=district).count() > 1
    points = _internal_piece_points(district.pk)
    # The subdivision really made internal edges and corners, and none of these points is inside
    # a piece (contains would drop them all).
    assert len(points) >= 5
    for lon, lat in points:
        assert district_for_point(point=pt(lon, lat)) is not None, (lon, lat)
        assert code_at(lon, lat) == "C"
        assert route_point(point=pt(lon, lat), department_id=None).rule == RoutingRule.COVERS
    lons, lats = zip(*points, strict=True)
    assert district_codes_for_points(lons=lons, lats=lats) == ["C"] * len(points)


def test_subdivided_pieces_cover_exactly_the_boundary(settings, boundary_set_factory):
    settings.OPEN137_SUBDIVIDE_MAX_VERTICES = 8
    built = boundary_set_factory([D("C", pt(50.0, 36.27).buffer(0.01, quadsegs=32))])
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT max(ST_NPoints(p.geom)), ST_Area(ST_SymDifference(ST_Union(p.geom), d.boundary))
                 FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
                WHERE d.id = %s GROUP BY d.boundary""",
            [built["C"].pk],
        )
        max_points, sym_difference = cursor.fetchone()
    assert max_points <= 8 + 1  # the closing point repeats the first
    assert sym_difference < 1e-12


# --- Holes and islands ----------------------------------------------------------------------------


@pytest.fixture
def holed(boundary_set_factory):
    outer = rect(50.00, 36.26, 50.03, 36.29)
    hole = rect(50.01, 36.27, 50.02, 36.28)
    polygon = Polygon(outer.coords[0], hole.coords[0], srid=4326)
    assert len(polygon) == 2  # an outer ring and one hole
    return boundary_set_factory([D("H", polygon)])


def test_point_in_a_hole_far_from_its_edge_is_triage(holed):
    centre = pt(50.015, 36.275)  # 0.005 degrees (about 450 m) from the hole's edge
    assert district_for_point(point=centre) is None
    routing = route_point(point=centre, department_id=None)
    assert routing.rule == RoutingRule.TRIAGE
    assert routing.district is None
    assert routing.inside_jurisdiction is False


def test_point_in_a_hole_near_its_edge_goes_to_the_nearest(holed):
    near = pt(50.0105, 36.275)  # 0.0005 degrees of longitude from the hole's west edge
    assert district_for_point(point=near) is None
    routing = route_point(point=near, department_id=None)
    assert routing.rule == RoutingRule.NEAREST
    assert routing.district.code == "H"
    assert routing.distance_m == pytest.approx(0.0005 * metres_per_degree_lon(36.275), rel=0.01)


def test_point_on_the_edge_of_a_hole_is_covered(holed):
    assert code_at(50.01, 36.275) == "H"
    assert code_at(50.015, 36.28) == "H"


def test_point_on_an_island_of_a_multipolygon(boundary_set_factory):
    boundary_set_factory([D("I", multi(rect(50.00, 36.26, 50.01, 36.27), rect(50.05, 36.26, 50.06, 36.27)))])
    assert code_at(50.055, 36.265) == "I"
    assert code_at(50.005, 36.265) == "I"
    assert code_at(50.06, 36.27) == "I"  # the island's corner
    between = route_point(point=pt(50.03, 36.265), department_id=None)
    assert (between.rule, between.district) == (RoutingRule.TRIAGE, None)


# --- Outside every district: nearest within the tolerance, else triage ------------------------------


@pytest.fixture
def one_square(boundary_set_factory):
    return boundary_set_factory([D("A", rect(50.00, 36.26, 50.01, 36.27))])


def test_outside_beyond_the_tolerance_is_triage(one_square, settings):
    assert settings.OPEN137_ROUTING_TOLERANCE_M == 200
    for point in (pt(50.005, 36.2719), pt(50.05, 36.265), pt(60.0, 30.0)):
        routing = route_point(point=point, department_id=None)
        assert routing.rule == RoutingRule.TRIAGE
        assert routing.district is None
        assert routing.service_area is None
        assert routing.inside_jurisdiction is False


@pytest.mark.parametrize(
    ("offset_lon", "offset_lat"),
    [(0.0, 0.001), (0.0, 0.0017), (0.001, 0.0), (0.002, 0.0)],
    ids=["111m north", "189m north", "90m east", "180m east"],
)
def test_outside_within_the_tolerance_goes_to_the_nearest_with_metres(one_square, offset_lon, offset_lat):
    point = pt(50.01 + offset_lon, 36.265) if offset_lon else pt(50.005, 36.27 + offset_lat)
    expected_m = offset_lon * metres_per_degree_lon(36.265) + offset_lat * metres_per_degree_lat(36.27)
    assert 80 < expected_m < 200
    assert district_for_point(point=point) is None
    routing = route_point(point=point, department_id=None)
    assert routing.rule == RoutingRule.NEAREST
    assert routing.district.code == "A"
    assert routing.distance_m == pytest.approx(expected_m, rel=0.01)
    assert routing.inside_jurisdiction is False


def test_the_tolerance_comes_from_settings(one_square, settings):
    point = pt(50.005, 36.2727)  # about 300 m north
    assert route_point(point=point, department_id=None).rule == RoutingRule.TRIAGE
    settings.OPEN137_ROUTING_TOLERANCE_M = 350
    routing = route_point(point=point, department_id=None)
    assert (routing.rule, routing.district.code) == (RoutingRule.NEAREST, "A")
    assert routing.distance_m == pytest.approx(0.0027 * metres_per_degree_lat(36.27), rel=0.01)
    settings.OPEN137_ROUTING_TOLERANCE_M = 0
    assert route_point(point=pt(50.005, 36.2701), department_id=None).rule == RoutingRule.TRIAGE


def test_nearest_picks_the_closer_of_two_districts(boundary_set_factory):
    # A gap of 0.002 degrees of longitude (about 180 m) between A and B.
    boundary_set_factory(
        [D("A", rect(50.00, 36.26, 50.01, 36.27)), D("B", rect(50.012, 36.26, 50.02, 36.27))]
    )
    assert district_nearest(point=pt(50.0105, 36.265), within_m=200).code == "A"
    assert district_nearest(point=pt(50.0115, 36.265), within_m=200).code == "B"
    assert district_nearest(point=pt(50.0115, 36.265), within_m=10) is None


# --- Boundary sets --------------------------------------------------------------------------------


def test_inactive_boundary_sets_are_ignored(boundary_set_factory):
    old = boundary_set_factory([D("OLD", rect(50.00, 36.26, 50.01, 36.27))])
    new = boundary_set_factory([D("NEW", rect(50.10, 36.26, 50.11, 36.27))], activate=False)
    assert district_for_point(point=pt(50.105, 36.265)) is None
    assert district_for_point(point=pt(50.005, 36.265)).code == "OLD"
    assert district_codes_for_points(lons=[50.105, 50.005], lats=[36.265, 36.265]) == [None, "OLD"]

    boundary_set_activate(boundary_set=new.boundary_set)
    assert list(BoundarySet.objects.filter(active=True)) == [new.boundary_set]
    old.boundary_set.refresh_from_db()
    assert not old.boundary_set.active
    assert district_for_point(point=pt(50.105, 36.265)).code == "NEW"
    assert route_point(point=pt(50.005, 36.265), department_id=None).rule == RoutingRule.TRIAGE
    assert district_codes_for_points(lons=[50.105, 50.005], lats=[36.265, 36.265]) == ["NEW", None]


def test_no_active_boundary_set_is_triage(boundary_set_factory):
    boundary_set_factory([D("A", rect(50.00, 36.26, 50.01, 36.27))], activate=False)
    routing = route_point(point=pt(50.005, 36.265), department_id=None)
    assert (routing.rule, routing.district, routing.inside_jurisdiction) == (RoutingRule.TRIAGE, None, False)


# --- Service areas ---------------------------------------------------------------------------------


@pytest.fixture
def snow(city, department_factory, service_area_factory):
    """A snow department with a unit following R1, a zone of its own across the north of R1 and R2,
    and a central unit."""
    department = department_factory("snow", "برف‌روبی", "Snow clearing")
    return {
        "department": department,
        "r1": service_area_factory(department, "snow-r1", district_code="R1"),
        "zone": service_area_factory(
            department, "snow-zone-north", boundary=rect(50.00, 36.275, 50.04, 36.28)
        ),
        "hq": service_area_factory(department, "snow-hq", is_default=True),
    }


def _area(point, department):
    routing = route_point(point=pt(*point), department_id=department.pk)
    return routing.service_area.code if routing.service_area else None


def test_own_polygon_beats_district_following(city, snow):
    department = snow["department"]
    assert _area((50.01, 36.2775), department) == "snow-zone-north"  # in R1 and in the zone
    assert _area((50.03, 36.2775), department) == "snow-zone-north"  # in R2 and in the zone
    assert _area((50.01, 36.262), department) == "snow-r1"  # in R1, south of the zone
    assert _area((50.03, 36.262), department) == "snow-hq"  # in R2: no unit follows R2
    assert _area((50.01, 36.275), department) == "snow-zone-north"  # on the zone's edge


def test_own_polygon_of_another_department_is_ignored(city, snow):
    assert _area((50.01, 36.2775), city.roads) == "roads-r1"
    assert _area((50.03, 36.2775), city.roads) == "roads-r2"


def test_service_area_follows_the_district_or_its_nearest_ancestor(city, service_area_factory):
    s11 = city.points.s11
    assert _area(s11, city.roads) == "roads-r1"  # S11 has no unit of its own: its region's
    assert route_point(point=pt(*s11), department_id=city.roads.pk).district.code == "S11"
    service_area_factory(city.roads, "roads-s11", district_code="S11")
    assert _area(s11, city.roads) == "roads-s11"  # the deepest one wins
    assert _area(city.points.r1, city.roads) == "roads-r1"


def test_inactive_service_area_falls_back_to_the_central_unit(city):
    city.areas.r1.active = False
    city.areas.r1.save()
    assert _area(city.points.r1, city.roads) == "roads-central"
    assert _area(city.points.r2, city.roads) == "roads-r2"


def test_nearest_district_also_picks_its_service_area(city):
    routing = route_point(point=pt(50.045, 36.27), department_id=city.roads.pk)  # ~450 m east of R2
    assert routing.rule == RoutingRule.TRIAGE
    routing = route_point(point=pt(50.041, 36.27), department_id=city.roads.pk)  # ~90 m east of R2
    assert (routing.rule, routing.district.code, routing.service_area.code) == (
        RoutingRule.NEAREST,
        "R2",
        "roads-r2",
    )


def test_no_location_goes_to_the_department_default_unit(city, department_factory):
    routing = route_point(point=None, department_id=city.roads.pk)
    assert routing.rule == RoutingRule.CATEGORY
    assert routing.service_area.code == "roads-central"
    assert routing.service_area.department_code == "roads"
    assert routing.district is None
    assert routing.inside_jurisdiction is None
    # A department without a central unit, or no department at all: triage, never dropped.
    bare = department_factory("parks")
    assert route_point(point=None, department_id=bare.pk).rule == RoutingRule.TRIAGE
    assert route_point(point=None, department_id=None).rule == RoutingRule.TRIAGE


# --- Jurisdiction ------------------------------------------------------------------------------------


def test_jurisdiction_is_the_union_of_districts_without_an_own_polygon(city):
    assert jurisdiction_covers(point=pt(*city.points.r1)) is True
    assert jurisdiction_covers(point=pt(*city.points.edge_r1_r2)) is True
    assert jurisdiction_covers(point=pt(50.041, 36.27)) is False
    routing = route_point(point=pt(50.041, 36.27), department_id=None)
    assert (routing.rule, routing.inside_jurisdiction) == (RoutingRule.NEAREST, False)


def test_jurisdiction_is_its_own_level_0_polygon_when_loaded(boundary_set_factory):
    boundary_set_factory(
        [
            D("J", rect(49.99, 36.25, 50.05, 36.30), level=DistrictLevel.JURISDICTION),
            # A region that pokes out of the jurisdiction to the east.
            D("R", rect(50.00, 36.26, 50.07, 36.28), parent="J"),
        ]
    )
    inside_gap = pt(49.995, 36.295)  # in the jurisdiction, far from R
    assert jurisdiction_covers(point=inside_gap) is True
    assert district_for_point(point=inside_gap) is None  # the jurisdiction is never a district
    routing = route_point(point=inside_gap, department_id=None)
    assert (routing.rule, routing.district, routing.inside_jurisdiction) == (RoutingRule.TRIAGE, None, True)
    poking_out = route_point(point=pt(50.06, 36.27), department_id=None)
    assert (poking_out.rule, poking_out.district.code, poking_out.inside_jurisdiction) == (
        RoutingRule.COVERS,
        "R",
        False,
    )
    inside = route_point(point=pt(50.01, 36.27), department_id=None)
    assert (inside.district.code, inside.inside_jurisdiction) == ("R", True)


# --- Real boundaries: OSM counties of Qazvin and Tehran provinces ------------------------------------

_ROOT = Path(__file__).resolve().parent.parent
_OSM_DIRS = [_ROOT / "tests" / "data" / "osm"]
OSM_FILES = ["qazvin_province_counties.geojson", "tehran_province_counties.geojson"]
QAZVIN_COUNTY = "6555151"


def _osm_features() -> list[dict]:
    for folder in _OSM_DIRS:
        if all((folder / name).is_file() for name in OSM_FILES):
            features = []
            for name in OSM_FILES:
                data = json.loads((folder / name).read_text(encoding="utf-8"))
                features += [f for f in data["features"] if f["geometry"]["type"] == "MultiPolygon"]
            return features
    raise FileNotFoundError(f"OSM county files missing from {_OSM_DIRS[0]}")


@pytest.fixture
def osm_counties(boundary_set_factory):
    features = _osm_features()
    started = time.monotonic()
    built = boundary_set_factory([], name="OSM counties")
    for feature in features:
        tags = feature["properties"].get("tags", {})
        district_create(
            boundary_set=built.boundary_set,
            code=str(feature["properties"]["id"]),
            name_fa=tags.get("name", ""),
            name_en=tags.get("name:en", ""),
            boundary=GEOSGeometry(json.dumps(feature["geometry"]), srid=4326),
        )
    assert time.monotonic() - started < 15
    return {str(f["properties"]["id"]): f for f in features}


@pytest.mark.slow
def test_osm_known_points(osm_counties):
    assert len(osm_counties) == 22
    tehran = [
        code for code, f in osm_counties.items() if f["properties"]["tags"].get("name:en") == "Tehran County"
    ]
    assert len(tehran) == 1
    qazvin = route_point(point=pt(50.004, 36.269), department_id=None)
    assert (qazvin.district.code, qazvin.district.name_en, qazvin.rule) == (
        QAZVIN_COUNTY,
        "Qazvin County",
        RoutingRule.COVERS,
    )
    azadi = route_point(point=pt(51.3380, 35.6997), department_id=None)
    assert (azadi.district.code, azadi.district.name_en) == (tehran[0], "Tehran County")
    assert azadi.inside_jurisdiction is True
    far = route_point(point=pt(60.0, 30.0), department_id=None)
    assert (far.rule, far.district, far.inside_jurisdiction) == (RoutingRule.TRIAGE, None, False)


@pytest.mark.slow
def test_osm_bulk_lookup_agrees_with_single_lookup_and_shapely(osm_counties):
    shapes = {code: shape(f["geometry"]) for code, f in osm_counties.items()}
    minx, miny, maxx, maxy = shapely.union_all(list(shapes.values())).bounds
    rng = random.Random(137)
    points = [(rng.uniform(minx, maxx), rng.uniform(miny, maxy)) for _ in range(300)]
    lons, lats = [p[0] for p in points], [p[1] for p in points]

    bulk = district_codes_for_points(lons=lons, lats=lats)
    single = [
        match.code if (match := district_for_point(point=pt(lon, lat))) else None for lon, lat in points
    ]
    assert bulk == single
    # Both sides of the comparison must be exercised: many points inside, many outside.
    inside = sum(code is not None for code in bulk)
    assert 50 < inside < 290
    assert len({code for code in bulk if code}) >= 10

    for (lon, lat), code in zip(points, bulk, strict=True):
        covering = {c for c, g in shapes.items() if g.covers(shapely.Point(lon, lat))}
        if code is None:
            assert covering == set(), (lon, lat)
        else:
            assert code in covering, (lon, lat, code, covering)


# --- A new report's category and routing in one query ------------------------------------------------


def test_category_and_routing_in_one_query_route_as_route_point_does(city, snow, category_factory):
    """The API reads a new report's category and its point's routing together
    (issues.selectors.category_routed_get); each outcome must be route_point's for the category's
    department: covers, the deeper level, a shared edge, a unit by ancestry, a snow zone, nearest
    within the tolerance, triage, outside the city."""
    from issues.selectors import category_get, category_routed_get

    snow_category = category_factory("snow-left", snow["department"])
    points = [
        city.points.r1,
        city.points.s11,
        city.points.r2,
        city.points.edge_r1_r2,
        (50.01, 36.2775),  # in the snow zone
        (50.03, 36.262),  # R2, where snow has only its central unit
        (50.041, 36.27),  # ~90 m east of R2: nearest
        (50.045, 36.27),  # ~450 m east: triage
        (51.5, 35.7),  # far away
    ]
    for category in (city.pothole, snow_category):
        for point in points:
            found = category_routed_get(code=category.code, point=pt(*point))
            assert found is not None
            got_category, routing = found
            assert got_category.pk == category.pk and got_category.department.pk == category.department_id
            assert got_category.has_questions == category_get(code=category.code).has_questions
            assert routing == route_point(point=pt(*point), department_id=category.department_id), point
    assert category_routed_get(code="no-such-category", point=pt(*city.points.r1)) is None
    city.pothole.active = False
    city.pothole.save()
    assert category_routed_get(code="pothole", point=pt(*city.points.r1)) is None

"""Reads for routing: which district, which service area, which unit takes a point.

Lookups run on the ST_Subdivide pieces (GiST-indexed, at most a few hundred vertices each) and use
`ST_Covers`, not `ST_Contains`: contains is false for a point on a boundary, and subdividing adds
internal edges, so a point on such an edge would fall through every piece. With covers, a point on a
shared edge between two districts matches both; the tie-break is explicit (see TIE_BREAK).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils.translation import gettext as _

from districts.models import DistrictLevel, RoutingRule
from geo.coords import CoordinateError, parse_lat_lon
from geo.srid import GEO_SRID

# Among districts covering a point: the deepest level wins (a sub-district over its region); on a
# shared edge or an overlap between districts of one level, the smaller district wins, then the
# lower code. Deterministic whatever order the rows come back in.
TIE_BREAK = "d.level DESC, d.area_m2 ASC, d.code ASC"

_POINT = f"ST_SetSRID(ST_MakePoint(%s, %s), {GEO_SRID})"

DISTRICT_FOR_POINT_SQL = f"""
    SELECT d.id, d.code, d.name_fa, d.name_en, d.level, d.parent_id
      FROM districts_districtpiece p
      JOIN districts_district d ON d.id = p.district_id
      JOIN districts_boundaryset s ON s.id = d.boundary_set_id
     WHERE s.active AND d.level > 0 AND ST_Covers(p.geom, {_POINT})
     ORDER BY {TIE_BREAK}
     LIMIT 1"""

NEAREST_DISTRICT_SQL = f"""
    SELECT d.id, d.code, d.name_fa, d.name_en, d.level, d.parent_id,
           ST_Distance(p.geom::geography, {_POINT}::geography) AS distance_m
      FROM districts_districtpiece p
      JOIN districts_district d ON d.id = p.district_id
      JOIN districts_boundaryset s ON s.id = d.boundary_set_id
     WHERE s.active AND d.level > 0 AND ST_DWithin(p.geom, {_POINT}, %s)
     ORDER BY distance_m, {TIE_BREAK}
     LIMIT 1"""


@dataclass(frozen=True)
class DistrictMatch:
    id: int
    code: str
    name_fa: str
    name_en: str
    level: int
    parent_id: int | None
    distance_m: float = 0.0

    @property
    def level_name(self) -> str:
        return DistrictLevel(self.level).name.lower()


@dataclass(frozen=True)
class ServiceAreaMatch:
    id: int
    code: str
    unit_name_fa: str
    unit_name_en: str
    department_id: int
    department_code: str
    department_name_fa: str
    department_name_en: str


@dataclass(frozen=True)
class Routing:
    """Where a report goes, and how it was decided (stored on the report)."""

    district: DistrictMatch | None
    service_area: ServiceAreaMatch | None
    rule: str
    distance_m: float
    inside_jurisdiction: bool | None


def _degrees_for_metres(metres: float, lat: float) -> float:
    # A search box in degrees that surely holds every point within `metres` (longitude degrees
    # shrink towards the poles); the exact distance is then measured on the geography.
    cos_lat = max(math.cos(math.radians(min(abs(lat), 89.0))), 0.01)
    return min(metres / (111_320.0 * cos_lat) * 1.01, 180.0)


def district_for_point(*, point: Point) -> DistrictMatch | None:
    """The active district that covers the point (deepest level, then TIE_BREAK), or None."""
    with connection.cursor() as cursor:
        cursor.execute(DISTRICT_FOR_POINT_SQL, [point.x, point.y])
        row = cursor.fetchone()
    return DistrictMatch(*row) if row else None


def district_nearest(*, point: Point, within_m: float) -> DistrictMatch | None:
    """The active district nearest to the point, if it lies within `within_m` metres."""
    if within_m <= 0:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            NEAREST_DISTRICT_SQL, [point.x, point.y, point.x, point.y, _degrees_for_metres(within_m, point.y)]
        )
        row = cursor.fetchone()
    if row is None or row[6] > within_m:
        return None
    district_id, code, name_fa, name_en, level, parent_id, distance_m = row
    return DistrictMatch(district_id, code, name_fa, name_en, level, parent_id, distance_m=float(distance_m))


def jurisdiction_covers(*, point: Point) -> bool:
    """Whether the point lies in the city's jurisdiction.

    The jurisdiction is its own polygon (a level-0 district) when one is loaded; otherwise it is the
    union of the active districts, so a city that imports only its districts works at once.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH active AS (SELECT id FROM districts_boundaryset WHERE active),
                 has_own AS (SELECT EXISTS (SELECT 1 FROM districts_district d JOIN active a ON a.id = d.boundary_set_id
                                             WHERE d.level = 0) AS yes)
            SELECT EXISTS (
              SELECT 1 FROM districts_districtpiece p
                JOIN districts_district d ON d.id = p.district_id
                JOIN active a ON a.id = d.boundary_set_id, has_own
               WHERE ST_Covers(p.geom, {_POINT})
                 AND ((has_own.yes AND d.level = 0) OR (NOT has_own.yes AND d.level > 0)))""",
            [point.x, point.y],
        )
        return bool(cursor.fetchone()[0])


def district_ancestor_codes(*, district_id: int) -> list[str]:
    """The district's code, then its parent's, up to the top (deepest first)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE chain(id, code, parent_id, depth) AS (
              SELECT id, code, parent_id, 0 FROM districts_district WHERE id = %s
              UNION ALL
              SELECT d.id, d.code, d.parent_id, c.depth + 1 FROM districts_district d JOIN chain c ON d.id = c.parent_id
               WHERE c.depth < 10)
            SELECT code FROM chain ORDER BY depth""",
            [district_id],
        )
        return [r[0] for r in cursor.fetchall()]


_SERVICE_AREA_COLUMNS = (
    """sa.id, sa.code, sa.unit_name_fa, sa.unit_name_en, dep.id, dep.code, dep.name_fa, dep.name_en"""
)


def service_area_for_point(
    *, department_id: int, point: Point | None, district: DistrictMatch | None
) -> ServiceAreaMatch | None:
    """The department's unit for the point.

    A service area with its own polygon covering the point comes first (a snow-clearing zone cuts
    across districts); then the one following the point's district or its nearest ancestor; then the
    department's central unit.
    """
    with connection.cursor() as cursor:
        if point is not None:
            cursor.execute(
                f"""SELECT {_SERVICE_AREA_COLUMNS}
                      FROM districts_serviceareapiece p
                      JOIN districts_servicearea sa ON sa.id = p.service_area_id
                      JOIN districts_department dep ON dep.id = sa.department_id
                     WHERE sa.department_id = %s AND sa.active AND ST_Covers(p.geom, {_POINT})
                     ORDER BY sa.code LIMIT 1""",
                [department_id, point.x, point.y],
            )
            row = cursor.fetchone()
            if row:
                return ServiceAreaMatch(*row)
        if district is not None:
            codes = district_ancestor_codes(district_id=district.id)
            cursor.execute(
                f"""SELECT {_SERVICE_AREA_COLUMNS}
                      FROM districts_servicearea sa JOIN districts_department dep ON dep.id = sa.department_id
                     WHERE sa.department_id = %s AND sa.active AND sa.district_code = ANY(%s)
                     ORDER BY array_position(%s, sa.district_code::text), sa.code LIMIT 1""",
                [department_id, codes, codes],
            )
            row = cursor.fetchone()
            if row:
                return ServiceAreaMatch(*row)
        cursor.execute(
            f"""SELECT {_SERVICE_AREA_COLUMNS}
                  FROM districts_servicearea sa JOIN districts_department dep ON dep.id = sa.department_id
                 WHERE sa.department_id = %s AND sa.active AND sa.is_default LIMIT 1""",
            [department_id],
        )
        row = cursor.fetchone()
        return ServiceAreaMatch(*row) if row else None


def route_point(*, point: Point | None, department_id: int | None) -> Routing:
    """Route a report: district (covers, else nearest within the tolerance, else triage), then the
    service area of the category's department. Nothing is dropped: every outcome has a rule."""
    if point is None:
        service_area = (
            service_area_for_point(department_id=department_id, point=None, district=None)
            if department_id
            else None
        )
        return Routing(
            None, service_area, RoutingRule.CATEGORY if service_area else RoutingRule.TRIAGE, 0.0, None
        )
    inside = jurisdiction_covers(point=point)
    district = district_for_point(point=point)
    rule = RoutingRule.COVERS
    if district is None:
        district = district_nearest(point=point, within_m=settings.OPEN137_ROUTING_TOLERANCE_M)
        rule = RoutingRule.NEAREST
    if district is None:
        return Routing(None, None, RoutingRule.TRIAGE, 0.0, inside)
    service_area = (
        service_area_for_point(department_id=department_id, point=point, district=district)
        if department_id
        else None
    )
    return Routing(district, service_area, rule, district.distance_m, inside)


def point_from_lat_lon(*, lat: object, lon: object) -> Point:
    """A validated point; CoordinateError when the input is not a point, or when it lies outside the
    jurisdiction but would be inside with latitude and longitude swapped (a common client mistake)."""
    latlon = parse_lat_lon(lat, lon)
    point = Point(latlon.lon, latlon.lat, srid=GEO_SRID)
    swapped = latlon.swapped
    if (
        swapped is not None
        and (swapped.lat, swapped.lon) != (latlon.lat, latlon.lon)
        and not jurisdiction_covers(point=point)
    ) and jurisdiction_covers(point=Point(swapped.lon, swapped.lat, srid=GEO_SRID)):
        raise CoordinateError(
            _(
                "The point lat=%(lat)s, lon=%(lon)s is outside the city, but inside it with latitude and "
                "longitude swapped: send lat=%(lon)s and lon=%(lat)s."
            )
            % {"lat": latlon.lat, "lon": latlon.lon},
            field="lat",
        )
    return point


def district_codes_for_points(*, lons: Sequence[float], lats: Sequence[float]) -> list[str | None]:
    """Bulk routing: the covering district's code for each point (None outside), in input order.

    One query for the whole batch: the points travel as two float arrays and are joined to the
    indexed pieces, so a million points cost one round trip rather than a million.
    """
    if len(lons) != len(lats):
        raise ValueError("lons and lats must have the same length")
    result: list[str | None] = [None] * len(lons)
    if not lons:
        return result
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT DISTINCT ON (t.i) t.i, d.code
              FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS t(x, y, i)
              JOIN districts_districtpiece p ON ST_Covers(p.geom, ST_SetSRID(ST_MakePoint(t.x, t.y), {GEO_SRID}))
              JOIN districts_district d ON d.id = p.district_id
              JOIN districts_boundaryset s ON s.id = d.boundary_set_id
             WHERE s.active AND d.level > 0
             ORDER BY t.i, {TIE_BREAK}""",
            [list(lons), list(lats)],
        )
        for i, code in cursor.fetchall():
            result[i - 1] = code
    return result


def district_list_geojson(*, level: int | None = None, simplify_m: float = 5.0) -> bytes:
    """The active districts as a GeoJSON FeatureCollection, built by PostGIS in one query and
    simplified for display (about `simplify_m` metres), ready to send as is."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT COALESCE(json_build_object('type', 'FeatureCollection', 'features', COALESCE(json_agg(
                     json_build_object('type', 'Feature', 'id', d.code,
                       'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(d.boundary, %s), 6)::json,
                       'properties', json_build_object('code', d.code, 'name_fa', d.name_fa, 'name_en', d.name_en,
                          'level', d.level, 'parent', p.code, 'population', d.population))
                     ORDER BY d.level, d.code), '[]'::json))::text, '')
              FROM districts_district d
              JOIN districts_boundaryset s ON s.id = d.boundary_set_id AND s.active
              LEFT JOIN districts_district p ON p.id = d.parent_id
             WHERE (%s::int IS NULL OR d.level = %s::int)""",
            [simplify_m / 111_320.0, level, level],
        )
        return cursor.fetchone()[0].encode()


def district_summary() -> dict[str, object]:
    """The active boundary set and how many districts of each level it has (for the home page)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT s.name, d.level, count(d.id) FROM districts_boundaryset s
                 LEFT JOIN districts_district d ON d.boundary_set_id = s.id
                WHERE s.active GROUP BY s.name, d.level ORDER BY d.level"""
        )
        rows = cursor.fetchall()
    return {
        "boundary_set": rows[0][0] if rows else None,
        "levels": {DistrictLevel(level).name.lower(): n for _, level, n in rows if level is not None},
    }

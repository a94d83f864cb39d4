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

from districts.models import DistrictLevel, RoutingRule, ServiceArea
from geo.coords import CoordinateError, LatLon, parse_lat_lon
from geo.srid import GEO_SRID, in_geo_srid
from geo.text import normalize_persian
from open137.db import fetchone_prepared, sql_substituted

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


JURISDICTION_COVERS_SQL = f"""
            WITH active AS (SELECT id FROM districts_boundaryset WHERE active),
                 has_own AS (SELECT EXISTS (SELECT 1 FROM districts_district d JOIN active a ON a.id = d.boundary_set_id
                                             WHERE d.level = 0) AS yes)
            SELECT EXISTS (
              SELECT 1 FROM districts_districtpiece p
                JOIN districts_district d ON d.id = p.district_id
                JOIN active a ON a.id = d.boundary_set_id, has_own
               WHERE ST_Covers(p.geom, {_POINT})
                 AND ((has_own.yes AND d.level = 0) OR (NOT has_own.yes AND d.level > 0)))"""


# Routing asks both at once (one round trip): is the point in the jurisdiction, and which district
# covers it. Parameters: the point twice.
ROUTE_DISTRICT_SQL = f"""
    SELECT ({JURISDICTION_COVERS_SQL}) AS inside, d.*
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL ({DISTRICT_FOR_POINT_SQL}) AS d ON true"""

# The department's unit, in one query: its own polygon covering the point ranks first (a snow zone
# cuts across districts), then a unit following the district or its nearest ancestor, then the
# department's central unit. Point and district may be NULL (a report without a location).
SERVICE_AREA_SQL = f"""
    WITH RECURSIVE chain(id, code, parent_id, depth) AS (
        SELECT id, code, parent_id, 0 FROM districts_district WHERE id = %(district)s::bigint
        UNION ALL
        SELECT d.id, d.code, d.parent_id, c.depth + 1
          FROM districts_district d JOIN chain c ON d.id = c.parent_id WHERE c.depth < 10),
    candidates(id, rank) AS (
        SELECT sa.id, 0 FROM districts_serviceareapiece p JOIN districts_servicearea sa ON sa.id = p.service_area_id
         WHERE sa.department_id = %(department)s::bigint AND sa.active
           AND ST_Covers(p.geom, ST_SetSRID(ST_MakePoint(%(x)s::float8, %(y)s::float8), {GEO_SRID}))
        UNION ALL
        SELECT sa.id, 1 + c.depth FROM districts_servicearea sa JOIN chain c ON sa.district_code = c.code
         WHERE sa.department_id = %(department)s::bigint AND sa.active
        UNION ALL
        SELECT sa.id, 1000 FROM districts_servicearea sa
         WHERE sa.department_id = %(department)s::bigint AND sa.active AND sa.is_default)
    SELECT sa.id, sa.code, sa.unit_name_fa, sa.unit_name_en, dep.id, dep.code, dep.name_fa, dep.name_en
      FROM candidates c
      JOIN districts_servicearea sa ON sa.id = c.id
      JOIN districts_department dep ON dep.id = sa.department_id
     ORDER BY c.rank, sa.code
     LIMIT 1"""


# Routing with the department known, in one round trip: ROUTE_DISTRICT_SQL, then SERVICE_AREA_SQL for
# the covering district in the same statement (a point no district covers goes on to the nearest
# district, and its unit is looked up then). Parameters: x, y, department.
_NAMED_POINT = f"ST_SetSRID(ST_MakePoint(%(x)s::float8, %(y)s::float8), {GEO_SRID})"
ROUTE_WITH_UNIT_SQL = f"""
    SELECT route.*, unit.*
      FROM ({sql_substituted(ROUTE_DISTRICT_SQL, _POINT, _NAMED_POINT)}) AS route
      LEFT JOIN LATERAL ({sql_substituted(SERVICE_AREA_SQL, "%(district)s::bigint", "route.id")}) AS unit
        ON route.id IS NOT NULL"""


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


def degrees_for_metres(metres: float, lat: float) -> float:
    """A search box in degrees that surely holds every point within `metres` of latitude `lat`
    (longitude degrees shrink towards the poles): a cheap, index-backed first filter; the exact
    distance is then measured on the geography."""
    cos_lat = max(math.cos(math.radians(min(abs(lat), 89.0))), 0.01)
    return min(metres / (111_320.0 * cos_lat) * 1.01, 180.0)


def district_for_point(*, point: Point) -> DistrictMatch | None:
    """The active district that covers the point (deepest level, then TIE_BREAK), or None."""
    point = in_geo_srid(point)
    row = fetchone_prepared(DISTRICT_FOR_POINT_SQL, [point.x, point.y])
    return DistrictMatch(*row) if row else None


def district_nearest(*, point: Point, within_m: float) -> DistrictMatch | None:
    """The active district nearest to the point, if it lies within `within_m` metres."""
    if within_m <= 0:
        return None
    point = in_geo_srid(point)
    row = fetchone_prepared(
        NEAREST_DISTRICT_SQL, [point.x, point.y, point.x, point.y, degrees_for_metres(within_m, point.y)]
    )
    if row is None or row[6] > within_m:
        return None
    district_id, code, name_fa, name_en, level, parent_id, distance_m = row
    return DistrictMatch(district_id, code, name_fa, name_en, level, parent_id, distance_m=float(distance_m))


def jurisdiction_covers(*, point: Point) -> bool:
    """Whether the point lies in the city's jurisdiction.

    The jurisdiction is its own polygon (a level-0 district) when one is loaded; otherwise it is the
    union of the active districts, so a city that imports only its districts works at once.
    """
    point = in_geo_srid(point)
    row = fetchone_prepared(JURISDICTION_COVERS_SQL, [point.x, point.y])
    return bool(row and row[0])


def service_area_for_point(
    *, department_id: int, point: Point | None, district: DistrictMatch | None
) -> ServiceAreaMatch | None:
    """The department's unit for the point.

    A service area with its own polygon covering the point comes first (a snow-clearing zone cuts
    across districts); then the one following the point's district or its nearest ancestor; then the
    department's central unit.
    """
    point = in_geo_srid(point)
    row = fetchone_prepared(
        SERVICE_AREA_SQL,
        {
            "department": department_id,
            "district": district.id if district is not None else None,
            "x": point.x if point is not None else None,
            "y": point.y if point is not None else None,
        },
    )
    return ServiceAreaMatch(*row) if row else None


def route_point(*, point: Point | None, department_id: int | None) -> Routing:
    """Route a report: district (covers, else nearest within the tolerance, else triage), then the
    service area of the category's department. Nothing is dropped: every outcome has a rule. A point
    without an SRID is WGS 84 degrees; one in another SRID is reprojected, not read as degrees."""
    point = in_geo_srid(point)
    if point is None:
        service_area = (
            service_area_for_point(department_id=department_id, point=None, district=None)
            if department_id
            else None
        )
        return Routing(
            None, service_area, RoutingRule.CATEGORY if service_area else RoutingRule.TRIAGE, 0.0, None
        )
    x, y = point.x, point.y
    if department_id:
        row = fetchone_prepared(ROUTE_WITH_UNIT_SQL, {"x": x, "y": y, "department": department_id})
    else:
        row = fetchone_prepared(ROUTE_DISTRICT_SQL, [x, y, x, y])
    return routing_from_row(row, point=point, department_id=department_id)


def routing_from_row(row: Sequence | None, *, point: Point, department_id: int | None) -> Routing:
    """The routing of `point` from its row of ROUTE_WITH_UNIT_SQL (ROUTE_DISTRICT_SQL without a
    department), read by route_point or by a query that embeds it; a point no district covers goes
    on to the nearest district within the tolerance, then triage."""
    inside = bool(row and row[0])
    if row is not None and row[1] is not None:
        covering = DistrictMatch(*row[1:7])
        unit = ServiceAreaMatch(*row[7:15]) if department_id and row[7] is not None else None
        return Routing(covering, unit, RoutingRule.COVERS, covering.distance_m, inside)
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


def _swapped_refused(latlon: LatLon) -> None:
    """For a point known to lie outside the jurisdiction: CoordinateError when it would be inside with
    latitude and longitude swapped (a common client mistake)."""
    swapped = latlon.swapped
    if (
        swapped is not None
        and (swapped.lat, swapped.lon) != (latlon.lat, latlon.lon)
        and jurisdiction_covers(point=Point(swapped.lon, swapped.lat, srid=GEO_SRID))
    ):
        raise CoordinateError(
            _(
                "The point lat=%(lat)s, lon=%(lon)s is outside the city, but inside it with latitude and "
                "longitude swapped: send lat=%(lon)s and lon=%(lat)s."
            )
            % {"lat": latlon.lat, "lon": latlon.lon},
            field="lat",
        )


def lat_lon_point(*, lat: object, lon: object) -> tuple[LatLon, Point]:
    """The parsed input and its point; CoordinateError when the input is not a point."""
    latlon = parse_lat_lon(lat, lon)
    return latlon, Point(latlon.lon, latlon.lat, srid=GEO_SRID)


def point_from_lat_lon(*, lat: object, lon: object) -> Point:
    """A validated point; CoordinateError when the input is not a point, or when it lies outside the
    jurisdiction but would be inside with latitude and longitude swapped (a common client mistake)."""
    latlon, point = lat_lon_point(lat=lat, lon=lon)
    swapped = latlon.swapped
    if (
        swapped is not None
        and (swapped.lat, swapped.lon) != (latlon.lat, latlon.lon)
        and not jurisdiction_covers(point=point)
    ):
        _swapped_refused(latlon)
    return point


def swapped_refused_outside(*, latlon: LatLon, routing: Routing) -> None:
    """`point_from_lat_lon`'s check for a point just routed (a new report): routing already tells
    whether the point is in the jurisdiction, so only a point outside it costs the look-up of its
    swapped twin. CoordinateError when the swapped point would be inside."""
    if not routing.inside_jurisdiction:
        _swapped_refused(latlon)


def district_codes_for_points(*, lons: Sequence[float], lats: Sequence[float]) -> list[str | None]:
    """Bulk routing: the covering district's code for each point (None outside), in input order.

    One query for the whole batch, with the same answer as `district_for_point` for every point
    (`covers` on the pieces, TIE_BREAK). Measured on a million points against the OSM counties of
    Qazvin and Tehran (`make bench ONLY=route_1m_points`), three things make it fast:

    - The coordinates travel as two float8[] in PostgreSQL's binary array format, built with
      `array`/`struct`: sent as text or through psycopg's list adapter, a million points took 3 s
      before the query even started.
    - Points are matched to pieces by a hash join on grid cells, not one GiST probe per point (about
      4.5 µs each, most of the old query's 5 s): every piece is listed under each cell its bounding box
      touches, each point looks up its own cell, and only those candidates get `ST_Covers`. A point in
      a piece's box is in one of the box's cells (same formula on both sides, floor is monotonic), so
      no candidate is lost. The cell size follows the pieces (about 1/8 of a typical piece's side)
      and the batch (a small batch gets a coarse grid, so its cost stays near the number of pieces).
    - For this one transaction: the planner has no statistics on the generated cells, assumes their
      keys are heavily duplicated and would rather sort the million points for a merge join; and the
      PostGIS functions' high declared cost pushes the estimate over the JIT threshold, which then
      spends about 0.4 s compiling expressions that are only function calls. Both are turned off
      with `set_config(..., is_local)` and put back afterwards, so a caller's transaction keeps its
      own settings.

    It runs on Django's connection and transaction but through a psycopg cursor with server-side
    binding (Django's cursor binds parameters as text), so it is not in `connection.queries`.
    """
    import struct
    import sys
    from array import array

    from django.db import transaction
    from psycopg import Cursor
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    if len(lons) != len(lats):
        raise ValueError("lons and lats must have the same length")
    result: list[str | None] = [None] * len(lons)
    if len(lons) == 0:
        return result

    class Float8Array(bytes):
        """A float8[] already in PostgreSQL's binary array format."""

    class Float8ArrayDumper(Dumper):
        format = Format.BINARY
        oid = 1022  # float8[]

        def dump(self, obj: Float8Array) -> Float8Array:
            return obj

    def float8_array(values: Sequence[float]) -> Float8Array:
        doubles = array("d", map(float, values))
        if sys.byteorder == "little":
            doubles.byteswap()  # the wire format is big-endian
        raw = doubles.tobytes()
        n = len(doubles)
        # Header (1 dimension, no NULLs, element type float8 = oid 701, n elements from index 1), then
        # each element as its length (4 bytes: 8) and its 8 bytes; strided slices interleave them in C.
        buf = bytearray(20 + 12 * n)
        struct.pack_into("!iiiii", buf, 0, 1, 0, 701, n, 1)
        buf[23::12] = b"\x08" * n
        for k in range(8):
            buf[24 + k :: 12] = raw[k::8]
        return Float8Array(buf)

    query = f"""
        WITH active AS MATERIALIZED (
          SELECT p.id, p.geom, d.code, d.level, d.area_m2,
                 ST_XMin(p.geom) AS x1, ST_YMin(p.geom) AS y1, ST_XMax(p.geom) AS x2, ST_YMax(p.geom) AS y2
            FROM districts_districtpiece p
            JOIN districts_district d ON d.id = p.district_id
            JOIN districts_boundaryset s ON s.id = d.boundary_set_id
           WHERE s.active AND d.level > 0),
        grid AS MATERIALIZED (
          -- Cells per piece: about min(64, points per piece), for the pieces of average box size.
          SELECT min(x1) AS x0, min(y1) AS y0,
                 sqrt(avg((x2 - x1) * (y2 - y1)) / LEAST(64, GREATEST(1, %(n)s::float8 / count(*)))) AS c
            FROM active),
        spans AS (
          SELECT a.id, floor((a.x1 - g.x0) / g.c)::bigint AS ix, floor((a.y1 - g.y0) / g.c)::bigint AS iy,
                 floor((a.x2 - g.x0) / g.c)::bigint - floor((a.x1 - g.x0) / g.c)::bigint + 1 AS nx,
                 floor((a.y2 - g.y0) / g.c)::bigint - floor((a.y1 - g.y0) / g.c)::bigint + 1 AS ny
            FROM active a CROSS JOIN grid g),
        cells AS MATERIALIZED (
          -- One series per piece (not two nested ones): the planner then sizes this side right and
          -- builds the hash on the cells, not on the points.
          SELECT s.id, (s.ix + k %% s.nx)::float8 AS gx, (s.iy + k / s.nx)::float8 AS gy
            FROM spans s CROSS JOIN generate_series(0, s.nx * s.ny - 1) AS k)
        SELECT DISTINCT ON (c.i) c.i, d.code
          FROM (SELECT t.i, t.x, t.y, cells.id
                  FROM unnest(%(x)s, %(y)s) WITH ORDINALITY AS t(x, y, i)
                  CROSS JOIN grid g
                  JOIN cells ON cells.gx = floor((t.x - g.x0) / g.c) AND cells.gy = floor((t.y - g.y0) / g.c)
                OFFSET 0) AS c  -- keeps ST_Covers out of the cell join: it runs on the candidates only
          JOIN active d ON d.id = c.id
         WHERE ST_Covers(d.geom, ST_SetSRID(ST_MakePoint(c.x, c.y), {GEO_SRID}))
         ORDER BY c.i, {TIE_BREAK}"""
    params = {"n": len(lons), "x": float8_array(lons), "y": float8_array(lats)}
    with transaction.atomic(), connection.wrap_database_errors, Cursor(connection.connection) as cursor:
        cursor.adapters.register_dumper(Float8Array, Float8ArrayDumper)
        cursor.execute("SELECT current_setting('jit'), current_setting('enable_mergejoin')")
        saved = cursor.fetchone()
        cursor.execute("SELECT set_config('jit', 'off', true), set_config('enable_mergejoin', 'off', true)")
        # Never a prepared statement (should the settings turn them on): a generic plan does not know
        # the batch size and could pick a nested loop over the cells for a million points.
        cursor.execute(query, params, binary=True, prepare=False)
        rows = cursor.fetchall()
        # On an error the rollback of this atomic block undoes the settings; on success put them back.
        cursor.execute("SELECT set_config('jit', %s, true), set_config('enable_mergejoin', %s, true)", saved)
    for i, code in rows:
        result[i - 1] = code
    return result


_DISTRICTS_GEOJSON_SQL = """
    SELECT COALESCE(json_build_object('type', 'FeatureCollection', 'features', COALESCE(json_agg(
             json_build_object('type', 'Feature', 'id', d.code,
               'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(d.boundary, %s), 6)::json,
               'properties', json_build_object('code', d.code, 'name_fa', d.name_fa, 'name_en', d.name_en,
                  'level', d.level, 'parent', p.code, 'population', d.population))
             ORDER BY d.level, d.code), '[]'::json))::text, '')
      FROM districts_district d
      JOIN districts_boundaryset s ON s.id = d.boundary_set_id AND s.active
      LEFT JOIN districts_district p ON p.id = d.parent_id
     WHERE (%s::int IS NULL OR d.level = %s::int)
       AND (%s::text[] IS NULL OR d.code = ANY(%s::text[]))"""


def _districts_geojson(*, level: int | None, codes: Sequence[str] | None, simplify_m: float) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(
            _DISTRICTS_GEOJSON_SQL,
            [
                simplify_m / 111_320.0,
                level,
                level,
                None if codes is None else list(codes),
                None if codes is None else list(codes),
            ],
        )
        return cursor.fetchone()[0].encode()


def district_list_geojson(*, level: int | None = None, simplify_m: float = 5.0) -> bytes:
    """The active districts as a GeoJSON FeatureCollection, built by PostGIS in one query and
    simplified for display (about `simplify_m` metres), ready to send as is."""
    return _districts_geojson(level=level, codes=None, simplify_m=simplify_m)


def district_outline_geojson(*, codes: Sequence[str], simplify_m: float = 5.0) -> bytes:
    """The active districts with these codes, as `district_list_geojson` draws them: a district
    manager's area on the staff inbox's map (a region's outline takes in its sub-districts). No codes,
    no features."""
    return _districts_geojson(level=None, codes=[str(c) for c in codes], simplify_m=simplify_m)


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


# --- Finding a district by name ------------------------------------------------------------------

# Names of the active boundary set's districts (regions and sub-districts; the jurisdiction, level 0,
# is the whole city and says nothing about where a problem is). A city has tens to a few hundred of
# them, so matching runs in Python with the same normaliser the rest of the project uses: ی/ي, ک/ك,
# Persian/Arabic digits and the zero-width non-joiner all compare equal however they were typed.
_DISTRICT_NAMES_SQL = """
    SELECT d.id, d.code, d.name_fa, d.name_en, d.level
      FROM districts_district d
      JOIN districts_boundaryset s ON s.id = d.boundary_set_id AND s.active
     WHERE d.level > 0
     ORDER BY d.level, d.code"""

# The point a district-only report gets: a point on the district's surface (unlike the centroid, it
# always lies inside, even for a crescent-shaped district). For a region, the point is taken outside
# its sub-districts when it has any left over, so routing (deepest level wins) sends the report to
# the region the citizen named rather than to whichever sub-district holds the region's middle.
_POINT_ON_SURFACE_SQL = """
    SELECT d.id, ST_X(pt), ST_Y(pt) FROM districts_district d
     CROSS JOIN LATERAL (
       SELECT ST_Difference(d.boundary, ST_Union(c.boundary)) AS rest
         FROM districts_district c WHERE c.parent_id = d.id) own
     CROSS JOIN LATERAL (
       SELECT ST_PointOnSurface(
                CASE WHEN own.rest IS NULL OR ST_IsEmpty(own.rest) OR ST_Area(own.rest) = 0
                     THEN d.boundary ELSE own.rest END) AS pt) p
     WHERE d.id = ANY(%s)"""


@dataclass(frozen=True)
class DistrictSearchMatch:
    district_id: int
    code: str
    name_fa: str
    name_en: str
    level: int
    # A point on the district's surface (see _POINT_ON_SURFACE_SQL), in GEO_SRID.
    lon: float
    lat: float
    # How well the typed text matched: 0 the whole name (or the code), 1 the start of a name, 2 a part.
    rank: int


def _active_district_names() -> list[tuple[int, str, str, str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(_DISTRICT_NAMES_SQL)
        return list(cursor.fetchall())


def district_names() -> list[tuple[str, str, str]]:
    """(code, Persian name, English name) of the active districts below the jurisdiction, by level
    then code: the suggestions of a "type the district" box."""
    return [(code, name_fa, name_en) for _id, code, name_fa, name_en, _level in _active_district_names()]


def district_search(*, text: str, limit: int = 10) -> list[DistrictSearchMatch]:
    """Active districts whose Persian name, English name or code matches the typed text (partial,
    normalised), best first: whole-name matches, then prefixes, then parts; deeper levels first.
    Each comes with the point a report placed by that name gets."""
    wanted = normalize_persian(text)
    if not wanted:
        return []
    ranked: list[tuple[int, int, str, tuple[int, str, str, str, int]]] = []
    for row in _active_district_names():
        _id, code, name_fa, name_en, level = row
        names = [normalize_persian(n) for n in (name_fa, name_en, code) if n]
        if wanted in names:
            rank = 0
        elif any(n.startswith(wanted) for n in names):
            rank = 1
        elif any(wanted in n for n in names):
            rank = 2
        else:
            continue
        ranked.append((rank, -level, code, row))
    ranked.sort(key=lambda r: r[:3])
    chosen = ranked[:limit]
    if not chosen:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_POINT_ON_SURFACE_SQL, [[r[3][0] for r in chosen]])
        points = {pk: (x, y) for pk, x, y in cursor.fetchall()}
    return [
        DistrictSearchMatch(pk, code, name_fa, name_en, level, *points[pk], rank=rank)
        for rank, _level, _code, (pk, code, name_fa, name_en, level) in chosen
    ]


# --- Units, for the staff's forms ------------------------------------------------------------------


def service_area_choices() -> list[dict[str, object]]:
    """The active units (service areas) with their department, by department then code: what a
    member of staff may filter the inbox by, or send a report to."""
    return [
        dict(row)
        for row in ServiceArea.objects.filter(active=True)
        .order_by("department__code", "code")
        .values(
            "code",
            "unit_name_fa",
            "unit_name_en",
            "district_code",
            "department__code",
            "department__name_fa",
            "department__name_en",
        )
    ]

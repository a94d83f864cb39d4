"""The area that changes hands between two boundary sets, as small indexed pieces.

Re-routing (`issues.services.reroute`) and the boundary import's dry run both ask the same question:
where does routing answer differently in one set than in another? Testing every report's point
against both sets costs two polygon lookups per report (minutes for a city's million reports); the
answer only changes inside the area that changed, which a boundary change keeps small. So the
area is computed once per pair of sets, from the districts themselves, and cut into pieces
(ST_Subdivide) in a temporary table with a GiST index: the reports are then found through their own
spatial index, a probe per piece.

What routing reads of a set, at a point: the districts (level > 0) that cover it, by code and level,
and, where two districts of one level cover it (a shared edge, an overlap), their order (the smaller
wins, then the lower code). Between an old set and a new one that differs, per code:

- `moved`: both sets have the code, drawn differently: ST_SymDifference(old, new), the strip it lost
  and the strip it gained;
- `new`, `gone`: the code is in one set only: the whole district;
- `level`: the code changed level: both districts whole;
- `overlap`: two districts of one level whose order by area flipped (one grew or shrank elsewhere):
  where they share points, in each set (an overlap, or a shared edge as a line), the other one wins
  now: those intersections;

and, given a time `redrawn_after`, `redrawn`: districts of the old set whose boundary was written
after that time (edited in place: what they covered before is not known), whole, each piece
stamped with `since` (the district's `boundary_updated_at`): they count only for what was routed
before it. A district copied unchanged into a new set, or re-imported as drawn, is no change.

The import's dry run also counts the open reports that would move. Districts know nothing of
reports (the layers point one way): an app that keeps points routed by districts registers a
counter for them in a module of its own named `boundary_moves` (issues does), found the way Django's
admin finds `admin` modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils.module_loading import autodiscover_modules

from districts.selectors import TIE_BREAK

CHANGED_AREA_TABLE = "boundary_changed_area"

# The search box, in degrees, that surely holds every point within %(tolerance_m)s metres of a
# piece (longitude degrees shrink towards the poles; the piece's latitude farthest from the equator
# gives the widest box). As districts.selectors.degrees_for_metres, per piece, in SQL.
_TOLERANCE_DEG = """(%(tolerance_m)s / (111320.0 * GREATEST(cos(radians(LEAST(
        GREATEST(abs(ST_YMin({g})), abs(ST_YMax({g}))), 89.0))), 0.01)) * 1.01)"""

_CREATE = f"""
CREATE TEMP TABLE IF NOT EXISTS {CHANGED_AREA_TABLE} (
    old_set_id bigint NOT NULL,
    new_set_id bigint,
    code text NOT NULL,
    kind text NOT NULL,
    since timestamptz,
    tolerance_deg float8 NOT NULL,
    geom geometry NOT NULL
) ON COMMIT DELETE ROWS"""

# Each code of the two sets (level > 0), side by side.
_PAIRS = """
SELECT COALESCE(o.code, n.code), o.id, n.id, o.level, n.level, o.area_m2, n.area_m2,
       o.id IS NOT NULL AND n.id IS NOT NULL AND ST_OrderingEquals(o.boundary, n.boundary)
  FROM (SELECT * FROM districts_district WHERE boundary_set_id = %(old)s AND level > 0) o
  FULL JOIN (SELECT * FROM districts_district WHERE boundary_set_id = %(new)s AND level > 0) n
    ON n.code = o.code
 ORDER BY 1"""

# A piece much smaller than its bounding box (a thin strip along a diagonal edge, tens of kilometres
# long and a few hundred metres wide) would make each probe read every report in that box: such
# pieces are cut further along a grid of cells about this size (degrees; about 400 m).
_CELL_DEG = 0.004

_INSERT = f"INSERT INTO {CHANGED_AREA_TABLE} (old_set_id, new_set_id, code, kind, since, tolerance_deg, geom)"

# `moved`: the symmetric difference, cut into pieces (thin ones along the grid); returns its area
# per code (on the spheroid).
_MOVED = f"""
WITH x AS MATERIALIZED (
       SELECT x.code, ST_SymDifference(o.boundary, n.boundary) AS g
         FROM unnest(%(codes)s::text[], %(old_ids)s::bigint[], %(new_ids)s::bigint[]) AS x(code, old_id, new_id)
         JOIN districts_district o ON o.id = x.old_id
         JOIN districts_district n ON n.id = x.new_id),
     sub AS (
       SELECT x.code, s.geom, ST_Area(s.geom) < 0.5 * ST_Area(ST_Envelope(s.geom)) AS thin
         FROM x, ST_Dump(x.g) d, ST_Subdivide(d.geom, %(max_vertices)s) AS s(geom)),
     pieces AS (
       SELECT code, geom FROM sub WHERE NOT thin
       UNION ALL
       SELECT sub.code, part.geom
         FROM sub, ST_SquareGrid({_CELL_DEG}, sub.geom) cell,
              ST_Dump(ST_Intersection(sub.geom, cell.geom)) part
        WHERE sub.thin AND ST_Intersects(cell.geom, sub.geom)),
     written AS (
       {_INSERT}
       SELECT %(old)s, %(new)s, code, 'moved', NULL, {_TOLERANCE_DEG.format(g="geom")}, geom FROM pieces
       RETURNING 1)
SELECT x.code, ST_Area(x.g::geography), (SELECT count(*) FROM written) FROM x ORDER BY 1"""

# `new`, `gone`, `level`, `redrawn`: whole districts, from their own pieces.
_WHOLE = f"""
{_INSERT}
SELECT %(old)s, %(new)s, d.code, x.kind, CASE WHEN x.kind = 'redrawn' THEN d.boundary_updated_at END,
       {_TOLERANCE_DEG.format(g="p.geom")}, p.geom
  FROM unnest(%(ids)s::bigint[], %(kinds)s::text[]) AS x(id, kind)
  JOIN districts_district d ON d.id = x.id
  JOIN districts_districtpiece p ON p.district_id = d.id"""

# `overlap`: where two districts of one set meet (pairs of ids), piece by piece: polygons where they
# overlap, lines along a shared edge.
_OVERLAP = f"""
{_INSERT}
SELECT %(old)s, %(new)s, c.code, 'overlap', NULL, {_TOLERANCE_DEG.format(g="part.geom")}, part.geom
  FROM unnest(%(ids)s::bigint[], %(other_ids)s::bigint[]) AS x(id, other_id)
  JOIN districts_district c ON c.id = x.id
  JOIN districts_districtpiece pc ON pc.district_id = x.id
  JOIN districts_districtpiece po ON po.district_id = x.other_id AND po.geom && pc.geom
  CROSS JOIN LATERAL ST_Dump(ST_Intersection(pc.geom, po.geom)) AS part
 WHERE ST_Intersects(pc.geom, po.geom) AND NOT ST_IsEmpty(part.geom)"""

_REDRAWN = """
SELECT id FROM districts_district
 WHERE boundary_set_id = %(old)s AND level > 0 AND boundary_updated_at > %(after)s"""


@dataclass(frozen=True)
class AreaChange:
    """One district code whose area changes hands between two sets."""

    code: str
    kind: str  # moved (redrawn), new, gone, level (changed level)
    area_m2: float  # moved: the strips lost and gained; new, gone: the district; level: both


def changed_area_build(
    *,
    new_set_id: int | None,
    old_sets: Mapping[int, datetime | None],
    tolerance_m: float | None = None,
) -> list[AreaChange]:
    """Fill this session's CHANGED_AREA_TABLE with the area where routing in `new_set_id` differs
    from routing in each of `old_sets` (see the module's docstring); return the districts whose area
    changes hands, with that area (redrawn-in-place and overlap pieces are not listed).

    `old_sets` maps each old set to a time, or None: districts of that set whose boundary was written
    after the time are added whole, as `redrawn` (pass the earliest time anything was routed in
    it). A set may be the new set itself: then only its redrawn districts count. `tolerance_m` (the
    routing tolerance by default) sizes each piece's `tolerance_deg`, the search box for points
    within that distance of it. Needs a transaction: the table is emptied at each build and at the
    end of the transaction.
    """
    tolerance = float(settings.OPEN137_ROUTING_TOLERANCE_M if tolerance_m is None else tolerance_m)
    changes: list[AreaChange] = []
    with jit_off(), connection.cursor() as cursor:
        cursor.execute(_CREATE)
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {CHANGED_AREA_TABLE}_geom ON {CHANGED_AREA_TABLE} USING gist (geom)"
        )
        cursor.execute(f"TRUNCATE {CHANGED_AREA_TABLE}")
        for old_set_id, redrawn_after in sorted(old_sets.items()):
            params = {"old": old_set_id, "new": new_set_id, "tolerance_m": tolerance}
            whole: list[tuple[int, str]] = []
            if old_set_id != new_set_id:
                cursor.execute(_PAIRS, params)
                moved: list[tuple[str, int, int]] = []
                kept: list[tuple[str, int, int, int, float, float]] = []  # both sets, same level
                for code, old_id, new_id, old_level, new_level, old_area, new_area, same in cursor.fetchall():
                    if old_id is not None and new_id is not None and old_level == new_level:
                        kept.append((code, old_level, old_id, new_id, old_area, new_area))
                    if old_id is None:
                        whole.append((new_id, "new"))
                        changes.append(AreaChange(code, "new", float(new_area)))
                    elif new_id is None:
                        whole.append((old_id, "gone"))
                        changes.append(AreaChange(code, "gone", float(old_area)))
                    elif old_level != new_level:
                        whole += [(old_id, "level"), (new_id, "level")]
                        changes.append(AreaChange(code, "level", float(max(old_area, new_area))))
                    elif not same:
                        moved.append((code, old_id, new_id))
                if moved:
                    cursor.execute(
                        _MOVED,
                        {
                            **params,
                            "codes": [m[0] for m in moved],
                            "old_ids": [m[1] for m in moved],
                            "new_ids": [m[2] for m in moved],
                            "max_vertices": settings.OPEN137_SUBDIVIDE_MAX_VERTICES,
                        },
                    )
                    # Drawn differently but the same area (vertices in another order): no change.
                    changes += [
                        AreaChange(code, "moved", float(a)) for code, a, _n in cursor.fetchall() if a > 0
                    ]
                flipped = _order_flips(kept)
                if flipped:
                    cursor.execute(
                        _OVERLAP,
                        {**params, "ids": [p[0] for p in flipped], "other_ids": [p[1] for p in flipped]},
                    )
            if redrawn_after is not None:
                cursor.execute(_REDRAWN, {"old": old_set_id, "after": redrawn_after})
                whole += [(district_id, "redrawn") for (district_id,) in cursor.fetchall()]
            if whole:
                cursor.execute(
                    _WHOLE, {**params, "ids": [w[0] for w in whole], "kinds": [w[1] for w in whole]}
                )
        # The probes that follow join on this table: the planner needs its size and extent.
        cursor.execute(f"ANALYZE {CHANGED_AREA_TABLE}")
    return sorted(changes, key=lambda c: (-c.area_m2, c.code))


def _order_flips(kept: list[tuple[str, int, int, int, float, float]]) -> list[tuple[int, int]]:
    """Pairs of districts (old ids, then new ids) of one level, in both sets, whose order by area
    (then code: routing's tie-break within a level) differs between the sets: where they share
    points, the other one wins now. Only codes whose area changed can flip."""
    changed = [k for k in kept if k[4] != k[5]]
    pairs: list[tuple[int, int]] = []
    for code, level, old_id, new_id, old_area, new_area in changed:
        for other, other_level, other_old, other_new, other_old_area, other_new_area in kept:
            if other == code or other_level != level:
                continue
            once = other_old_area == other_new_area or other > code  # a pair of changed codes once
            before = (old_area, code) < (other_old_area, other)
            if once and before != ((new_area, code) < (other_new_area, other)):
                pairs += [(old_id, other_old), (new_id, other_new)]
    return pairs


@contextmanager
def jit_off() -> Iterator[None]:
    """JIT compilation off for the statements inside (a transaction's), put back after them: the
    PostGIS functions' declared costs push these statements' estimates over the JIT threshold, and
    compiling them took about 1.5 s where they run in milliseconds. (On an error the transaction
    or savepoint is rolled back, and the setting with it.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
        (saved, _off) = cursor.fetchone()
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', %s, true)", [saved])


def routed_code_sql(*, boundary_set: str, point: str) -> str:
    """SQL for the district code routing gives `point` in `boundary_set` (both SQL expressions), as
    `districts.selectors.route_point` decides it in the active set: the deepest covering district
    (TIE_BREAK), else the nearest within %(tolerance_m)s metres, else NULL (137 triage)."""
    within = _TOLERANCE_DEG.format(g=point)
    return f"""COALESCE(
      (SELECT d.code FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
        WHERE d.boundary_set_id = {boundary_set} AND d.level > 0 AND ST_Covers(p.geom, {point})
        ORDER BY {TIE_BREAK} LIMIT 1),
      (SELECT d.code FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
        WHERE d.boundary_set_id = {boundary_set} AND d.level > 0 AND %(tolerance_m)s > 0
          AND ST_DWithin(p.geom, {point}, {within})
          AND ST_Distance(p.geom::geography, ({point})::geography) <= %(tolerance_m)s
        ORDER BY ST_Distance(p.geom::geography, ({point})::geography), {TIE_BREAK} LIMIT 1))"""


@dataclass(frozen=True)
class DistrictMove:
    """Routed things (open reports) that would go from one district code to another."""

    before: str | None  # None: outside every district (137 triage)
    after: str | None
    count: int


# (old set id, new set id) -> the moves of what lies in CHANGED_AREA_TABLE built for that pair.
MoveCounter = Callable[[int, int], list[DistrictMove]]
_MOVE_COUNTERS: dict[str, MoveCounter] = {}


def move_counter_register(name: str, counter: MoveCounter) -> None:
    """Register what an app counts in a changed area (called from its `boundary_moves` module)."""
    _MOVE_COUNTERS[name] = counter


def changed_area_moves(*, old_set_id: int, new_set_id: int) -> dict[str, list[DistrictMove]]:
    """Per registered counter (e.g. "open reports"), what would move from `old_set_id`'s routing to
    `new_set_id`'s inside the area CHANGED_AREA_TABLE holds for that pair (build it first)."""
    autodiscover_modules("boundary_moves")
    with jit_off():
        return {name: counter(old_set_id, new_set_id) for name, counter in sorted(_MOVE_COUNTERS.items())}

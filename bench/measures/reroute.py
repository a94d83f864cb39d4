"""Re-routing at a city's scale: after an import that moves one county's edge by about 300 m, the
`reroute` dry run and the import's report of what changes hands, over the archive of a million
reports."""

from __future__ import annotations

from typing import Any

from bench.archive import archive_ensure
from bench.db import archive_size
from bench.registry import Result, measure, ratio_result, say
from bench.timing import timed

ARCHIVE_SIZE = archive_size()
EDGE_SHIFT_M = 300.0
TARGET_S = 5.0

# The busiest county, and the neighbour it shares the longest edge with: the edge moves into the
# neighbour by EDGE_SHIFT_M metres (measured in UTM zone 39N), so both are redrawn and the strip
# between the old and the new edge changes hands, as an import of corrected county limits would.
_MOVED_EDGE_SQL = """
WITH c AS (SELECT * FROM districts_district WHERE boundary_set_id = %(set)s AND code = %(code)s),
     n AS (SELECT d.*, ST_Length(ST_Intersection(ST_Boundary(d.boundary), ST_Boundary(c.boundary))::geography) AS shared
             FROM districts_district d, c
            WHERE d.boundary_set_id = %(set)s AND d.id <> c.id AND d.level = c.level
              AND ST_Intersects(d.boundary, c.boundary)
            ORDER BY shared DESC LIMIT 1),
     strip AS (SELECT ST_Intersection(n.boundary,
                        ST_Transform(ST_Buffer(ST_Transform(c.boundary, 32639), %(shift)s), 4326)) AS g
                 FROM c, n)
SELECT n.code, n.shared,
       ST_AsBinary(ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(c.boundary, strip.g)), 3))),
       ST_AsBinary(ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Difference(n.boundary, strip.g)), 3))),
       ST_Area(strip.g::geography)
  FROM c, n, strip"""


def _stamps_set_back(*, set_id: int, category_id: int, department_id: int) -> None:
    """The archive's reports are dated over ten years (`routed_at` with them), while the counties
    and the units were written when the bench database was made: to the re-routing rule every
    county would look redrawn after its reports were routed, and every unit changed. A city's
    reports are routed with the boundaries and units of their day: the stamps are set back to
    before the oldest report, as if these had been in place all along (inside the measure's
    transaction, rolled back at the end)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(routed_at) - interval '1 day' FROM issues_report WHERE category_id = %s",
            [category_id],
        )
        (before,) = cursor.fetchone()
        cursor.execute(
            "UPDATE districts_district SET boundary_updated_at = %s WHERE boundary_set_id = %s",
            [before, set_id],
        )
        cursor.execute(
            "UPDATE districts_servicearea SET changed_at = %s WHERE department_id = %s",
            [before, department_id],
        )


@measure("reroute_scale")
def reroute_scale() -> list[Result]:
    """After a boundary change that moves one county's edge by about 300 m, over the archive of
    1,000,000 reports (bench/archive.py; about 7 % of them open, in the counties' boundary set): a
    new boundary set is made with the busiest county grown 300 m into the neighbour it shares its
    longest edge with (the neighbour shrunk to match, the other counties copied), in a transaction
    rolled back at the end. Two figures, each against a target of 5 s:

    - `reroute_scale`: the dry run of `issues.services.reroute.reroute_run(commit=False)` once the
      new set is active: the candidates found in the changed area, routed again, the moves listed
      (how many of each is in the reference's text). Before the candidates were found from what
      changed, the same run tested every open report and took 13 min 37 s.
    - `reroute_scale_import`: what the boundary import's dry run adds to say what changes hands:
      the changed area of the active set against the new one (`districts.changes.changed_area_build`)
      and the open reports in it that would change district (`changed_area_moves`).

    The archive's counties and units are stamped as drawn before its oldest report (see
    `_stamps_set_back`)."""
    from django.contrib.gis.geos import GEOSGeometry
    from django.db import connection, transaction

    from districts.changes import changed_area_build, changed_area_moves
    from districts.models import BoundarySet, District
    from districts.services import boundary_set_activate, boundary_set_create, district_create
    from issues.services.reroute import reroute_run

    name = "reroute_scale"
    archive = archive_ensure(ARCHIVE_SIZE)
    old_set = BoundarySet.objects.get(active=True)
    results: dict[str, Any] = {}
    with transaction.atomic():
        _stamps_set_back(
            set_id=old_set.pk, category_id=archive.category_id, department_id=archive.city.department_id
        )
        with connection.cursor() as cursor:
            cursor.execute(
                _MOVED_EDGE_SQL, {"set": old_set.pk, "code": archive.busiest_county, "shift": EDGE_SHIFT_M}
            )
            neighbour, shared_m, grown, shrunk, strip_m2 = cursor.fetchone()
            cursor.execute(
                "SELECT count(*) FILTER (WHERE status = ANY(%s)), count(*) FROM issues_report",
                [sorted(_open_statuses())],
            )
            open_reports, reports = cursor.fetchone()
        say(
            name,
            f"county {archive.busiest_county} grows {EDGE_SHIFT_M:g} m into {neighbour} along "
            f"{shared_m / 1000:.0f} km ({strip_m2 / 1e6:.1f} km²); {open_reports:,} open of {reports:,} reports",
        )
        redrawn = {archive.busiest_county: bytes(grown), neighbour: bytes(shrunk)}
        new_set = boundary_set_create(name="bench: a county's edge moved 300 m", notes="Rolled back.")
        for district in District.objects.filter(boundary_set=old_set).order_by("level", "code"):
            boundary = (
                GEOSGeometry(memoryview(redrawn[district.code]), srid=4326)
                if district.code in redrawn
                else None
            )
            district_create(
                boundary_set=new_set,
                code=district.code,
                name_fa=district.name_fa,
                name_en=district.name_en,
                level=district.level,
                boundary=boundary or district.boundary,
                previous=district,
            )

        def import_report() -> tuple[list[Any], dict[str, Any]]:
            changes = changed_area_build(new_set_id=new_set.pk, old_sets={old_set.pk: None})
            return changes, changed_area_moves(old_set_id=old_set.pk, new_set_id=new_set.pk)

        results["import_s"], (changes, moves) = timed(import_report)
        moving = sum(m.count for m in moves.get("open reports", []))
        say(
            name,
            f"import's report: {results['import_s']:.2f} s; "
            + ", ".join(f"{c.code} {c.kind} {c.area_m2 / 1e6:.2f} km²" for c in changes)
            + f"; {moving:,} open reports would change district",
        )
        boundary_set_activate(boundary_set=new_set)
        results["reroute_s"], run = timed(lambda: reroute_run(commit=False))
        say(
            name,
            f"reroute dry run: {results['reroute_s']:.2f} s; {run.candidates:,} candidates, "
            f"{len(run.moves):,} moves",
        )
        if len(run.moves) != moving:
            say(
                name,
                f"note: the import counted {moving:,} open reports moving, reroute moves {len(run.moves):,}",
            )
        transaction.set_rollback(True)
    return [
        ratio_result(
            name=name,
            value=results["reroute_s"],
            unit="s",
            reference=f"target {TARGET_S:g} s ({run.candidates:,} candidates, {len(run.moves):,} moves, "
            f"{open_reports:,} open of {reports:,} reports)",
            reference_value=TARGET_S,
            max_ratio=1.0,
            digits=2,
        ),
        ratio_result(
            name=f"{name}_import",
            value=results["import_s"],
            unit="s",
            reference=f"target {TARGET_S:g} s ({len(changes)} districts change area, {moving:,} open reports move)",
            reference_value=TARGET_S,
            max_ratio=1.0,
            digits=2,
        ),
    ]


def _open_statuses() -> frozenset[str]:
    from issues.models import OPEN_STATUSES

    return frozenset(str(s) for s in OPEN_STATUSES)

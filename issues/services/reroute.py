"""Re-routing open reports after a boundary or unit change (`manage.py reroute`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from districts.selectors import Routing, route_point
from issues import events
from issues.models import OPEN_STATUSES, Report
from issues.services.intake import routing_fields


@dataclass(frozen=True)
class RerouteMove:
    tracking_code: str
    from_district: str | None
    to_district: str | None
    from_service_area: str | None
    to_service_area: str | None
    rule: str


# The districts (level > 0) of one boundary set that cover the report's point, as sorted keys: code
# and level, the area too where two districts of one level cover the point (a shared edge or an
# overlap: the smaller one wins, so an area changed elsewhere can flip it), and a '*' when `marked` and
# the district's boundary was written after the report was routed (the set was edited in place: what
# covered the point then is not known, so it counts as a change).
_COVERING_KEY = """ARRAY(
      SELECT k.code || '/' || k.level
             || CASE WHEN count(*) OVER (PARTITION BY k.level) > 1 THEN '/' || k.area_m2 ELSE '' END
             || CASE WHEN {marked} AND k.boundary_updated_at > o.routed_at THEN '*' ELSE '' END
        FROM (SELECT DISTINCT d.code, d.level, d.area_m2, d.boundary_updated_at
                FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
               WHERE d.boundary_set_id = {boundary_set} AND d.level > 0 AND ST_Covers(p.geom, o.location)) k
       ORDER BY 1)"""

# The open reports in the changed area, the only ones `reports_reroute` routes again. A report was
# routed in the boundary set of its district row (`rd`, kept when newer sets come) with the service
# areas as they were at `routed_at`; it is a candidate when, at its point, what routing reads differs:
#
# Districts (reports with a location), only when the report's set is not the active one or the
# active set was edited after the report was routed (otherwise nothing it depends on moved):
#  1. the district it was routed to (by code) no longer covers it in the active set: it shrank, moved
#     or its code is gone;
#  2. the districts covering it differ between its set and the active set (`_COVERING_KEY`): pointwise,
#     this is the union over codes of ST_SymDifference(old district, active district of the code), plus
#     whole districts whose code is new or gone, plus districts of its set redrawn after it was routed
#     (so a new sub-district, a grown neighbour, a parent's code changed with the region, an
#     old set activated again). An unchanged district copied into a new set covers the same points:
#     an identical re-import makes no candidate;
#  3. routed outside every district (`nearest`, `triage`) and still outside: the nearest active
#     district within the tolerance (as routing measures it) is not the one it was given; two at the
#     same distance count as a change (routing's tie-break decides). Only these few reports pay for
#     a distance.
#  Testing the point against the pieces is the cheap form of the geometric rule: two GiST probes per
#  report, no polygon operation, no ST_SymDifference of big polygons computed per report.
#
# Service areas (`changed_at`, stamped when a field routing reads changes), for units changed after
# the report was routed: the unit it was routed to (made inactive, own polygon removed, district code
# or department changed, no longer the central unit: its reports may leave), and for the report's own
# department, an active unit that may take it: its own polygon covers the point, it follows the
# report's district or one of its ancestors, or the report had no unit (a new central unit).
# Reports left to 137 triage get no unit whatever the units do.
#
# Only these are routed again, and only those whose district or unit changes are written.
REROUTE_CANDIDATES_SQL = f"""
WITH active AS MATERIALIZED (SELECT id FROM districts_boundaryset WHERE active),
active_edited AS MATERIALIZED (
  SELECT max(d.boundary_updated_at) AS at FROM districts_district d WHERE d.boundary_set_id = (SELECT id FROM active)),
units_changed AS MATERIALIZED (
  SELECT sa.id, sa.department_id, sa.district_code, sa.active, sa.changed_at FROM districts_servicearea sa
   WHERE sa.changed_at > (SELECT min(r.routed_at) FROM issues_report r WHERE r.status = ANY(%(open)s))),
o AS (
  SELECT r.id, r.location, r.routed_at, r.routing_rule, r.district_id, r.service_area_id, c.department_id,
         rd.code AS rd_code, rd.boundary_set_id AS rd_set,
         rdp.code AS parent_code, rdpp.code AS grandparent_code
    FROM issues_report r
    JOIN issues_category c ON c.id = r.category_id
    LEFT JOIN districts_district rd ON rd.id = r.district_id
    LEFT JOIN districts_district rdp ON rdp.id = rd.parent_id
    LEFT JOIN districts_district rdpp ON rdpp.id = rdp.parent_id
   WHERE r.status = ANY(%(open)s))
SELECT o.id FROM o
 WHERE (o.location IS NOT NULL
        AND (o.rd_set IS DISTINCT FROM (SELECT id FROM active) OR o.routed_at < (SELECT at FROM active_edited))
        AND (
          -- 1. its district no longer covers it
          (o.routing_rule = 'covers' AND NOT EXISTS (
             SELECT 1 FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
              WHERE d.boundary_set_id = (SELECT id FROM active) AND d.code = o.rd_code
                AND ST_Covers(p.geom, o.location)))
          -- 2. the districts covering it changed
          OR {_COVERING_KEY.format(marked="true", boundary_set="o.rd_set")}
             IS DISTINCT FROM {_COVERING_KEY.format(marked="false", boundary_set="(SELECT id FROM active)")}
          -- 3. outside every district: the nearest one within the tolerance is not the one it got
          OR (o.routing_rule IN ('nearest', 'triage') AND o.rd_code IS DISTINCT FROM (
               SELECT CASE count(DISTINCT n.code) WHEN 0 THEN NULL WHEN 1 THEN min(n.code) ELSE '' END
                 FROM (SELECT d.code, rank() OVER (ORDER BY ST_Distance(p.geom::geography, o.location::geography)) AS rk
                         FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
                        WHERE d.boundary_set_id = (SELECT id FROM active) AND d.level > 0
                          AND ST_DWithin(p.geom, o.location, %(tolerance_m)s / (111320.0
                              * GREATEST(cos(radians(LEAST(abs(ST_Y(o.location)), 89.0))), 0.01)) * 1.01)
                          AND ST_DWithin(p.geom::geography, o.location::geography, %(tolerance_m)s)) n
                WHERE n.rk = 1))))
    OR EXISTS (
       SELECT 1 FROM units_changed u
        WHERE u.changed_at > o.routed_at AND (
              u.id = o.service_area_id
           OR (u.department_id = o.department_id AND u.active
               AND (o.location IS NULL OR o.district_id IS NOT NULL)
               AND (o.service_area_id IS NULL
                    OR u.district_code IN (o.rd_code, o.parent_code, o.grandparent_code)
                    OR (o.location IS NOT NULL AND EXISTS (
                          SELECT 1 FROM districts_serviceareapiece sp
                           WHERE sp.service_area_id = u.id AND ST_Covers(sp.geom, o.location)))))))
 ORDER BY o.id"""


def reroute_candidate_ids() -> list[int]:
    """The open reports in the changed area (REROUTE_CANDIDATES_SQL), by id: a read, without locks.

    JIT is off for the query: the PostGIS functions' declared costs push its estimate over the JIT
    threshold, and compiling took about 1.5 s where the query itself takes 60 ms (50,000 open
    reports, nothing changed) to 1.4 s (all of them in a new boundary set). Put back afterwards, so
    a caller's transaction keeps its own setting.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit')")
        (saved,) = cursor.fetchone()
        cursor.execute("SELECT set_config('jit', 'off', true)")
        cursor.execute(
            REROUTE_CANDIDATES_SQL,
            {"open": list(OPEN_STATUSES), "tolerance_m": float(settings.OPEN137_ROUTING_TOLERANCE_M)},
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT set_config('jit', %s, true)", [saved])
    return ids


# Candidates are read and routed again in batches of this many reports.
REROUTE_BATCH = 500


def _reroute_move(report: Report) -> tuple[Routing, RerouteMove] | None:
    """The report routed again now, and the move, or None when district and unit stay the same."""
    routing = route_point(point=report.location, department_id=report.category.department_id)
    old_district = report.district.code if report.district else None
    old_area = report.service_area.code if report.service_area else None
    new_district = routing.district.code if routing.district else None
    new_area = routing.service_area.code if routing.service_area else None
    if (old_district, old_area) == (new_district, new_area):
        return None
    return routing, RerouteMove(
        report.tracking_code, old_district, new_district, old_area, new_area, str(routing.rule)
    )


def _routing_input(report: Report) -> tuple[object, ...]:
    """What a report's routing was computed from and wrote: unchanged, a planned move still holds."""
    return (
        report.status,
        report.category_id,
        bytes(report.location.ewkb) if report.location else None,
        report.district_id,
        report.service_area_id,
        report.routed_at,
    )


def reports_reroute(*, commit: bool, actor_label: str = "reroute") -> list[RerouteMove]:
    """Re-route the open reports in the changed area; return the moves. Without `commit` nothing is
    written (a dry run); with it, every move is a public 'rerouted' event on the report.

    The candidates are read and routed again without locks; only the reports that move are then
    locked (in id order) and written, in one transaction. Under the lock each is checked again: one
    closed meanwhile is left alone, one changed meanwhile (routed, moved, edited) is routed again.
    """
    ids = reroute_candidate_ids()
    planned: dict[int, tuple[tuple[object, ...], Routing, RerouteMove]] = {}
    for start in range(0, len(ids), REROUTE_BATCH):
        batch = (
            Report.objects.filter(pk__in=ids[start : start + REROUTE_BATCH])
            .select_related("district", "service_area", "category")
            .order_by("pk")
        )
        for report in batch:
            found = _reroute_move(report)
            if found is not None:
                planned[report.pk] = (_routing_input(report), *found)
    if not commit or not planned:
        return [move for _input, _routing, move in planned.values()]
    written: list[RerouteMove] = []
    with transaction.atomic():
        locked = (
            Report.objects.filter(pk__in=list(planned))
            .select_related("district", "service_area", "category")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        for report in locked:
            if not report.is_open:
                continue
            routing_input, routing, move = planned[report.pk]
            if _routing_input(report) != routing_input:
                found = _reroute_move(report)
                if found is None:
                    continue
                routing, move = found
            fields = routing_fields(routing)
            for field, value in fields.items():
                setattr(report, field, value)
            report.save(update_fields=[*fields.keys(), "updated_at"])
            events.rerouted_event(
                report=report,
                routing=routing,
                from_district=move.from_district,
                from_service_area=move.from_service_area,
                actor_label=actor_label,
            )
            written.append(move)
    return written

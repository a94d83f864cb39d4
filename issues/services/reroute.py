"""Re-routing open reports after a boundary or unit change (`manage.py reroute`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet

from districts.changes import CHANGED_AREA_TABLE, changed_area_build, jit_off
from districts.models import BoundarySet
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


@dataclass
class RerouteRun:
    """What one run found and did: the moves (written, or planned in a dry run), how many candidates
    were routed again, and the reports skipped because another write held them longer than the lock
    timeout (they move on the next run)."""

    moves: list[RerouteMove] = field(default_factory=list)
    candidates: int = 0
    skipped: list[str] = field(default_factory=list)  # tracking codes


# The districts (level > 0) of one boundary set that cover the report's point, as sorted keys: code
# and level, their order too where two districts of one level cover the point (a shared edge or an
# overlap: the smaller one wins, then the lower code, so an area changed elsewhere can flip it), and
# a '*' when `marked` and the district's boundary was written after the report was routed (the set
# was edited in place: what covered the point then is not known, so it counts as a change).
_COVERING_KEY = """ARRAY(
      SELECT k.code || '/' || k.level
             || CASE WHEN count(*) OVER (PARTITION BY k.level) > 1
                     THEN '/' || row_number() OVER (PARTITION BY k.level ORDER BY k.area_m2, k.code) ELSE '' END
             || CASE WHEN {marked} AND k.boundary_updated_at > o.routed_at THEN '*' ELSE '' END
        FROM (SELECT DISTINCT d.code, d.level, d.area_m2, d.boundary_updated_at
                FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
               WHERE d.boundary_set_id = {boundary_set} AND d.level > 0 AND ST_Covers(p.geom, o.location)) k
       ORDER BY 1)"""

# Which open reports `reports_reroute` routes again. A report was routed in the boundary set of its
# district row (`rd`, kept when newer sets come) with the service areas as they were at `routed_at`;
# it is a candidate when, at its point, what routing reads differs (the pointwise rule):
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
#     same distance count as a change (routing's tie-break decides).
#
# Service areas (`changed_at`, stamped when a field routing reads changes), for units changed after
# the report was routed: the unit it was routed to (made inactive, own polygon removed, district code
# or department changed, no longer the central unit: its reports may leave), and for the report's own
# department, an active unit that may take it: its own polygon covers the point, it follows the
# report's district or one of its ancestors, or the report had no unit (a new central unit).
# Reports left to 137 triage get no unit whatever the units do.
#
# The rule is tested only on the reports that `reroute_candidate_ids` found in the changed area
# (REROUTE_CANDIDATE_TABLE, see there): two GiST probes each, on a few reports instead of every open
# one. Only the candidates are routed again, and only those whose district or unit changes are
# written.
REROUTE_CANDIDATE_TABLE = "reroute_candidate"
REROUTE_CANDIDATES_SQL = f"""
WITH active AS MATERIALIZED (SELECT id FROM districts_boundaryset WHERE active),
active_edited AS MATERIALIZED (
  SELECT max(d.boundary_updated_at) AS at FROM districts_district d WHERE d.boundary_set_id = (SELECT id FROM active)),
units_changed AS MATERIALIZED (
  SELECT sa.id, sa.department_id, sa.district_code, sa.active, sa.changed_at FROM districts_servicearea sa
   WHERE sa.changed_at > %(units_since)s),
o AS (
  SELECT r.id, r.location, r.routed_at, r.routing_rule, r.district_id, r.service_area_id, c.department_id,
         rd.code AS rd_code, rd.boundary_set_id AS rd_set,
         rdp.code AS parent_code, rdpp.code AS grandparent_code
    FROM {REROUTE_CANDIDATE_TABLE} cand
    JOIN issues_report r ON r.id = cand.id
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

# Where the open reports were routed: per boundary set (NULL: no district), the earliest `routed_at`.
# The one pass over the open reports, on their (status, category) index: no geometry, no join
# beyond the district row; it says which sets' changes matter, from when in-place edits count, and
# which unit changes may concern an open report.
_ROUTED_SETS_SQL = """
SELECT rd.boundary_set_id, min(r.routed_at)
  FROM issues_report r LEFT JOIN districts_district rd ON rd.id = r.district_id
 WHERE r.status = ANY(%(open)s)
 GROUP BY 1"""

# The candidates, each set found through an index (the same report may come from several). Each
# probe runs alone in a MATERIALIZED step and the open statuses are checked on what it found: in
# the same step, the planner intersects every probe with the status index, which holds every open
# report (21 ms a probe with 75,000 open reports, 16 s for a moved county edge).
#  - in the changed area of its own set against the active one (a piece covers its point), or,
#    routed outside every district, within the routing tolerance of it: one GiST probe of the
#    reports' locations per piece. Pieces of districts redrawn in place count for what was routed
#    before the redraw (`since`).
_CANDIDATES_IN_CHANGED_AREA = f"""
WITH near AS MATERIALIZED (
  SELECT r.id, r.status, r.routed_at, r.routing_rule, r.district_id, c.old_set_id, c.since,
         ST_Covers(c.geom, r.location) AS inside
    FROM {CHANGED_AREA_TABLE} c
    JOIN issues_report r ON ST_DWithin(c.geom, r.location, c.tolerance_deg))
INSERT INTO {REROUTE_CANDIDATE_TABLE} (id)
SELECT DISTINCT n.id
  FROM near n
  JOIN districts_district rd ON rd.id = n.district_id AND rd.boundary_set_id = n.old_set_id
 WHERE n.status = ANY(%(open)s) AND (n.since IS NULL OR n.since > n.routed_at)
   AND (n.inside OR n.routing_rule IN ('nearest', 'triage'))
ON CONFLICT DO NOTHING"""
#  - routed to a district redrawn in place after it was routed (it may lie outside it now): by the
#    reports' district index, for those districts only.
_CANDIDATES_OF_REDRAWN = f"""
WITH found AS MATERIALIZED (
  SELECT r.id, r.status, r.routed_at, d.boundary_updated_at
    FROM (SELECT DISTINCT d.id, d.boundary_updated_at
            FROM {CHANGED_AREA_TABLE} c
            JOIN districts_district d ON d.boundary_set_id = c.old_set_id AND d.code = c.code
           WHERE c.kind = 'redrawn') d
    JOIN issues_report r ON r.district_id = d.id)
INSERT INTO {REROUTE_CANDIDATE_TABLE} (id)
SELECT id FROM found WHERE status = ANY(%(open)s) AND routed_at < boundary_updated_at
ON CONFLICT DO NOTHING"""
#  - without a district (137 triage, outside every district): no set to compare with, so all of
#    them (by the district index: they are the few reports from outside the city).
_CANDIDATES_WITHOUT_DISTRICT = f"""
INSERT INTO {REROUTE_CANDIDATE_TABLE} (id)
SELECT r.id FROM issues_report r
 WHERE r.district_id IS NULL AND r.location IS NOT NULL AND r.status = ANY(%(open)s)
ON CONFLICT DO NOTHING"""
#  - of a unit changed after the earliest open report was routed: its own reports (by the unit
#    index), and, for an active one, its department's reports that it may take: in its own polygon
#    (GiST probe), routed to the district it follows or a descendant (district index), or without a
#    unit (`department` NULL: any department).
_CANDIDATES_OF_CHANGED_UNITS = f"""
WITH u AS MATERIALIZED (
  SELECT id, department_id, district_code, active FROM districts_servicearea WHERE changed_at > %(units_since)s),
followed AS MATERIALIZED (
  SELECT u.department_id, d.id AS district_id
    FROM u JOIN districts_district d ON u.active AND u.district_code <> ''
    LEFT JOIN districts_district p ON p.id = d.parent_id
    LEFT JOIN districts_district g ON g.id = p.parent_id
   WHERE u.district_code IN (d.code, p.code, g.code)),
found AS MATERIALIZED (
  SELECT r.id, r.status, r.category_id, NULL::bigint AS department
    FROM u JOIN issues_report r ON r.service_area_id = u.id
  UNION ALL
  SELECT r.id, r.status, r.category_id, u.department_id
    FROM u JOIN districts_serviceareapiece sp ON sp.service_area_id = u.id AND u.active
    JOIN issues_report r ON ST_Covers(sp.geom, r.location)
  UNION ALL
  SELECT r.id, r.status, r.category_id, f.department_id
    FROM followed f JOIN issues_report r ON r.district_id = f.district_id
  UNION ALL
  SELECT r.id, r.status, r.category_id, d.department_id
    FROM (SELECT DISTINCT department_id FROM u WHERE active) d, issues_report r
   WHERE r.service_area_id IS NULL)
INSERT INTO {REROUTE_CANDIDATE_TABLE} (id)
SELECT DISTINCT f.id FROM found f JOIN issues_category c ON c.id = f.category_id
 WHERE f.status = ANY(%(open)s) AND (f.department IS NULL OR c.department_id = f.department)
ON CONFLICT DO NOTHING"""


def reroute_candidate_ids() -> list[int]:
    """The open reports in the changed area, by id: a read, without locks.

    The rule (REROUTE_CANDIDATES_SQL) is pointwise; testing it on every open report costs two
    polygon lookups each, minutes for a city's million reports. It is tested only on the reports
    that could satisfy it, found through indexes from what changed:

    1. One pass over the open reports says in which boundary sets they were routed and since when.
    2. For each such set, the area where routing in it differs from routing in the active set, cut
       into indexed pieces (`districts.changes.changed_area_build`): per code the symmetric
       difference of the old and the active district, whole districts whose code is new, gone or
       changed level, where two districts of a level whose order by area flipped meet, and the
       districts of the set redrawn after its earliest open report was routed (stamped `since`).
    3. The candidates (REROUTE_CANDIDATE_TABLE), each found through an index (see the statements):
       the reports of the set whose point a piece covers (a piece stamped `since` only for reports
       routed before it); the `nearest` and `triage` ones within the tolerance of a piece; those
       routed to a district redrawn after they were routed; those without a district; and those a
       changed unit may lose or take.
    4. The pointwise rule on the candidates only.

    Why this finds every report the rule finds, for each clause (a report of set S, active set A):
    2. the covering keys differ: a district of S covering the point is marked (redrawn after the
       report was routed: its redrawn pieces cover the point, with `since` after `routed_at`), or
       a code covers the point in one set and not the other (the point is in that code's symmetric
       difference, or in the whole district if new or gone; closed sets, so a point on an edge
       counts), or a code's level changed (whole districts), or the same codes cover it and two of
       one level changed order by area (where both cover it: their intersection);
    1. its district (code c) no longer covers it: it lay in S's c when routed, so either S's c has
       not been redrawn since and the point is in S's c minus A's c (the symmetric difference, or
       all of S's c if the code is gone), or S's c was redrawn after it was routed (its own district
       is redrawn);
    3. the nearest district within the tolerance changed: some district within the tolerance of the
       point differs between S and A (the point is within the tolerance of a piece) or was redrawn
       after it was routed (its redrawn pieces, or its own district redrawn); reports without a
       district are all tested. Not found: a report at exactly the same distance from two
       districts, nothing near it changed, whose areas changed elsewhere (the tie-break by area);
    units: the statements follow the rule's own terms, per changed unit.
    Nothing outside these can satisfy the rule, so the answer is the rule's, at the cost of what
    changed. The temporary tables' rows go at the end of the transaction.

    JIT is off for the statements (`districts.changes.jit_off`).
    """
    open_statuses = sorted(OPEN_STATUSES)
    tolerance = float(settings.OPEN137_ROUTING_TOLERANCE_M)
    with transaction.atomic(), jit_off(), connection.cursor() as cursor:
        cursor.execute(_ROUTED_SETS_SQL, {"open": open_statuses})
        routed: dict[int | None, datetime] = dict(cursor.fetchall())
        ids: list[int] = []
        if routed:
            active = BoundarySet.objects.filter(active=True).values_list("pk", flat=True).first()
            old_sets = {set_id: since for set_id, since in routed.items() if set_id is not None}
            changed_area_build(new_set_id=active, old_sets=old_sets, tolerance_m=tolerance)
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {REROUTE_CANDIDATE_TABLE} (id bigint PRIMARY KEY) ON COMMIT DELETE ROWS"
            )
            cursor.execute(f"TRUNCATE {REROUTE_CANDIDATE_TABLE}")
            params: dict[str, Any] = {"open": open_statuses, "units_since": min(routed.values())}
            for statement in (
                _CANDIDATES_IN_CHANGED_AREA,
                _CANDIDATES_OF_REDRAWN,
                _CANDIDATES_WITHOUT_DISTRICT,
                _CANDIDATES_OF_CHANGED_UNITS,
            ):
                cursor.execute(statement, params)
            cursor.execute(REROUTE_CANDIDATES_SQL, {**params, "tolerance_m": tolerance})
            ids = [row[0] for row in cursor.fetchall()]
    return ids


# Candidates are read, routed again and written in batches of this many reports, each batch in a
# transaction of its own: a citizen's write to a report waits for one batch at most, not the run.
REROUTE_BATCH = 500
# How long a batch waits for a report another transaction holds (a citizen adding a photo, staff
# acting on it) before leaving it for the next run (`SET LOCAL lock_timeout`).
REROUTE_LOCK_TIMEOUT_MS = 2000
# PostgreSQL's errors for a lock not obtained in time, and for a deadlock it broke.
_LOCK_NOT_OBTAINED = {"55P03", "40P01"}


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


def _lock_not_obtained(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in _LOCK_NOT_OBTAINED


def _reports(ids: list[int]) -> QuerySet[Report]:
    return (
        Report.objects.filter(pk__in=ids)
        .select_related("district", "service_area", "category")
        .order_by("pk")
    )


def _batch_write(
    *,
    planned: dict[int, tuple[tuple[object, ...], Routing, RerouteMove]],
    actor_label: str,
    lock_timeout_ms: int,
    run: RerouteRun,
) -> None:
    """Lock and write one batch's moves in a transaction of its own.

    The reports free now are locked at once (SKIP LOCKED); each one held by another transaction is
    then waited for, up to the lock timeout, and left for the next run if it stays held. Under the
    lock each is checked again: one closed meanwhile is left alone, one changed meanwhile (routed,
    moved, edited) is routed again.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (saved,) = cursor.fetchone()
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(lock_timeout_ms)}ms"])
        locked = {r.pk: r for r in _reports(list(planned)).select_for_update(of=("self",), skip_locked=True)}
        for pk in sorted(set(planned) - set(locked)):
            try:
                with transaction.atomic():
                    report = _reports([pk]).select_for_update(of=("self",)).first()
            except OperationalError as exc:
                if not _lock_not_obtained(exc):
                    raise
                run.skipped.append(planned[pk][2].tracking_code)
                continue
            if report is not None:
                locked[pk] = report
        for pk in sorted(locked):
            report = locked[pk]
            if not report.is_open:
                continue
            routing_input, routing, move = planned[pk]
            if _routing_input(report) != routing_input:
                found = _reroute_move(report)
                if found is None:
                    continue
                routing, move = found
            fields = routing_fields(routing)
            for name, value in fields.items():
                setattr(report, name, value)
            report.save(update_fields=[*fields.keys(), "updated_at"])
            events.rerouted_event(
                report=report,
                routing=routing,
                from_district=move.from_district,
                from_service_area=move.from_service_area,
                actor_label=actor_label,
            )
            run.moves.append(move)
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [saved])


def reroute_run(
    *, commit: bool, actor_label: str = "reroute", lock_timeout_ms: int = REROUTE_LOCK_TIMEOUT_MS
) -> RerouteRun:
    """Re-route the open reports in the changed area. Without `commit` nothing is written (a dry
    run: the moves it would make); with it, every move is a public 'rerouted' event on the report.

    The candidates (`reroute_candidate_ids`) are read and routed again without locks, in batches
    of REROUTE_BATCH; with `commit`, each batch's moves are then locked and written in a
    transaction of its own (`_batch_write`), so no report stays locked longer than its batch, and a
    report another write holds longer than `lock_timeout_ms` is skipped (listed in `skipped`) and
    moved by the next run.
    """
    ids = reroute_candidate_ids()
    run = RerouteRun(candidates=len(ids))
    for start in range(0, len(ids), REROUTE_BATCH):
        planned: dict[int, tuple[tuple[object, ...], Routing, RerouteMove]] = {}
        for report in _reports(ids[start : start + REROUTE_BATCH]):
            found = _reroute_move(report)
            if found is not None:
                planned[report.pk] = (_routing_input(report), *found)
        if not planned:
            continue
        if not commit:
            run.moves += [move for _input, _routing, move in planned.values()]
            continue
        _batch_write(planned=planned, actor_label=actor_label, lock_timeout_ms=lock_timeout_ms, run=run)
    return run


def reports_reroute(*, commit: bool, actor_label: str = "reroute") -> list[RerouteMove]:
    """`reroute_run`'s moves: the reports re-routed (with `commit`) or that would be (a dry run)."""
    return reroute_run(commit=commit, actor_label=actor_label).moves

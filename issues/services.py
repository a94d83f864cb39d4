"""Writes for reports: creation with routing, and re-routing after boundary changes.

Every change of a report is recorded as a ReportEvent in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.selectors import Routing, route_point
from geo.srid import GEO_SRID
from geo.text import normalize_persian
from issues.formats import token_hash
from issues.models import OPEN_STATUSES, Category, Channel, Report, ReportEvent, ReportSupport
from issues.validation import CleanSubmission, submission_clean
from open137.db import fetchone_prepared, insert_sql

# Tracking codes are read over the phone: no 0/O, 1/I/L, 2/Z, 5/S or 8/B to confuse.
TRACKING_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
TRACKING_LENGTH = 8


# 25**8 codes: a clash is rare, and the unique constraint, not a look-up beforehand, catches it.
TRACKING_ATTEMPTS = 5


def tracking_code_new() -> str:
    # One draw from the whole code space, written in base 25: each code as likely as any other, with
    # one read of the system's randomness instead of one per letter.
    number = secrets.randbelow(len(TRACKING_ALPHABET) ** TRACKING_LENGTH)
    letters = []
    for _position in range(TRACKING_LENGTH):
        number, index = divmod(number, len(TRACKING_ALPHABET))
        letters.append(TRACKING_ALPHABET[index])
    return "".join(letters)


def _is_tracking_code_clash(exc: IntegrityError) -> bool:
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
    return "tracking_code" in constraint


def _expected_at(category: Category) -> datetime | None:
    """When the report should be resolved by. For now plain calendar time from now plus the
    category's resolve SLA; the SLA clock in working time (Jalali calendar, Fridays and the holiday
    table off) is a later piece of work and will replace this estimate."""
    if not category.sla_resolve_hours:
        return None
    return timezone.now() + timedelta(hours=category.sla_resolve_hours)


def _routing_fields(routing: Routing) -> dict[str, object]:
    return {
        "district_id": routing.district.id if routing.district else None,
        "service_area_id": routing.service_area.id if routing.service_area else None,
        "routing_rule": routing.rule,
        "routing_distance_m": routing.distance_m,
        "routed_at": timezone.now(),
    }


def _routing_data(routing: Routing) -> dict[str, object]:
    return {
        "district": routing.district.code if routing.district else None,
        "service_area": routing.service_area.code if routing.service_area else None,
        "rule": str(routing.rule),
        "distance_m": round(routing.distance_m, 1),
    }


# A new report and its `created` event are written by one statement: the report's INSERT in a WITH,
# the event's INSERT taking the new id from it. Both INSERTs are the ones the ORM builds for the
# instances (open137.db.insert_sql); sent as one prepared statement, a report costs one round trip
# and, when nothing else is written with it, no BEGIN and COMMIT either.
_NEW_REPORT = "new_report"


_NEW_REPORT_ID = RawSQL(f"SELECT id FROM {_NEW_REPORT}", ())


def _report_and_event_insert(*, report: Report, event: ReportEvent) -> None:
    report_sql, report_params = insert_sql(report, returning=["id"])
    event.report_id = _NEW_REPORT_ID  # type: ignore[assignment]
    event_sql, event_params = insert_sql(event, returning=["id", "report_id"])
    row = fetchone_prepared(
        f"WITH {_NEW_REPORT} AS ({report_sql}) {event_sql}", [*report_params, *event_params]
    )
    assert row is not None  # INSERT ... RETURNING gives its row or raises
    for instance in (report, event):
        instance._state.adding = False
        instance._state.db = connection.alias
    report.pk = row[1]
    event.pk = row[0]
    event.report = report


# The model's checks run on what callers pass in (a submission's fields, already held to
# issues.validation by report_submit, but not by an import or the demo); the columns report_create
# sets itself (code, city, status, routing, tokens, times) need none. Uniqueness is the database's
# job (the insert): no look-ups beforehand.
_REPORT_FROM_CALLERS = {
    "kind",
    "description",
    "location",
    "address",
    "channel",
    "reporter_name",
    "reporter_phone",
    "reporter_email",
    "consent_contact",
    "attributes",
    "idempotency_key",
}
_REPORT_SET_HERE = [f.name for f in Report._meta.fields if f.name not in _REPORT_FROM_CALLERS]


def report_create(
    *,
    category: Category,
    location: Point | None,
    description: str = "",
    kind: str = "",
    channel: str = Channel.WEB,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    actor: User | None = None,
    consent_contact: bool = False,
    attributes: dict[str, Any] | None = None,
    private_token_hash: str | None = None,
    idempotency_key: str | None = None,
    idempotency_fingerprint: str = "",
    open311_token: str | None = None,
    routing: Routing | None = None,
    retry_tracking_code: bool = True,
) -> Report:
    """Create a report and route it (district, service area, unit); nothing is dropped: a point
    outside every district goes to the 137 triage queue. One INSERT carries every column, the
    submission's tokens included (see report_submit)."""
    if location is None and category.location_required:
        raise ValidationError({"location": [_("This category needs a location on the map.")]})
    if routing is None:
        routing = route_point(point=location, department_id=category.department_id)
    report = Report(
        tracking_code=tracking_code_new(),
        city=settings.OPEN137_CITY,
        category=category,
        kind=kind or category.kind,
        description=description,
        description_search=normalize_persian(description),
        location=location,
        address=address,
        channel=channel,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        reporter_email=reporter_email,
        consent_contact=consent_contact,
        attributes=attributes or {},
        private_token_hash=private_token_hash,
        idempotency_key=idempotency_key or None,
        idempotency_fingerprint=idempotency_fingerprint,
        open311_token=open311_token,
        expected_at=_expected_at(category),
        **_routing_fields(routing),
    )
    report.full_clean(exclude=_REPORT_SET_HERE, validate_unique=False)
    event = ReportEvent(
        kind=ReportEvent.Kind.CREATED,
        actor=actor if actor and actor.pk else None,
        to_status=report.status,
        data={"routing": _routing_data(routing), "channel": channel},
    )
    # Everything that can refuse the report has run. The insert is one statement, atomic on its own;
    # only inside a caller's transaction does a clash of tracking codes need a savepoint to retry in.
    savepoint = retry_tracking_code and connection.in_atomic_block
    for attempt in range(1, TRACKING_ATTEMPTS + 1):
        try:
            with transaction.atomic() if savepoint else nullcontext():
                _report_and_event_insert(report=report, event=event)
            break
        except IntegrityError as exc:
            # Without retry_tracking_code the caller retries its whole transaction (report_submit).
            if not retry_tracking_code or not _is_tracking_code_clash(exc) or attempt == TRACKING_ATTEMPTS:
                raise
            report.tracking_code = tracking_code_new()
    return report


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
            fields = _routing_fields(routing)
            for field, value in fields.items():
                setattr(report, field, value)
            report.save(update_fields=[*fields.keys(), "updated_at"])
            ReportEvent.objects.create(
                report=report,
                kind=ReportEvent.Kind.REROUTED,
                actor_label=actor_label,
                from_status=report.status,
                to_status=report.status,
                note=_("Re-routed after a boundary change."),
                data={
                    "from": {"district": move.from_district, "service_area": move.from_service_area},
                    "routing": _routing_data(routing),
                },
            )
            written.append(move)
    return written


@dataclass(frozen=True)
class ReportSubmission:
    report: Report
    # The reporter's private token, in clear only in the answer to the request that created the report
    # and to a replay of that request (same idempotency key, same submission).
    private_token: str | None
    created: bool
    # How the new report was routed (None on a replay: read it from the stored report).
    routing: Routing | None = None


MAX_PHOTOS = 3


def private_token_for_key(idempotency_key: str) -> str:
    """The private token of a submission sent with an idempotency key, derived from the key: a retry
    of the same submission (its answer lost to a flaky network) gets the same private link again,
    and only the token's hash is stored, as for a random one."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"private-token:{idempotency_key}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()[:24]


def _submission_fingerprint(
    *,
    category: Category,
    location: Point | None,
    kind: str,
    clean: CleanSubmission,
    consent_contact: bool,
    photo_count: int,
) -> str:
    """SHA-256 of everything the citizen sent, normalised (the point to about 0.1 m): a retry with the
    same idempotency key must match it to be taken for the same submission."""
    where = None
    if location is not None:
        if location.srid and location.srid != GEO_SRID:
            location = cast(Point, location.transform(GEO_SRID, clone=True))
        where = [f"{location.x:.6f}", f"{location.y:.6f}"]
    data = {
        "category": category.pk,
        "location": where,
        "kind": kind or category.kind,
        "description": clean.description,
        "address": clean.address,
        "attributes": clean.attributes,
        "name": clean.reporter_name,
        "phone": clean.reporter_phone,
        "email": clean.reporter_email,
        "consent_contact": bool(consent_contact),
        "photos": photo_count,
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def report_submit(
    *,
    category: Category,
    location: Point | None,
    description: str = "",
    kind: str = "",
    channel: str = Channel.WEB,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    consent_contact: bool = False,
    attributes: dict[str, Any] | None = None,
    photos: Sequence[UploadedFile] = (),
    idempotency_key: str | None = None,
    actor: User | None = None,
    routing: Routing | None = None,
) -> ReportSubmission:
    """A citizen's (or a client's) submission: validated (issues.validation, the same rules for the
    web form, the API and Open311), routed, photos stored, the reporter told by SMS or e-mail through
    the outbox. The same idempotency key with the same submission gives the same report back.

    `routing`: the location already routed for the category's department (an entrance that routed it
    while checking the point), so it is not looked up twice."""
    from issues import notifications
    from issues import photos as photo_store

    errors: dict[str, list[ValidationError]] = {}
    try:
        clean = submission_clean(
            category=category,
            description=description,
            address=address,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
            reporter_email=reporter_email,
            attributes=attributes,
        )
    except ValidationError as exc:
        errors.update(exc.error_dict)
    if location is None and category.location_required:
        errors["location"] = [ValidationError(_("This category needs a location on the map."))]
    if len(photos) > MAX_PHOTOS:
        errors["photos"] = [ValidationError(_("At most %(n)d photos.") % {"n": MAX_PHOTOS})]
    if errors:
        raise ValidationError(errors)
    # Only a submission with an idempotency key can be a retry to compare with the first copy.
    fingerprint = (
        _submission_fingerprint(
            category=category,
            location=location,
            kind=kind,
            clean=clean,
            consent_contact=consent_contact,
            photo_count=len(photos),
        )
        if idempotency_key
        else ""
    )
    replay = _replay_if_known(idempotency_key, category=category, fingerprint=fingerprint, clean=clean)
    if replay is not None:
        return replay
    # Photos are decoded and cleaned before anything is written: a bad file refuses the whole report.
    processed = [photo_store.photo_process(upload=upload) for upload in photos]
    token = private_token_for_key(idempotency_key) if idempotency_key else secrets.token_urlsafe(18)
    if location is None and category.location_required:
        raise ValidationError({"location": [_("This category needs a location on the map.")]})
    # Routing only reads: done before the transaction opens, so the transaction stays short.
    if routing is None:
        routing = route_point(point=location, department_id=category.department_id)
    # The report and its event are one statement (report_create); a transaction is opened only when
    # photos or messages are written with them, or inside a caller's transaction (a savepoint, so
    # that a clash of tracking codes undoes only this attempt).
    own_transaction = (
        bool(processed)
        or notifications.report_created_has_recipient(phone=clean.reporter_phone, email=clean.reporter_email)
        or connection.in_atomic_block
    )
    for attempt in range(1, TRACKING_ATTEMPTS + 1):
        try:
            with (
                photo_store.photo_files_undone_on_error(),
                transaction.atomic() if own_transaction else nullcontext(),
            ):
                report = report_create(
                    routing=routing,
                    retry_tracking_code=False,
                    category=category,
                    location=location,
                    description=clean.description,
                    kind=kind,
                    channel=channel,
                    address=clean.address,
                    reporter_name=clean.reporter_name,
                    reporter_phone=clean.reporter_phone,
                    reporter_email=clean.reporter_email,
                    actor=actor,
                    consent_contact=consent_contact,
                    attributes=clean.attributes,
                    private_token_hash=token_hash(token),
                    idempotency_key=idempotency_key or None,
                    idempotency_fingerprint=fingerprint,
                    open311_token=secrets.token_hex(16),
                )
                for photo in processed:
                    photo_store.photo_save(report=report, photo=photo)
                notifications.report_created_notify(report=report, private_token=token)
            break
        except IntegrityError as exc:
            if _is_tracking_code_clash(exc) and attempt < TRACKING_ATTEMPTS:
                continue  # the whole submission again, under a new code
            # Two copies of one submission raced; the other one won and is the report.
            replay = _replay_if_known(
                idempotency_key, category=category, fingerprint=fingerprint, clean=clean
            )
            if replay is not None:
                return replay
            raise
    return ReportSubmission(report=report, private_token=token, created=True, routing=routing)


def _replay_if_known(
    idempotency_key: str | None, *, category: Category, fingerprint: str, clean: CleanSubmission
) -> ReportSubmission | None:
    """The report an earlier copy of this submission created (same idempotency key), if any."""
    if not idempotency_key:
        return None
    existing = Report.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    return _idempotent_replay(
        existing, category=category, idempotency_key=idempotency_key, fingerprint=fingerprint, clean=clean
    )


def _idempotent_replay(
    report: Report,
    *,
    category: Category,
    idempotency_key: str,
    fingerprint: str,
    clean: CleanSubmission,
) -> ReportSubmission:
    if report.idempotency_fingerprint:
        same = hmac.compare_digest(report.idempotency_fingerprint, fingerprint)
    else:
        # A report stored before fingerprints were kept: its category and text decide.
        same = report.category_id == category.pk and report.description == clean.description
    if not same:
        raise ValidationError(
            {"idempotency_key": [_("This idempotency key was already used for a different report.")]},
            code="idempotency_conflict",
        )
    token = private_token_for_key(idempotency_key)
    # Only a token derived from this key opens the report (not one made at random, nor under an
    # earlier SECRET_KEY): otherwise the replay carries no private link.
    opens = bool(report.private_token_hash) and hmac.compare_digest(
        token_hash(token), report.private_token_hash or ""
    )
    return ReportSubmission(report=report, private_token=token if opens else None, created=False)


@transaction.atomic
def report_support(*, report: Report, fingerprint: str, channel: str = Channel.WEB) -> tuple[Report, bool]:
    """A "me too" on an open report; the same client counts once. Returns (report, whether added)."""
    if not report.is_open:
        raise ValidationError(_("This report is closed; it can no longer be supported."), code="closed")
    _support, added = ReportSupport.objects.get_or_create(
        report=report, fingerprint=fingerprint, defaults={"channel": channel}
    )
    if added:
        Report.objects.filter(pk=report.pk).update(support_count=F("support_count") + 1)
        ReportEvent.objects.create(
            report=report,
            kind=ReportEvent.Kind.NOTE,
            actor_label="citizen",
            public=True,
            note=_("A citizen reported the same problem (me too)."),
            data={"support": True, "channel": channel},
        )
        report.refresh_from_db(fields=["support_count"])
    return report, added


# What the citizen can say through their private link. Information is welcome while the report is
# open; "fixed / not fixed" is asked once the unit says the work is done (or 137 has closed it).
CITIZEN_INFO_MAX = 4000
# ReportStatus values: done by the unit, verified, closed, resolved by citizens.
FEEDBACK_STATUSES = frozenset({"done", "verified", "closed", "resolved_by_citizens"})


def report_add_info(*, report: Report, text: str, photos: Sequence[UploadedFile] = ()) -> ReportEvent:
    """The reporter adds information (text, photos) to their open report: a public note on the
    timeline, photos stored like the report's own."""
    from issues import photos as photo_store

    text = (text or "").strip()
    if not report.is_open:
        raise ValidationError(
            {"text": [_("This report is closed; information can no longer be added.")]}, code="closed"
        )
    if not text and not photos:
        raise ValidationError({"text": [_("Write something or add a photo.")]}, code="empty")
    if len(text) > CITIZEN_INFO_MAX:
        raise ValidationError(
            {"text": [_("At most %(n)d characters.") % {"n": CITIZEN_INFO_MAX}]}, code="too_long"
        )
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": [_("At most %(n)d photos.") % {"n": MAX_PHOTOS}]})
    processed = [photo_store.photo_process(upload=upload) for upload in photos]
    with photo_store.photo_files_undone_on_error(), transaction.atomic():
        for photo in processed:
            photo_store.photo_save(report=report, photo=photo)
        return _citizen_note(report=report, note=text, data={"citizen_info": True, "photos": len(processed)})


# What 137 staff may correct on a report by hand (the admin): how to reach the reporter, and where.
# Everything else changes through workflow services, each its own event.
REPORT_CORRECTABLE_FIELDS = (
    "address",
    "reporter_name",
    "reporter_phone",
    "reporter_email",
    "consent_contact",
)


@transaction.atomic
def report_details_correct(
    *, report: Report, actor: User | None, changed: Sequence[str]
) -> ReportEvent | None:
    """Save staff's corrections of `changed` fields (already set on `report`) with a private event
    naming the fields and who changed them. The values are not copied into the history: the
    reporter's contact details stay in one place, where they can be corrected or erased."""
    fields = sorted({name for name in changed if name in REPORT_CORRECTABLE_FIELDS})
    if any(name not in REPORT_CORRECTABLE_FIELDS for name in changed):
        raise ValueError(f"not correctable by hand: {sorted(set(changed) - set(fields))}")
    if not fields:
        return None
    report.save(update_fields=[*fields, "updated_at"])
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.NOTE,
        actor=actor if actor and actor.pk else None,
        public=False,
        data={"corrected": fields},
    )


@transaction.atomic
def report_citizen_feedback(*, report: Report, fixed: bool, note: str = "") -> ReportEvent:
    """The reporter says whether the unit's work fixed the problem: a public event on the timeline
    (the verification workflow decides what follows, e.g. reopening on "not fixed")."""
    if report.status not in FEEDBACK_STATUSES:
        raise ValidationError(
            {"fixed": [_("You can say whether it is fixed once the unit reports the work as done.")]},
            code="not_done",
        )
    note = (note or "").strip()[:1000]
    return _citizen_note(
        report=report,
        note=note,
        data={"citizen_feedback": "fixed" if fixed else "not_fixed"},
        from_status=report.status,
        to_status=report.status,
    )


def _citizen_note(*, report: Report, note: str, data: dict[str, Any], **fields: Any) -> ReportEvent:
    """What the reporter said through their private link: a public note on the timeline, and the
    report counts as updated."""
    report.save(update_fields=["updated_at"])
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.NOTE,
        actor_label="citizen",
        public=True,
        note=note,
        data=data,
        **fields,
    )


def rate_counter_hit(*, key: str, window_start: float, keep_seconds: float) -> int:
    """Count one request of `key` in the window starting at `window_start` (a Unix time) and return
    the window's count so far, in one statement. The first hit of a window also clears the key's
    older windows, and now and then everyone's windows older than `keep_seconds`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO issues_ratecounter (key, window_start, hits) VALUES (%s, to_timestamp(%s), 1)
               ON CONFLICT (key, window_start) DO UPDATE SET hits = issues_ratecounter.hits + 1
               RETURNING hits""",
            [key, window_start],
        )
        hits = int(cursor.fetchone()[0])
        if hits == 1:
            cursor.execute(
                "DELETE FROM issues_ratecounter WHERE key = %s AND window_start < to_timestamp(%s)",
                [key, window_start],
            )
            if secrets.randbelow(200) == 0:
                cursor.execute(
                    "DELETE FROM issues_ratecounter WHERE window_start < to_timestamp(%s)",
                    [window_start - keep_seconds],
                )
    return hits

"""Writes for reports: creation with routing, and re-routing after boundary changes.

Every change of a report is recorded as a ReportEvent in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.selectors import Routing, route_point
from geo.text import normalize_persian
from issues.models import OPEN_STATUSES, Category, Channel, Report, ReportEvent, ReportSupport

# Tracking codes are read over the phone: no 0/O, 1/I/L, 2/Z, 5/S or 8/B to confuse.
TRACKING_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
TRACKING_LENGTH = 8


def tracking_code_new() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


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


@transaction.atomic
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
) -> Report:
    """Create a report and route it (district, service area, unit); nothing is dropped: a point
    outside every district goes to the 137 triage queue."""
    if location is None and category.location_required:
        raise ValidationError({"location": [_("This category needs a location on the map.")]})
    routing = route_point(point=location, department_id=category.department_id)
    for _attempt in range(5):
        code = tracking_code_new()
        if not Report.objects.filter(tracking_code=code).exists():
            break
    report = Report(
        tracking_code=code,
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
        **_routing_fields(routing),
    )
    report.full_clean(exclude=["district", "service_area", "category"])
    report.save()
    ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.CREATED,
        actor=actor if actor and actor.pk else None,
        to_status=report.status,
        data={"routing": _routing_data(routing), "channel": channel},
    )
    return report


@dataclass(frozen=True)
class RerouteMove:
    tracking_code: str
    from_district: str | None
    to_district: str | None
    from_service_area: str | None
    to_service_area: str | None
    rule: str


# Open reports whose routing may have changed with the boundaries: the point is no longer covered by
# an active district of the code it was routed to (its district shrank, moved or vanished), or an
# active district or service-area polygon that changed after the report was routed now covers it (a
# grown or new district, a new sub-district, a redrawn snow zone), or it was never in a district.
# Only these are re-routed: reports away from the changed area are not touched.
REROUTE_CANDIDATES_SQL = """
SELECT r.id FROM issues_report r
  LEFT JOIN districts_district rd ON rd.id = r.district_id
 WHERE r.status = ANY(%(open)s) AND r.location IS NOT NULL AND (
       r.district_id IS NULL
    OR NOT EXISTS (
         SELECT 1 FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
           JOIN districts_boundaryset s ON s.id = d.boundary_set_id AND s.active
          WHERE d.code = rd.code AND ST_Covers(p.geom, r.location))
    OR EXISTS (
         SELECT 1 FROM districts_districtpiece p JOIN districts_district d ON d.id = p.district_id
           JOIN districts_boundaryset s ON s.id = d.boundary_set_id AND s.active
          WHERE d.level > 0 AND d.boundary_updated_at > r.routed_at AND ST_Covers(p.geom, r.location))
    OR EXISTS (
         SELECT 1 FROM districts_serviceareapiece p JOIN districts_servicearea sa ON sa.id = p.service_area_id
          WHERE sa.boundary_updated_at > r.routed_at AND ST_Covers(p.geom, r.location))
    OR EXISTS (
         SELECT 1 FROM districts_servicearea sa
          WHERE sa.id = r.service_area_id AND sa.boundary IS NOT NULL AND NOT ST_Covers(sa.boundary, r.location))
)"""


def reports_reroute(*, commit: bool, actor_label: str = "reroute") -> list[RerouteMove]:
    """Re-route the open reports in the changed area; return the moves. Without `commit` nothing is
    written (a dry run); with it, every move is a public 'rerouted' event on the report."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(REROUTE_CANDIDATES_SQL, {"open": list(OPEN_STATUSES)})
            ids = [row[0] for row in cursor.fetchall()]
        moves: list[RerouteMove] = []
        reports = (
            Report.objects.filter(pk__in=ids)
            .select_related("district", "service_area", "category")
            .order_by("pk")
        )
        if commit:
            reports = reports.select_for_update(of=("self",))
        for report in reports:
            routing = route_point(point=report.location, department_id=report.category.department_id)
            old_district = report.district.code if report.district else None
            old_area = report.service_area.code if report.service_area else None
            new_district = routing.district.code if routing.district else None
            new_area = routing.service_area.code if routing.service_area else None
            if (old_district, old_area) == (new_district, new_area):
                continue
            moves.append(
                RerouteMove(
                    report.tracking_code, old_district, new_district, old_area, new_area, str(routing.rule)
                )
            )
            if commit:
                for field, value in _routing_fields(routing).items():
                    setattr(report, field, value)
                report.save(update_fields=[*_routing_fields(routing).keys(), "updated_at"])
                ReportEvent.objects.create(
                    report=report,
                    kind=ReportEvent.Kind.REROUTED,
                    actor_label=actor_label,
                    from_status=report.status,
                    to_status=report.status,
                    note=_("Re-routed after a boundary change."),
                    data={
                        "from": {"district": old_district, "service_area": old_area},
                        "routing": _routing_data(routing),
                    },
                )
    return moves


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ReportSubmission:
    report: Report
    # The reporter's private token, in clear only in the answer to the request that created the report.
    private_token: str | None
    created: bool


MAX_PHOTOS = 3


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
) -> ReportSubmission:
    """A citizen's (or a client's) submission: validated, routed, photos stored, the reporter told
    by SMS or e-mail through the outbox. The same idempotency key gives the same report back."""
    from issues import notifications
    from issues import photos as photo_store

    if idempotency_key:
        existing = Report.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _idempotent_replay(existing, category=category, description=description)
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": [_("At most %(n)d photos.") % {"n": MAX_PHOTOS}]})
    # Photos are decoded and cleaned before anything is written: a bad file refuses the whole report.
    processed = [photo_store.photo_process(upload=upload) for upload in photos]
    token = secrets.token_urlsafe(18)
    try:
        with transaction.atomic():
            report = report_create(
                category=category,
                location=location,
                description=description,
                kind=kind,
                channel=channel,
                address=address,
                reporter_name=reporter_name,
                reporter_phone=reporter_phone,
                reporter_email=reporter_email,
                actor=actor,
            )
            report.consent_contact = consent_contact
            report.attributes = attributes or {}
            report.private_token_hash = token_hash(token)
            report.idempotency_key = idempotency_key or None
            report.open311_token = secrets.token_hex(16)
            report.save(
                update_fields=[
                    "consent_contact",
                    "attributes",
                    "private_token_hash",
                    "idempotency_key",
                    "open311_token",
                ]
            )
            for photo in processed:
                photo_store.photo_save(report=report, photo=photo)
            notifications.report_created_notify(report=report, private_token=token)
    except IntegrityError:
        # Two copies of one submission raced; the other one won and is the report.
        if idempotency_key:
            existing = Report.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _idempotent_replay(existing, category=category, description=description)
        raise
    return ReportSubmission(report=report, private_token=token, created=True)


def _idempotent_replay(report: Report, *, category: Category, description: str) -> ReportSubmission:
    if report.category_id != category.pk or report.description != description:
        raise ValidationError(
            {"idempotency_key": [_("This idempotency key was already used for a different report.")]},
            code="idempotency_conflict",
        )
    return ReportSubmission(report=report, private_token=None, created=False)


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


@transaction.atomic
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
    for photo in processed:
        photo_store.photo_save(report=report, photo=photo)
    report.save(update_fields=["updated_at"])
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.NOTE,
        actor_label="citizen",
        public=True,
        note=text,
        data={"citizen_info": True, "photos": len(processed)},
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
    report.save(update_fields=["updated_at"])
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.NOTE,
        actor_label="citizen",
        public=True,
        from_status=report.status,
        to_status=report.status,
        note=note,
        data={"citizen_feedback": "fixed" if fixed else "not_fixed"},
    )

"""Writes of the participation app: participation points (staff manage them, citizens say one is
empty) and pledges ("I'll take care of it"). Each write is one transaction and leaves an event.

A pledge closes its report only through the workflow's `report_transition` (action
"resolve_by_citizens"), as the reporter (role "citizen", through their private link) or as a member
of staff whose role and scope the workflow checks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.selectors import district_for_point
from geo.srid import in_geo_srid
from issues import events
from issues.formats import token_hash
from issues.models import MessageKind, Report
from issues.validation import text_clean
from issues.workflow import transitions as table
from issues.workflow.services import TransitionConflict, report_transition
from participation.models import (
    LIVE_PLEDGE_STATUSES,
    ParticipationPoint,
    Pledge,
    PledgeEvent,
    PledgeStatus,
    PointEmptyReport,
    PointEvent,
    PointKind,
    PointStatus,
)

NAME_MAX = 200
NOTES_MAX = 2000
PLEDGER_NAME_MAX = 100
PLEDGER_CONTACT_MAX = 200
STAFF_LABEL = "staff"


def _user(actor: AbstractBaseUser | None) -> Any:
    return actor if actor is not None and actor.pk else None


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _text(value: Any, *, field: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(field, _("Send text."))
    try:
        cleaned = text_clean(text=value, limit=limit)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}, code=exc.code) from None
    if required and not cleaned:
        raise _invalid(field, _("This is required."), code="required")
    return cleaned


# --- Participation points ----------------------------------------------------------------------


def point_fields_clean(*, kind: Any, name_fa: Any, name_en: Any, location: Any, notes: Any) -> dict[str, Any]:
    """A point's fields checked and cleaned, or a ValidationError by field: the one rule set of the
    services, the admin's form and the demo loader."""
    if kind not in PointKind.values:
        raise _invalid("kind", _("Choose a kind: %(list)s.") % {"list": ", ".join(PointKind.values)})
    if not isinstance(location, Point) or location.empty:
        raise _invalid("location", _("Give the point's location."), code="required")
    location = in_geo_srid(location)
    if not (-180 <= location.x <= 180 and -90 <= location.y <= 90):
        raise _invalid("location", _("The location is outside the map."))
    return {
        "kind": kind,
        "name_fa": _text(name_fa, field="name_fa", limit=NAME_MAX, required=True),
        "name_en": _text(name_en, field="name_en", limit=NAME_MAX),
        "location": location,
        "notes": _text(notes, field="notes", limit=NOTES_MAX),
    }


def _district_id_for(location: Point) -> int | None:
    """The id of the district the point falls in: districts' selector answers it in its one read,
    so the foreign key is set without reading the district row again."""
    match = district_for_point(point=location)
    return match.id if match else None


@transaction.atomic
def point_create(
    *,
    kind: str,
    name_fa: str,
    location: Point,
    name_en: str = "",
    notes: str = "",
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> ParticipationPoint:
    """A new point, stocked, in the district its location falls in (districts' selector)."""
    fields = point_fields_clean(kind=kind, name_fa=name_fa, name_en=name_en, location=location, notes=notes)
    point = ParticipationPoint.objects.create(**fields, district_id=_district_id_for(fields["location"]))
    PointEvent.objects.create(
        point=point, kind=PointEvent.Kind.CREATED, actor=_user(actor), actor_label=actor_label or ""
    )
    return point


@transaction.atomic
def point_update(
    *,
    point: ParticipationPoint,
    actor: AbstractBaseUser | None,
    kind: str,
    name_fa: str,
    name_en: str,
    location: Point,
    notes: str,
) -> ParticipationPoint:
    """Staff edit a point: the event names the fields changed, not their values."""
    fields = point_fields_clean(kind=kind, name_fa=name_fa, name_en=name_en, location=location, notes=notes)
    locked = ParticipationPoint.objects.select_for_update().get(pk=point.pk)
    changed = []
    for name, value in fields.items():
        old = getattr(locked, name)
        same = old.equals_exact(value, 1e-9) if name == "location" else old == value
        if not same:
            setattr(locked, name, value)
            changed.append(name)
    if not changed:
        return locked
    if "location" in changed:
        locked.district_id = _district_id_for(locked.location)
        changed.append("district")
    locked.save(update_fields=[*changed, "updated_at"])
    PointEvent.objects.create(
        point=locked, kind=PointEvent.Kind.EDITED, actor=_user(actor), data={"fields": sorted(changed)}
    )
    return locked


@dataclass
class EmptyReport:
    point: ParticipationPoint
    # Whether this client's report was new (False: the same client tapped again this round).
    added: bool


def point_report_empty(*, point_id: int, fingerprint: str) -> EmptyReport:
    """A citizen says the point is empty. Each client counts once per stocking round: a second tap
    changes nothing. The first report of a round turns the point empty. A retired point is not
    found (ParticipationPoint.DoesNotExist)."""
    with transaction.atomic():
        point = ParticipationPoint.objects.select_for_update().get(pk=point_id, retired_at__isnull=True)
        try:
            with transaction.atomic():
                PointEmptyReport.objects.create(
                    point=point, stock_round=point.stock_round, fingerprint=fingerprint
                )
        except IntegrityError:
            return EmptyReport(point=point, added=False)
        now = timezone.now()
        point.empty_reports = F("empty_reports") + 1
        changed = ["empty_reports", "updated_at"]
        if point.status != PointStatus.EMPTY:
            point.status = PointStatus.EMPTY
            point.reported_empty_at = now
            changed += ["status", "reported_empty_at"]
        point.save(update_fields=changed)
        point.refresh_from_db()
        PointEvent.objects.create(
            point=point,
            kind=PointEvent.Kind.REPORTED_EMPTY,
            actor_label=events.CITIZEN,
            data={"round": point.stock_round, "reports": point.empty_reports},
        )
        return EmptyReport(point=point, added=True)


@transaction.atomic
def point_restock(*, point: ParticipationPoint, actor: AbstractBaseUser | None) -> ParticipationPoint:
    """Staff refilled the point: stocked again, and a new round of empty reports begins. Restocking
    a stocked point is recorded too (a routine refill)."""
    locked = ParticipationPoint.objects.select_for_update().get(pk=point.pk)
    if locked.retired:
        raise TransitionConflict(_("This point is retired."), code="retired")
    previous = {"status": locked.status, "empty_reports": locked.empty_reports}
    locked.status = PointStatus.STOCKED
    locked.stock_round += 1
    locked.empty_reports = 0
    locked.reported_empty_at = None
    locked.save(update_fields=["status", "stock_round", "empty_reports", "reported_empty_at", "updated_at"])
    PointEvent.objects.create(point=locked, kind=PointEvent.Kind.RESTOCKED, actor=_user(actor), data=previous)
    return locked


@transaction.atomic
def point_retire(*, point: ParticipationPoint, actor: AbstractBaseUser | None) -> ParticipationPoint:
    """The point is taken away: gone from the map and the API, its history kept."""
    locked = ParticipationPoint.objects.select_for_update().get(pk=point.pk)
    if locked.retired:
        return locked
    locked.retired_at = timezone.now()
    locked.save(update_fields=["retired_at", "updated_at"])
    PointEvent.objects.create(point=locked, kind=PointEvent.Kind.RETIRED, actor=_user(actor))
    return locked


# --- Pledges -----------------------------------------------------------------------------------


@dataclass
class PledgeCreated:
    pledge: Pledge
    # The private pledge link's token, in clear only here (stored hashed).
    token: str


def report_pledgeable(report: Report) -> bool:
    """Whether a citizen may pledge on the report now: a problem of a category the city marks as
    doable by citizens, still open and not yet reported done by the unit (the states the workflow
    lets "resolved by citizens" leave)."""
    category = report.category
    return bool(
        category is not None
        and category.citizen_doable
        and report.kind == MessageKind.SERVICE_REQUEST
        and report.status in table.ACTIVE
    )


def _pledge_conflict(pledge: Pledge, message: str, code: str) -> TransitionConflict:
    return TransitionConflict(message, code=code, current={"pledge": pledge.status})


def pledge_create(*, report: Report, name: Any = "", contact: Any = "") -> PledgeCreated:
    """A citizen pledges to take care of the report. One live pledge per report: while one is
    pledged or said done, another is refused (TransitionConflict "already_pledged", 409). A report
    that is not pledgeable is a ValidationError "not_doable" (400)."""
    name = _text(name, field="name", limit=PLEDGER_NAME_MAX)
    contact = _text(contact, field="contact", limit=PLEDGER_CONTACT_MAX)
    with transaction.atomic():
        locked = Report.objects.select_for_update(of=("self",)).select_related("category").get(pk=report.pk)
        if not report_pledgeable(locked):
            raise _invalid(
                "report",
                _(
                    "Citizens cannot take care of this report: its category is not marked as doable by citizens, or it is no longer open."
                ),
                code="not_doable",
            )
        live = Pledge.objects.filter(report=locked, status__in=LIVE_PLEDGE_STATUSES).first()
        if live is not None:
            raise _pledge_conflict(
                live, _("Another citizen has already offered to take care of this report."), "already_pledged"
            )
        token = secrets.token_urlsafe(24)
        try:
            with transaction.atomic():
                pledge = Pledge.objects.create(
                    report=locked, name=name, contact=contact, token_hash=token_hash(token)
                )
        except IntegrityError:  # pragma: no cover - the report's lock serialises pledges
            raise TransitionConflict(
                _("Another citizen has already offered to take care of this report."), code="already_pledged"
            ) from None
        PledgeEvent.objects.create(pledge=pledge, kind=PledgeEvent.Kind.PLEDGED, actor_label="pledger")
        events.citizen_pledge_event(report=locked, step="pledged")
    return PledgeCreated(pledge=pledge, token=token)


def _pledge_locked(pledge: Pledge) -> Pledge:
    # The pledge and its report only: a lock on the category row (joined for the checks) would make
    # every new report of that category in the city wait for this step (their foreign key's check).
    return (
        Pledge.objects.select_for_update(of=("self", "report"))
        .select_related("report", "report__category")
        .get(pk=pledge.pk)
    )


@transaction.atomic
def pledge_done(*, pledge: Pledge) -> Pledge:
    """The pledger says it is done (through their private pledge link): now the reporter or staff
    may confirm. 409 unless the pledge is live and its report still open."""
    locked = _pledge_locked(pledge)
    if locked.status != PledgeStatus.ACTIVE:
        raise _pledge_conflict(locked, _("This pledge is not open any more."), "pledge_not_active")
    if locked.report.status not in table.ACTIVE:
        raise _pledge_conflict(locked, _("The report is no longer open."), "report_closed")
    locked.status = PledgeStatus.DONE
    locked.done_at = timezone.now()
    locked.save(update_fields=["status", "done_at"])
    PledgeEvent.objects.create(pledge=locked, kind=PledgeEvent.Kind.DONE, actor_label="pledger")
    events.citizen_pledge_event(report=locked.report, step="done")
    return locked


@transaction.atomic
def pledge_withdraw(*, pledge: Pledge) -> Pledge:
    """The pledger withdraws (before it is confirmed): the report is free for another pledge."""
    locked = _pledge_locked(pledge)
    if locked.status not in LIVE_PLEDGE_STATUSES:
        raise _pledge_conflict(locked, _("This pledge is not open any more."), "pledge_not_active")
    locked.status = PledgeStatus.WITHDRAWN
    locked.withdrawn_at = timezone.now()
    locked.save(update_fields=["status", "withdrawn_at"])
    PledgeEvent.objects.create(pledge=locked, kind=PledgeEvent.Kind.WITHDRAWN, actor_label="pledger")
    events.citizen_pledge_event(report=locked.report, step="withdrawn")
    return locked


@transaction.atomic
def pledge_confirm(*, pledge: Pledge, actor: AbstractBaseUser | None = None) -> Pledge:
    """The reporter (actor None: the caller checked their private token) or a member of staff
    (`actor`: the workflow checks role and scope: ReportNotFound 404, ActionForbidden 403) confirms
    the citizen's work: the report closes as resolved by citizens. 409 unless the pledger said done
    and the report is still where the workflow lets it be resolved."""
    locked = _pledge_locked(pledge)
    if locked.status != PledgeStatus.DONE:
        raise _pledge_conflict(locked, _("The citizen has not said it is done yet."), "pledge_not_done")
    by_reporter = actor is None
    note = (
        _("A citizen took care of it; the reporter confirmed.")
        if by_reporter
        else _("A citizen took care of it; the municipality confirmed.")
    )
    report_transition(
        report=locked.report,
        action="resolve_by_citizens",
        actor=actor,
        as_role=table.CITIZEN if by_reporter else None,
        note=note,
    )
    locked.status = PledgeStatus.CONFIRMED
    locked.confirmed_at = timezone.now()
    locked.save(update_fields=["status", "confirmed_at"])
    PledgeEvent.objects.create(
        pledge=locked,
        kind=PledgeEvent.Kind.CONFIRMED,
        actor=_user(actor),
        actor_label="reporter" if by_reporter else STAFF_LABEL,
    )
    return locked

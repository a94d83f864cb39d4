"""A new report: routed (district, service area, unit) and written with its `created` event."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.selectors import Routing, route_point
from geo.text import normalize_persian
from issues import events
from issues.models import Category, Channel, Report, ReportEvent, ReportStatus
from issues.services import tracking
from issues.workflow.selectors import report_acknowledge_due_at, report_expected_at, working_calendar
from open137.db import fetchone_prepared, insert_sql


def routing_fields(routing: Routing) -> dict[str, object]:
    return {
        "district_id": routing.district.id if routing.district else None,
        "service_area_id": routing.service_area.id if routing.service_area else None,
        "routing_rule": routing.rule,
        "routing_distance_m": routing.distance_m,
        "routed_at": timezone.now(),
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
    private_token_sealed: str | None = None,
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
    now = timezone.now()
    calendar = working_calendar()
    report = Report(
        tracking_code=tracking.tracking_code_new(),
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
        private_token_sealed=private_token_sealed,
        idempotency_key=idempotency_key or None,
        idempotency_fingerprint=idempotency_fingerprint,
        open311_token=open311_token,
        # A report routed to a unit is in its inbox at once (forwarded); one in the 137 triage queue
        # waits for a supervisor to choose the unit.
        status=ReportStatus.FORWARDED if routing.service_area else ReportStatus.RECEIVED,
        # The SLA clocks run in working time from now (issues/workflow/sla.py).
        acknowledge_due_at=report_acknowledge_due_at(category=category, start=now, calendar=calendar),
        expected_at=report_expected_at(category=category, start=now, calendar=calendar),
        **routing_fields(routing),
    )
    report.full_clean(exclude=_REPORT_SET_HERE, validate_unique=False)
    event = events.created_event(status=report.status, routing=routing, channel=channel, actor=actor)
    # Everything that can refuse the report has run. The insert is one statement, atomic on its own;
    # only inside a caller's transaction does a clash of tracking codes need a savepoint to retry in.
    savepoint = retry_tracking_code and connection.in_atomic_block
    for attempt in range(1, tracking.TRACKING_ATTEMPTS + 1):
        try:
            with transaction.atomic() if savepoint else nullcontext():
                _report_and_event_insert(report=report, event=event)
            break
        except IntegrityError as exc:
            # Without retry_tracking_code the caller retries its whole transaction (report_submit).
            if (
                not retry_tracking_code
                or not tracking.is_tracking_code_clash(exc)
                or attempt == tracking.TRACKING_ATTEMPTS
            ):
                raise
            report.tracking_code = tracking.tracking_code_new()
    return report

"""Reads for staff: the inbox in scope (one class of rows shared by the console's list and map, the
staff API and the CSV/GeoJSON exports, as FixMyStreet shares its reporting between dashboard and
export), and one report's staff view.

Every read starts from `reports_in_scope`: a row outside the member of staff's scope never leaves
the database. Contact details are selected only for the roles that may see them.

Pages are cut by a cursor on (created_at, id), newest first, not by an offset: the hundredth page
costs what the first does, whatever the size of the archive.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from issues.filters import MAX_LIST_ITEMS, FilterError, ReportFilters, report_filters_parse
from issues.models import OPEN_STATUSES, Report, ReportEvent, ReportPhoto, ReportStatus, Role
from issues.selectors import lat_expression, lon_expression, photo_url, report_filters_apply
from issues.workflow.inbox_sql import staff_page_sql
from issues.workflow.scope import StaffScope, reports_in_scope
from issues.workflow.transitions import SUPERVISOR_ONLY_KINDS, actions_allowed
from open137.db import fetchall_prepared

# States in which the unit has not yet said it has the report: the acknowledge deadline runs.
AWAITING_ACKNOWLEDGEMENT = (
    ReportStatus.RECEIVED,
    ReportStatus.FORWARDED,
    ReportStatus.TRANSFERRED,
    ReportStatus.REOPENED,
)
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500

STAFF_COLUMNS = (
    "id",
    "tracking_code",
    "version",
    "status",
    "kind",
    "channel",
    "description",
    "address",
    "category__code",
    "category__name_fa",
    "category__name_en",
    "district__code",
    "district__name_fa",
    "district__name_en",
    "service_area__code",
    "service_area__unit_name_fa",
    "service_area__unit_name_en",
    "assigned_to__username",
    "support_count",
    "generated",
    "created_at",
    "updated_at",
    "acknowledge_due_at",
    "expected_at",
)
CONTACT_COLUMNS = ("reporter_name", "reporter_phone", "reporter_email", "consent_contact")


@dataclass(frozen=True)
class StaffFilters:
    """The public list's filters (same names, same meaning) and the staff's own."""

    base: ReportFilters
    units: tuple[str, ...] = ()
    overdue: bool = False
    # Reports without a unit: the 137 triage queue.
    triage: bool = False
    assigned_to_me: bool = False


def _flag(value: str | None, field: str) -> bool:
    value = (value or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise FilterError(field, _("must be true or false."))


def staff_filters_parse(params: Mapping[str, str]) -> StaffFilters:
    """StaffFilters from query parameters, or FilterError naming the parameter."""
    units_raw = params.get("unit") or ""
    if "\x00" in units_raw:
        raise FilterError("unit", _("contains a NUL character."))
    units = tuple(u.strip() for u in units_raw.split(",") if u.strip())
    if len(units) > MAX_LIST_ITEMS:
        raise FilterError("unit", _("at most %(n)d values.") % {"n": MAX_LIST_ITEMS})
    return StaffFilters(
        base=report_filters_parse(params),
        units=units,
        overdue=_flag(params.get("overdue"), "overdue"),
        triage=_flag(params.get("triage"), "triage"),
        assigned_to_me=_flag(params.get("mine"), "mine"),
    )


def overdue_expression(now: datetime | None = None) -> Case:
    """True for an open report past its resolve deadline, or not acknowledged past that deadline."""
    now = now or timezone.now()
    return Case(
        When(
            Q(status__in=list(OPEN_STATUSES))
            & (Q(expected_at__lt=now) | Q(status__in=AWAITING_ACKNOWLEDGEMENT, acknowledge_due_at__lt=now)),
            then=Value(True),
        ),
        default=Value(False),
        output_field=BooleanField(),
    )


def staff_reports(*, scope: StaffScope, filters: StaffFilters) -> QuerySet[Report]:
    """The reports in scope matching the filters, newest first (not yet cut into a page)."""
    now = timezone.now()
    qs = report_filters_apply(qs=reports_in_scope(scope=scope), filters=filters.base)
    if filters.units:
        qs = qs.filter(service_area__code__in=filters.units)
    if filters.triage:
        qs = qs.filter(service_area__isnull=True)
    if filters.assigned_to_me:
        qs = qs.filter(assigned_to_id=scope.user_id)
    if filters.overdue:
        qs = qs.filter(status__in=list(OPEN_STATUSES)).filter(
            Q(expected_at__lt=now) | Q(status__in=AWAITING_ACKNOWLEDGEMENT, acknowledge_due_at__lt=now)
        )
    return qs.order_by("-created_at", "-id")


def cursor_encode(row: Mapping[str, Any]) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_text, id_text = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
        at = parse_datetime(at_text)
        if at is None or not id_text.isdecimal() or len(id_text) > 18:
            raise ValueError(cursor)
        return at, int(id_text)
    except (ValueError, binascii.Error, UnicodeError):
        raise FilterError("cursor", _("is not a cursor this list gave.")) from None


def staff_report_page(
    *, scope: StaffScope, filters: StaffFilters, cursor: str | None = None, limit: int = PAGE_SIZE_DEFAULT
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the inbox as rows (with `lon`, `lat`, `overdue`; contacts for the 137 centre),
    and the cursor of the next page (None on the last). One prepared statement (inbox_sql.py)."""
    if not scope.sees_reports:
        return [], None
    sql, params = staff_page_sql(
        scope_districts=scope.district_ids,
        scope_units=scope.service_area_ids,
        supervisor_kinds=None if scope.role in (Role.SUPERVISOR, Role.OPERATOR) else SUPERVISOR_ONLY_KINDS,
        contacts=scope.sees_contacts,
        base=filters.base,
        units=filters.units,
        triage=filters.triage,
        mine_user_id=scope.user_id if filters.assigned_to_me else None,
        overdue=filters.overdue,
        after=cursor_decode(cursor) if cursor else None,
        limit=limit + 1,
    )
    names, tuples = fetchall_prepared(sql, params)
    rows = [dict(zip(names, values, strict=True)) for values in tuples]
    next_cursor = cursor_encode(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def staff_report_rows(
    *, scope: StaffScope, filters: StaffFilters, limit: int = 100_000
) -> list[dict[str, Any]]:
    """Every row matching the filters, for the CSV and GeoJSON exports (bounded by `limit`)."""
    rows, _cursor = staff_report_page(scope=scope, filters=filters, limit=limit)
    return rows


def staff_report_count(*, scope: StaffScope, filters: StaffFilters, cap: int = 10_000) -> int:
    """How many reports match, counted up to `cap` (beyond it the inbox says "more than"): a count
    must not cost a scan of the archive."""
    return staff_reports(scope=scope, filters=filters).order_by()[:cap].count()


def staff_report_detail(*, scope: StaffScope, code: str) -> dict[str, Any] | None:
    """One report as a member of staff sees it: every event (internal ones too), every photo, the
    actions this role may take now, the contacts for the 137 centre. None out of scope."""
    from issues.selectors import tracking_code_normalize

    normalized = tracking_code_normalize(code)
    if not normalized:
        return None
    columns = STAFF_COLUMNS + (CONTACT_COLUMNS if scope.sees_contacts else ())
    # Unordered, as report_in_scope_get: the unique tracking code's index finds the row.
    found = list(
        reports_in_scope(scope=scope)
        .filter(tracking_code=normalized)
        .annotate(lon=lon_expression(), lat=lat_expression(), overdue=overdue_expression())
        .values(*columns, "lon", "lat", "overdue", "duplicate_of__tracking_code", "referred_to", "attributes")
        .order_by()[:1]
    )
    row = found[0] if found else None
    if row is None:
        return None
    row["timeline"] = list(
        ReportEvent.objects.filter(report_id=row["id"])
        .order_by("at", "id")
        .values(
            "id",
            "at",
            "kind",
            "from_status",
            "to_status",
            "note",
            "public",
            "actor__username",
            "actor_label",
            "data",
        )
    )
    if not scope.sees_contacts:
        # What an Open311 client sent about its user (device, account) is personal data, as the
        # contacts are: the 137 centre's alone.
        for event in row["timeline"]:
            if event["kind"] == ReportEvent.Kind.CLIENT_DETAILS:
                event["data"] = {}
    row["photos"] = [
        {"url": photo_url(p["image"]), "kind": p["kind"], "width": p["width"], "height": p["height"]}
        for p in ReportPhoto.objects.filter(report_id=row["id"])
        .order_by("created_at", "id")
        .values("image", "kind", "width", "height")
    ]
    row["actions"] = [
        t.action for t in actions_allowed(status=row["status"], kind=row["kind"], role=scope.role)
    ]
    return row

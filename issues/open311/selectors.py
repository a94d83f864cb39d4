"""Reads for Open311: services (categories), requests (reports), their public timeline and the
status-updates feed.

Lists are `.values()` rows with everything a document needs joined or annotated in the same query
(the unit's name, the latest public status note, the first public photo), so a page of 1,000
requests costs one query, and its notes one more. Reporter contact fields are never selected: what
is not read cannot leak into an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.contrib.gis.measure import D
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from districts.selectors import degrees_for_metres
from issues.cursor import KeysetPage, PageCursor, keyset_page
from issues.models import OPEN_STATUS_LIST, Category, CategoryAttribute, Report, ReportEvent, ReportPhoto

# A `.values()` row: column (or annotation) name -> value.
Row = Mapping[str, Any]


def service_list() -> list[Row]:
    """Active categories with their department and whether they ask extra questions."""
    return list(
        Category.objects.filter(active=True)
        .annotate(has_attributes=Exists(CategoryAttribute.objects.filter(category=OuterRef("pk"))))
        .order_by("department__code", "order", "code")
        .values(
            "code",
            "name_fa",
            "name_en",
            "description_fa",
            "description_en",
            "kind",
            "department__name_fa",
            "department__name_en",
            "has_attributes",
        )
    )


def service_attributes(*, category_id: int) -> list[Row]:
    """A category's questions (Open311's service definition attributes), in their order."""
    return list(
        CategoryAttribute.objects.filter(category_id=category_id)
        .order_by("order", "code")
        .values("code", "datatype", "required", "description_fa", "description_en", "values", "order")
    )


@dataclass
class RequestFilters:
    """What a `GET requests` asks for, already parsed and validated (see params.py)."""

    ids: list[str] | None = None  # tracking codes: when given, every other filter is ignored
    service_codes: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    statuses: set[str] = field(default_factory=set)  # "open", "closed"
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    near: Point | None = None
    radius_m: float = 0.0
    offset: int = 0
    limit: int = 1000
    cursor: PageCursor | None = None  # a page by key (offset 0); see issues/cursor.py


REQUEST_FIELDS = (
    "id",
    "tracking_code",
    "status",
    "description",
    "address",
    "location",
    "created_at",
    "updated_at",
    "expected_at",
    "channel",
    "support_count",
    "generated",
    "category__code",
    "category__name_fa",
    "category__name_en",
    "category__department__name_fa",
    "category__department__name_en",
    "service_area__unit_name_fa",
    "service_area__unit_name_en",
    "district__code",
    "status_notes",
    "photo",
)


def _reports() -> QuerySet[Report]:
    # One installation serves one city; the city key keeps a shared, many-city database honest.
    return Report.objects.filter(city=settings.OPEN137_CITY)


def request_rows(*, filters: RequestFilters) -> list[Row]:
    """Requests as rows, newest first, with the status note and first photo of each: those named by
    `filters.ids`, or the page at `filters.offset` (request_page pages by cursor too)."""
    reports = _request_queryset(filters=filters)
    if filters.ids is None:
        reports = reports[filters.offset : filters.offset + filters.limit]
    return list(reports)


def request_page(*, filters: RequestFilters) -> KeysetPage:
    """A page of requests (not by `ids`) after or before `filters.cursor`, or at `filters.offset` (a
    shallow page by number), with the cursors of the pages around it. Every filter is served by an
    index that yields its reports newest first (issues/models.py), so a page costs about the same at
    any depth and any archive size."""
    return keyset_page(
        _request_queryset(filters=filters), cursor=filters.cursor, limit=filters.limit, offset=filters.offset
    )


def _request_queryset(*, filters: RequestFilters) -> QuerySet[Report, dict[str, Any]]:
    reports = _reports()
    if filters.ids is not None:
        reports = reports.filter(tracking_code__in=filters.ids)
    else:
        if filters.service_codes:
            reports = reports.filter(category__code__in=filters.service_codes)
        if filters.start is not None:
            reports = reports.filter(created_at__gte=filters.start)
        if filters.end is not None:
            reports = reports.filter(created_at__lte=filters.end)
        # The fixed list of the partial index `report_public_open`, which serves `status=open`.
        if filters.statuses == {"open"}:
            reports = reports.filter(status__in=OPEN_STATUS_LIST)
        elif filters.statuses == {"closed"}:
            reports = reports.exclude(status__in=OPEN_STATUS_LIST)
        if filters.bbox is not None:
            reports = reports.filter(location__intersects=Polygon.from_bbox(filters.bbox))
        if filters.near is not None:
            reports = reports.filter(
                location__dwithin=(filters.near, degrees_for_metres(filters.radius_m, filters.near.y)),
                location__distance_lte=(filters.near, D(m=filters.radius_m)),
            )
    # Why the request is in its state: the latest public status change that says something.
    status_notes = (
        ReportEvent.objects.filter(report=OuterRef("pk"), public=True, kind=ReportEvent.Kind.STATUS)
        .exclude(note="")
        .order_by("-at", "-id")
        .values("note")[:1]
    )
    photo = ReportPhoto.objects.filter(report=OuterRef("pk"), public=True).order_by("created_at", "id")
    reports = reports.annotate(
        status_notes=Subquery(status_notes), photo=Subquery(photo.values("image")[:1])
    ).order_by("-created_at", "-id")
    return reports.values(*REQUEST_FIELDS)


def request_notes(*, report_ids: list[int]) -> dict[int, list[Row]]:
    """The public timeline of each report, oldest first, in one query for the whole page."""
    notes: dict[int, list[Row]] = {report_id: [] for report_id in report_ids}
    if not report_ids:
        return notes
    rows = (
        ReportEvent.objects.filter(report_id__in=report_ids, public=True)
        .order_by("report_id", "at", "id")
        .values("report_id", "kind", "at", "note", "from_status", "to_status")
    )
    for row in rows:
        notes[row["report_id"]].append(row)
    return notes


def request_id_for_token(*, token: str) -> str | None:
    """The tracking code (Open311's service_request_id) of the report behind an Open311 token."""
    return _reports().filter(open311_token=token).values_list("tracking_code", flat=True).first()


UPDATE_FIELDS = ("id", "kind", "at", "note", "to_status", "status_after", "report__tracking_code")


def request_update_page(
    *, start: datetime | None, end: datetime | None, cursor: PageCursor | None, offset: int, limit: int
) -> KeysetPage:
    """Public changes to reports (status changes, notes, re-routing), oldest first by (at, id):
    mySociety's `servicerequestupdates` feed, which city back-ends poll to keep their copy in step.
    A page after or before `cursor` (the first without one), or at `offset` (a shallow page by
    number), with the cursors around it. The filter and the order are the partial index
    `event_public_feed (at, id) WHERE public AND kind <> 'created'` (issues/models.py), so a page
    reads about a page of events, each joined to its report by primary key, at any archive size."""
    events = ReportEvent.objects.filter(public=True, report__city=settings.OPEN137_CITY).exclude(
        kind=ReportEvent.Kind.CREATED
    )
    if start is not None:
        events = events.filter(at__gte=start)
    if end is not None:
        events = events.filter(at__lte=end)
    # The report's state right after this event: a note leaves the state as the latest change set it.
    status_after = (
        ReportEvent.objects.filter(report=OuterRef("report_id"), at__lte=OuterRef("at"))
        .exclude(to_status="")
        .order_by("-at", "-id")
        .values("to_status")[:1]
    )
    rows = events.annotate(status_after=Subquery(status_after)).values(*UPDATE_FIELDS)
    return keyset_page(rows, cursor=cursor, limit=limit, offset=offset, key="at", ascending=True)

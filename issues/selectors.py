"""Reads for reports.

What the public sees of a report is decided here, in one place: the public selectors name their
columns one by one, and never the reporter's name, phone, e-mail, private token hash or idempotency
key (only 137 staff see who reported; the private token is shown once, to the reporter).
Lists return `.values()` rows, never model objects: the public map asks for thousands at a time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.contrib.postgres.expressions import ArraySubquery
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import F, FloatField, Func, OuterRef, Q, QuerySet
from django.urls import NoReverseMatch, get_script_prefix, reverse

from districts.models import Department, District
from districts.selectors import (
    ROUTE_WITH_UNIT_SQL,
    DistrictMatch,
    Routing,
    ServiceAreaMatch,
    degrees_for_metres,
    routing_from_row,
)
from geo.srid import GEO_SRID
from geo.text import normalize_digits
from issues.cursor import PageCursor, count_capped, keyset_page
from issues.filters import ReportFilters
from issues.formats import token_hash
from issues.models import (
    OPEN_STATUSES,
    Category,
    CategoryAttribute,
    Report,
    ReportAccessToken,
    ReportEvent,
    ReportPhoto,
    SatisfactionRating,
)
from open137.db import fetchone_prepared, sql_substituted

# Every submission starts with its category: a prepared statement built from the models' own
# fields (so it follows the models), turned back into model instances without the ORM's query
# building, which cost more than the query itself.
_CATEGORY_FIELDS = [f.attname for f in Category._meta.concrete_fields]
_DEPARTMENT_FIELDS = [f.attname for f in Department._meta.concrete_fields]
_CATEGORY_COLUMNS = f"""{", ".join(f"cat.{f}" for f in _CATEGORY_FIELDS)}, {", ".join(f"dep.{f}" for f in _DEPARTMENT_FIELDS)},
           EXISTS (SELECT 1 FROM issues_categoryattribute q WHERE q.category_id = cat.id) AS has_questions"""
_CATEGORY_FROM = "issues_category cat JOIN districts_department dep ON dep.id = cat.department_id"
CATEGORY_GET_SQL = f"""
    SELECT {_CATEGORY_COLUMNS}
      FROM {_CATEGORY_FROM}
     WHERE cat.code = %s AND cat.active"""

# A new report with a point needs its category and the point's routing for the category's
# department: one round trip, districts' routing query run for the category's row. Parameters:
# code, x, y. (Aliases other than the routing query's, which has its own c and d.)
CATEGORY_ROUTED_GET_SQL = f"""
    SELECT {_CATEGORY_COLUMNS}, route.*
      FROM {_CATEGORY_FROM}
      LEFT JOIN LATERAL ({sql_substituted(ROUTE_WITH_UNIT_SQL, "%(department)s::bigint", "cat.department_id")}) AS route
        ON true
     WHERE cat.code = %(code)s AND cat.active"""
_ROUTE_COLUMNS_START = len(_CATEGORY_FIELDS) + len(_DEPARTMENT_FIELDS) + 1


def category_get(*, code: str) -> Category | None:
    """An active category with its department; `has_questions` tells whether it asks anything (most
    ask nothing, and a submission to them then needs no look-up of questions)."""
    row = fetchone_prepared(CATEGORY_GET_SQL, [code])
    return None if row is None else _category_from_row(row)


def category_routed_get(*, code: str, point: Point) -> tuple[Category, Routing] | None:
    """`category_get` and the point's routing for the category's department (districts'
    `route_point`) in one query; None for an unknown or inactive category."""
    row = fetchone_prepared(CATEGORY_ROUTED_GET_SQL, {"code": code, "x": point.x, "y": point.y})
    if row is None:
        return None
    category = _category_from_row(row)
    return category, routing_from_row(
        row[_ROUTE_COLUMNS_START:], point=point, department_id=category.department_id
    )


def _category_from_row(row: tuple) -> Category:
    n = len(_CATEGORY_FIELDS)
    category = Category.from_db("default", _CATEGORY_FIELDS, row[:n])
    category.department = Department.from_db(
        "default", _DEPARTMENT_FIELDS, row[n : n + len(_DEPARTMENT_FIELDS)]
    )
    category.has_questions = bool(row[_ROUTE_COLUMNS_START - 1])  # type: ignore[attr-defined]
    return category


def tracking_code_normalize(code: str) -> str:
    """A tracking code as stored, from what a citizen typed or read out: any case, Persian or Arabic
    digits, spaces or dashes between groups (`acde-fg 34` is `ACDEFG34`). Codes are ASCII letters and
    digits only, so anything else (a Persian letter typed by mistake) is dropped."""
    return "".join(ch for ch in normalize_digits(code or "") if ch.isascii() and ch.isalnum()).upper()[:16]


def report_tracking_url(*, code: str, absolute: bool = False) -> str:
    """Where anyone follows a report by its code, without an account: the /track/<code>/ page. With
    `absolute`, on the site's public address (OPEN137_PUBLIC_URL): for SMS, e-mail and API answers,
    which are read away from the site."""
    try:
        path = reverse("maps:track", args=[code])
    except NoReverseMatch:  # the pages are not installed (an API-only deployment)
        path = f"{get_script_prefix()}track/{quote(code, safe='')}/"
    return f"{settings.OPEN137_PUBLIC_URL}{path}" if absolute else path


def report_private_token_valid(*, report: Report, token: str | None) -> bool:
    """Whether `token` is one of the reporter's private tokens for this report (the private link's
    `t`): the one given at submission, or one sent later with a message (the link to confirm the work
    when the unit reports it done, the link to rate when it is closed: ReportAccessToken). Only the
    tokens' hashes are stored; the first comparison takes the same time however much of it matches,
    and the others look the hash up (a hash of a guess tells nothing about the token)."""
    if not token or len(token) > 200:
        return False
    try:
        digest = token_hash(token)
    except UnicodeEncodeError:  # a lone surrogate from a JSON "\ud800": no token has one
        return False
    if report.private_token_hash and hmac.compare_digest(digest, report.private_token_hash):
        return True
    return ReportAccessToken.objects.filter(report_id=report.pk, token_hash=digest).exists()


def report_rated(*, report: Report) -> bool:
    """Whether the reporter has rated the service on this report (they may do so once)."""
    return SatisfactionRating.objects.filter(report_id=report.pk).exists()


def report_by_code(*, code: str) -> Report | None:
    """The report with this tracking code (as typed: see tracking_code_normalize), or None."""
    normalized = tracking_code_normalize(code)
    if not normalized:
        return None
    return Report.objects.filter(tracking_code=normalized).first()


def photo_url(name: str) -> str:
    return default_storage.url(name)


def lon_expression() -> Func:
    return Func(F("location"), function="ST_X", output_field=FloatField())


def lat_expression() -> Func:
    return Func(F("location"), function="ST_Y", output_field=FloatField())


def _public_photos() -> ArraySubquery:
    return ArraySubquery(
        ReportPhoto.objects.filter(report=OuterRef("pk"), public=True)
        .order_by("created_at", "id")
        .values("image")
    )


# The columns of a report that anyone may see, as `.values()` names.
REPORT_LIST_COLUMNS = (
    "tracking_code",
    "category__code",
    "category__name_fa",
    "category__name_en",
    "kind",
    "status",
    "description",
    "district__code",
    "service_area__code",
    "service_area__unit_name_fa",
    "service_area__unit_name_en",
    "support_count",
    "created_at",
    "updated_at",
    # Demo data made by `demo_generate`, never a citizen's: every answer that shows a report says so.
    "generated",
)


def report_list_rows(*, filters: ReportFilters) -> QuerySet[Report, dict[str, Any]]:
    """Public report rows, newest first, with `id`, `lon`/`lat` (None without a location) and
    `photo_names` (storage names of the public photos, for photo_url). Lazy: report_list_page pages
    it by key (or by a shallow offset)."""
    qs = report_filters_apply(qs=Report.objects.all(), filters=filters)
    return (
        qs.annotate(lon=lon_expression(), lat=lat_expression(), photo_names=_public_photos())
        .order_by("-created_at", "-id")
        .values("id", *REPORT_LIST_COLUMNS, "lon", "lat", "photo_names")
    )


@dataclass(frozen=True)
class ReportListPage:
    rows: list[dict[str, Any]]
    # Matching reports on all pages, up to issues.cursor.COUNT_CAP; `count_capped`: there are more.
    count: int
    count_capped: bool
    next: PageCursor | None
    previous: PageCursor | None


def report_list_page(
    *, filters: ReportFilters, cursor: PageCursor | None = None, offset: int = 0, limit: int
) -> ReportListPage:
    """A page of the public list: after (or before) `cursor`, or at `offset` (a shallow page by
    number; the caller keeps it under issues.cursor.OFFSET_MAX), with the capped count of every
    matching report. A first page that is not full is the whole count, with no count query."""
    page = keyset_page(report_list_rows(filters=filters), cursor=cursor, limit=limit, offset=offset)
    if cursor is None and not offset and page.next is None:
        count, capped = len(page.rows), False
    else:
        count, capped = count_capped(report_filters_apply(qs=Report.objects.all(), filters=filters))
    return ReportListPage(page.rows, count, capped, page.next, page.previous)


def report_filters_apply(*, qs: QuerySet[Report], filters: ReportFilters) -> QuerySet[Report]:
    """The public list's filters on any set of reports (the public list, a staff inbox): the same
    names mean the same everywhere."""
    if filters.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = filters.bbox
        # Bounding-box containment (`@`): the GiST index on the location answers it, and a point
        # on the box's edge is inside (a map shows what lies on its border).
        box = Polygon.from_bbox((min_lon, min_lat, max_lon, max_lat))
        box.srid = GEO_SRID
        qs = qs.filter(location__contained=box)
    if filters.statuses is not None:
        qs = qs.filter(status__in=sorted(filters.statuses))
    if filters.categories:
        # By id, read first, like the district below: the (category, created_at, id) index then
        # serves the filter in the list's order.
        qs = qs.filter(
            category_id__in=list(
                Category.objects.filter(code__in=filters.categories).values_list("id", flat=True)
            )
        )
    if filters.district:
        # Reports are routed to the deepest district: asking for a region brings its sub-districts'.
        # The ids are read first so that the (district, created_at, id) index serves the filter.
        qs = qs.filter(
            district_id__in=list(
                District.objects.filter(
                    Q(code=filters.district) | Q(parent__code=filters.district)
                ).values_list("id", flat=True)
            )
        )
    if filters.kinds:
        qs = qs.filter(kind__in=filters.kinds)
    if filters.since is not None:
        qs = qs.filter(created_at__gte=filters.since)
    if filters.until_before is not None:
        qs = qs.filter(created_at__lt=filters.until_before)
    for word in filters.words:
        # description_search holds geo.text.normalize_persian(description): ي/ی, ك/ک, digits and
        # half-spaces compare equal however they were typed; the words come normalised the same way.
        qs = qs.filter(description_search__contains=word)
    return qs


def report_public_get(*, code: str, history: bool = True) -> dict[str, Any] | None:
    """One report as the public sees it, or None: the list's fields plus address, location,
    expected date, routing (a districts.selectors.Routing, with the stored rule and distance; its
    `inside_jurisdiction` is not stored and is None), the public timeline and the public photos.

    `history=False` leaves out `timeline` and `photos`, and their two queries: for answers that show
    neither (the answer to a new report)."""
    normalized = tracking_code_normalize(code)
    if not normalized:
        return None
    row = (
        Report.objects.filter(tracking_code=normalized)
        .annotate(lon=lon_expression(), lat=lat_expression())
        .values(
            "id",
            *REPORT_LIST_COLUMNS,
            "address",
            "expected_at",
            "lon",
            "lat",
            "routing_rule",
            "routing_distance_m",
            "district_id",
            "district__name_fa",
            "district__name_en",
            "district__level",
            "district__parent_id",
            "service_area_id",
            "service_area__department_id",
            "service_area__department__code",
            "service_area__department__name_fa",
            "service_area__department__name_en",
        )
        .first()
    )
    if row is None:
        return None
    district = (
        DistrictMatch(
            row["district_id"],
            row["district__code"],
            row["district__name_fa"],
            row["district__name_en"],
            row["district__level"],
            row["district__parent_id"],
            row["routing_distance_m"],
        )
        if row["district_id"]
        else None
    )
    service_area = (
        ServiceAreaMatch(
            row["service_area_id"],
            row["service_area__code"],
            row["service_area__unit_name_fa"],
            row["service_area__unit_name_en"],
            row["service_area__department_id"],
            row["service_area__department__code"],
            row["service_area__department__name_fa"],
            row["service_area__department__name_en"],
        )
        if row["service_area_id"]
        else None
    )
    report_id = row["id"]
    public = {key: row[key] for key in (*REPORT_LIST_COLUMNS, "address", "expected_at", "lon", "lat")}
    public["routing"] = Routing(district, service_area, row["routing_rule"], row["routing_distance_m"], None)
    if not history:
        return public
    public["timeline"] = [
        {"at": e["at"], "kind": e["kind"], "status": e["to_status"] or None, "note": e["note"]}
        for e in ReportEvent.objects.filter(report_id=report_id, public=True)
        .order_by("at", "id")
        .values("at", "kind", "to_status", "note")
    ]
    public["photos"] = [
        {"url": photo_url(p["image"]), "kind": p["kind"], "width": p["width"], "height": p["height"]}
        for p in ReportPhoto.objects.filter(report_id=report_id, public=True)
        .order_by("created_at", "id")
        .values("image", "kind", "width", "height")
    ]
    return public


PLEDGE_STEPS = frozenset({"pledged", "done", "withdrawn"})


def report_public_timeline(*, report_id: int) -> list[dict[str, Any]]:
    """The report's public events, oldest first: at, kind, status (the state it went to), note, and
    `what` (the kind, or fixed / not_fixed for the reporter's answer) so a page can say it in the
    reader's language rather than in the language the event was written in. Of an event's `data`
    only the reporter's answer is read, never routing details or channels."""
    rows = (
        ReportEvent.objects.filter(report_id=report_id, public=True)
        .order_by("at", "id")
        .values("at", "kind", "to_status", "note", "data")
    )
    timeline = []
    for row in rows:
        data = row["data"] if isinstance(row["data"], dict) else {}
        what = row["kind"]
        if what == ReportEvent.Kind.CITIZEN_FEEDBACK and data.get("feedback") in {"fixed", "not_fixed"}:
            what = data["feedback"]
        note = row["note"]
        # A citizen's pledge (events.citizen_pledge_event): said by the page in the reader's language;
        # its note is the same sentence in the language it was written in.
        if what == ReportEvent.Kind.NOTE and data.get("pledge") in PLEDGE_STEPS:
            what, note = f"pledge_{data['pledge']}", ""
        timeline.append(
            {
                "at": row["at"],
                "kind": row["kind"],
                "status": row["to_status"],
                "note": note,
                "what": what,
            }
        )
    return timeline


NEARBY_OPEN_SQL = f"""
    SELECT r.tracking_code, r.description, r.status, r.support_count, r.created_at,
           ST_X(r.location), ST_Y(r.location),
           ST_Distance(r.location::geography, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), {GEO_SRID})::geography) AS d
      FROM issues_report r
     WHERE r.category_id = %(category)s AND r.status = ANY(%(open)s) AND r.location IS NOT NULL
       -- a box in degrees first, so the GiST index on the location picks the candidates ...
       AND ST_DWithin(r.location, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), {GEO_SRID}), %(degrees)s)
       -- ... then the true distance in metres on the ellipsoid.
       AND ST_DWithin(r.location::geography,
                      ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), {GEO_SRID})::geography, %(metres)s)
     ORDER BY d, r.created_at DESC, r.id
     LIMIT %(limit)s"""


def report_nearby_open(*, category: Category, point: Point, limit: int = 10) -> list[dict[str, Any]]:
    """Open reports of the category within its duplicate radius of the point, nearest first: what a
    citizen about to report is offered to support ("me too") instead of filing a duplicate.

    Rows: code, description, status, distance_m, support_count, lon, lat, created_at.
    """
    metres = float(category.duplicate_radius_m)
    with connection.cursor() as cursor:
        cursor.execute(
            NEARBY_OPEN_SQL,
            {
                "x": point.x,
                "y": point.y,
                "category": category.pk,
                "open": [str(s) for s in OPEN_STATUSES],
                "degrees": degrees_for_metres(metres, point.y),
                "metres": metres,
                "limit": max(1, min(int(limit), 100)),
            },
        )
        rows = cursor.fetchall()
    return [
        {
            "code": code,
            "description": description,
            "status": status,
            "distance_m": round(float(distance), 1),
            "support_count": support_count,
            "lon": lon,
            "lat": lat,
            "created_at": created_at,
        }
        for code, description, status, support_count, created_at, lon, lat, distance in rows
    ]


def category_list_public() -> list[dict[str, Any]]:
    """Active categories with their department and their extra questions (attributes), in display
    order: what a reporting form or an Open311 client needs to offer the choice."""
    categories = list(
        Category.objects.filter(active=True)
        .order_by("department__code", "order", "code")
        .values(
            "id",
            "code",
            "name_fa",
            "name_en",
            "description_fa",
            "description_en",
            "kind",
            "location_required",
            "icon",
            "duplicate_radius_m",
            "department__code",
            "department__name_fa",
            "department__name_en",
        )
    )
    attributes: dict[int, list[dict[str, Any]]] = {}
    for attribute in (
        CategoryAttribute.objects.filter(category__active=True)
        .order_by("category_id", "order", "code")
        .values(
            "category_id",
            "code",
            "datatype",
            "required",
            "description_fa",
            "description_en",
            "values",
            "order",
        )
    ):
        row: dict[str, Any] = dict(attribute)
        attributes.setdefault(row.pop("category_id"), []).append(row)
    return [
        {
            "code": c["code"],
            "name_fa": c["name_fa"],
            "name_en": c["name_en"],
            "description_fa": c["description_fa"],
            "description_en": c["description_en"],
            "kind": c["kind"],
            "location_required": c["location_required"],
            "icon": c["icon"],
            "duplicate_radius_m": c["duplicate_radius_m"],
            "department": {
                "code": c["department__code"],
                "name_fa": c["department__name_fa"],
                "name_en": c["department__name_en"],
            },
            "attributes": attributes.get(c["id"], []),
        }
        for c in categories
    ]

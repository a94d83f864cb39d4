"""Reads of the participation app: the points as a public GeoJSON layer and page, the staff list in
a member of staff's scope, and pledges (public: whether a report has one, never who).

Public answers carry no notes, no pledger's name or contact, no fingerprints.
"""

from __future__ import annotations

from typing import Any

from django.contrib.gis.geos import Polygon
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.urls import reverse
from django.utils.translation import gettext as _

from districts.models import District, ServiceArea
from geo.srid import GEO_SRID
from issues.formats import token_hash
from issues.models import Report, Role
from issues.workflow.scope import StaffScope
from participation.models import (
    LIVE_PLEDGE_STATUSES,
    ParticipationPoint,
    Pledge,
    PledgeStatus,
    PointEvent,
    PointKind,
)

# The roles that manage points: the 137 supervisors (every point) and, for the points of their
# districts, district managers and unit staff.
POINT_ROLES = frozenset({Role.SUPERVISOR, Role.DISTRICT_MANAGER, Role.UNIT_STAFF})
GEOJSON_LIMIT = 5000


class FilterError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def point_public_url(point_id: int) -> str:
    return reverse("participation:point", args=[point_id])


def pledge_url(pledge_id: int) -> str:
    """The pledger's page, once their browser holds the private link (no secret in it)."""
    return reverse("participation:pledge", args=[pledge_id])


def pledge_private_url(token: str) -> str:
    """The pledger's private link: the token is the address (exchanged for the session on first
    use: participation/views.py)."""
    return reverse("participation:pledge_link", args=[token])


def bbox_parse(value: str | None) -> Polygon | None:
    """`bbox=min_lon,min_lat,max_lon,max_lat` (WGS 84), or None when absent."""
    if value is None or value == "":
        return None
    parts = value.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
        raise FilterError("bbox", _("bbox is min_lon,min_lat,max_lon,max_lat (four numbers)."))
    x0, y0, x1, y1 = numbers
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise FilterError("bbox", _("bbox must be min_lon,min_lat,max_lon,max_lat within the world."))
    polygon = Polygon.from_bbox((x0, y0, x1, y1))
    polygon.srid = GEO_SRID
    return polygon


def kinds_parse(value: str | None) -> list[str] | None:
    """`kind=salt_bin,sand_bin` (comma-separated), or None when absent."""
    if not value:
        return None
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in PointKind.values]
    if unknown or not kinds:
        raise FilterError(
            "kind", _("Unknown kind; choose among: %(list)s.") % {"list": ", ".join(PointKind.values)}
        )
    return kinds


def _public_points() -> QuerySet[ParticipationPoint]:
    return ParticipationPoint.objects.filter(retired_at__isnull=True)


def points_geojson(*, bbox: Polygon | None = None, kinds: list[str] | None = None) -> dict[str, Any]:
    """The points in service as a GeoJSON FeatureCollection, properties exactly id, kind, name_fa,
    name_en, status ("stocked" | "empty") and url (the point's public page)."""
    points = _public_points()
    if bbox is not None:
        points = points.filter(location__intersects=bbox)
    if kinds:
        points = points.filter(kind__in=kinds)
    rows = points.order_by("id").values_list("id", "kind", "name_fa", "name_en", "status", "location")[
        :GEOJSON_LIMIT
    ]
    features = [
        {
            "type": "Feature",
            "id": point_id,
            "geometry": {"type": "Point", "coordinates": [round(loc.x, 6), round(loc.y, 6)]},
            "properties": {
                "id": point_id,
                "kind": kind,
                "name_fa": name_fa,
                "name_en": name_en,
                "status": status,
                "url": point_public_url(point_id),
            },
        }
        for point_id, kind, name_fa, name_en, status, loc in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def point_public_get(*, point_id: int) -> dict[str, Any] | None:
    """A point in service as its public page shows it (no staff notes), or None."""
    point = _public_points().select_related("district").filter(pk=point_id).first()
    if point is None:
        return None
    restocked = (
        PointEvent.objects.filter(point=point, kind__in=[PointEvent.Kind.RESTOCKED, PointEvent.Kind.CREATED])
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )
    return {
        "id": point.pk,
        "kind": point.kind,
        "kind_label": PointKind(point.kind).label,
        "name_fa": point.name_fa,
        "name_en": point.name_en or point.name_fa,
        "status": point.status,
        "lon": point.location.x,
        "lat": point.location.y,
        "district": (
            {"name_fa": point.district.name_fa, "name_en": point.district.name_en or point.district.name_fa}
            if point.district
            else None
        ),
        "empty_reports": point.empty_reports,
        "reported_empty_at": point.reported_empty_at,
        "stocked_at": restocked,
        "url": point_public_url(point.pk),
    }


# --- Staff ---------------------------------------------------------------------------------------


def _unit_district_ids(scope: StaffScope) -> set[int]:
    """District rows a unit's service areas follow (by code, with their sub-districts)."""
    codes = [
        c
        for c in ServiceArea.objects.filter(code__in=scope.service_area_codes).values_list(
            "district_code", flat=True
        )
        if c
    ]
    if not codes:
        return set()
    return set(
        District.objects.filter(
            Q(code__in=codes) | Q(parent__code__in=codes) | Q(parent__parent__code__in=codes)
        ).values_list("id", flat=True)
    )


def points_in_scope(*, scope: StaffScope) -> QuerySet[ParticipationPoint]:
    """The points this member of staff manages: every one for a supervisor, those in their districts
    for a district manager or unit staff, none for other roles."""
    points = ParticipationPoint.objects.all()
    if scope.role not in POINT_ROLES:
        return points.none()
    if scope.role == Role.SUPERVISOR:
        return points
    if scope.role == Role.DISTRICT_MANAGER:
        return points.filter(district_id__in=scope.district_ids or ())
    return points.filter(district_id__in=_unit_district_ids(scope))


def point_in_scope_get(*, scope: StaffScope, point_id: int) -> ParticipationPoint | None:
    return points_in_scope(scope=scope).filter(pk=point_id).first()


def points_staff_list(*, scope: StaffScope) -> list[dict[str, Any]]:
    """The points in service in scope, reported empty first (the longest waiting on top), then the
    others by name."""
    rows = (
        points_in_scope(scope=scope)
        .filter(retired_at__isnull=True)
        .select_related("district")
        .annotate(
            empty_first=Case(
                When(status="empty", then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("empty_first", "reported_empty_at", "name_fa", "id")
    )
    return [
        {
            "id": p.pk,
            "kind": p.kind,
            "kind_label": PointKind(p.kind).label,
            "name_fa": p.name_fa,
            "name_en": p.name_en or p.name_fa,
            "status": p.status,
            "empty_reports": p.empty_reports,
            "reported_empty_at": p.reported_empty_at,
            "district": p.district.name_fa if p.district else "",
            "district_en": (p.district.name_en or p.district.name_fa) if p.district else "",
            "notes": p.notes,
            "url": point_public_url(p.pk),
        }
        for p in rows
    ]


# --- Pledges ---------------------------------------------------------------------------------------


def pledge_by_token(*, token: Any) -> Pledge | None:
    """The pledge whose private link carries `token`, or None (only the token's hash is stored)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    try:
        digest = token_hash(token)
    except UnicodeEncodeError:
        return None
    return Pledge.objects.select_related("report", "report__category").filter(token_hash=digest).first()


def pledge_live(*, report: Report) -> Pledge | None:
    """The report's pledge that is pledged or said done, if any."""
    return Pledge.objects.filter(report_id=report.pk, status__in=LIVE_PLEDGE_STATUSES).first()


def pledge_public_state(*, report: Report) -> dict[str, Any]:
    """What anyone may know of pledges on the report: whether one is live and in which state, and
    whether citizens resolved it; never who."""
    live = pledge_live(report=report)
    return {
        "status": live.status if live else None,
        "since": (live.done_at or live.created_at) if live else None,
        "confirmed": Pledge.objects.filter(report_id=report.pk, status=PledgeStatus.CONFIRMED).exists(),
    }


def pledge_staff_view(*, report: Report, sees_contacts: bool) -> dict[str, Any] | None:
    """The live pledge for a staff page; the pledger's name and contact only for the 137 centre."""
    live = pledge_live(report=report)
    if live is None:
        return None
    return {
        "id": live.pk,
        "status": live.status,
        "created_at": live.created_at,
        "done_at": live.done_at,
        "name": live.name if sees_contacts else "",
        "contact": live.contact if sees_contacts else "",
    }

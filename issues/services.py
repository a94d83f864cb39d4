"""Writes for reports: creation with routing, and re-routing after boundary changes.

Every change of a report is recorded as a ReportEvent in the same transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.selectors import Routing, route_point
from issues.models import OPEN_STATUSES, Category, Channel, Report, ReportEvent

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
    actor: AbstractBaseUser | None = None,
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

"""Report rows (from issues.selectors) -> the report API's JSON documents."""

from __future__ import annotations

from typing import Any

from districts.apis import routing_json
from districts.selectors import (
    Routing,
)
from issues.formats import local_iso
from issues.models import OPEN_STATUSES


def coordinate(value: float | None) -> float | None:
    # Six decimals are about 0.1 m: more is noise from the phone, and bytes on the wire.
    return round(value, 6) if value is not None else None


def routing_public_json(routing: Routing) -> dict[str, Any]:
    """The stored routing of a report in districts.apis.routing_json's shape, without
    `inside_jurisdiction` (known when routing a point, not stored with the report)."""
    data = routing_json(routing)
    data.pop("inside_jurisdiction", None)
    return data


def report_properties(row: dict[str, Any]) -> dict[str, Any]:
    """The public fields of a report row (from report_list_rows or report_public_get)."""
    return {
        "code": row["tracking_code"],
        "category": row["category__code"],
        "category_name_fa": row["category__name_fa"],
        "category_name_en": row["category__name_en"],
        "kind": row["kind"],
        "status": row["status"],
        "open": row["status"] in OPEN_STATUSES,
        "description": row["description"],
        "district": row["district__code"],
        "service_area": row["service_area__code"],
        "unit_name_fa": row["service_area__unit_name_fa"],
        "unit_name_en": row["service_area__unit_name_en"],
        "support_count": row["support_count"],
        "created_at": local_iso(row["created_at"]),
        "updated_at": local_iso(row["updated_at"]),
        "generated": row["generated"],
    }


def report_detail_json(report: dict[str, Any]) -> dict[str, Any]:
    """One report (from report_public_get) as the detail endpoint returns it."""
    return {
        "id": report["tracking_code"],
        **report_properties(report),
        "address": report["address"],
        "lat": coordinate(report["lat"]),
        "lon": coordinate(report["lon"]),
        "expected_at": local_iso(report["expected_at"]),
        "routing": routing_public_json(report["routing"]),
        "photos": report["photos"],
        "timeline": [{**event, "at": local_iso(event["at"])} for event in report["timeline"]],
    }

"""The inbox's rows as files: CSV for spreadsheets, GeoJSON for GIS. The same rows as the list and
the map (the inbox selector's), so an export holds exactly what the filters show, in scope, with the
reporter's contact details only for the 137 centre (the selector leaves them out for anyone else).

The CSV opens in Excel as it is: UTF-8 with a byte-order mark (without it Excel reads Persian as
Latin-1 gibberish). A cell that a spreadsheet would read as a formula (it starts with = + - @, or a
tab or carriage return that some spreadsheets skip first) gets a leading apostrophe: a citizen's
description must never run as a formula on a member of staff's computer (CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import jdatetime
from django.utils import timezone
from django.utils.translation import get_language

from issues.models import ReportStatus

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (
    "code",
    "created_jalali",
    "created_iso",
    "status",
    "status_label",
    "category",
    "district",
    "unit",
    "overdue",
    "acknowledge_by",
    "expected_by",
    "address",
    "description",
)
CONTACT_COLUMNS = ("reporter_name", "reporter_phone", "reporter_email")


def cell_safe(value: object) -> str:
    """A CSV cell as text, never a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def jalali_cell(value: datetime | None) -> str:
    """`1405/09/07 14:30` in the city's time zone, ASCII digits (a spreadsheet sorts them)."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return jdatetime.datetime.fromgregorian(datetime=local).strftime("%Y/%m/%d %H:%M")


def _name(row: Mapping[str, Any], prefix: str) -> str:
    persian = (get_language() or "fa").startswith("fa")
    fa, en = row.get(f"{prefix}_fa"), row.get(f"{prefix}_en")
    return str((fa if persian else en) or fa or "")


def _status_label(value: str) -> str:
    return str(ReportStatus(value).label) if value in ReportStatus.values else value


def export_record(row: Mapping[str, Any], *, contacts: bool) -> dict[str, Any]:
    """One inbox row as the exports' columns (values, not yet made CSV-safe)."""
    record = {
        "code": row["tracking_code"],
        "created_jalali": jalali_cell(row["created_at"]),
        "created_iso": row["created_at"].isoformat(),
        "status": row["status"],
        "status_label": _status_label(row["status"]),
        "category": _name(row, "category__name"),
        "district": _name(row, "district__name"),
        "unit": _name(row, "service_area__unit_name"),
        "overdue": 1 if row.get("overdue") else 0,
        "acknowledge_by": jalali_cell(row.get("acknowledge_due_at")),
        "expected_by": jalali_cell(row.get("expected_at")),
        "address": row.get("address") or "",
        "description": row.get("description") or "",
    }
    if contacts:
        record.update({name: row.get(name) or "" for name in CONTACT_COLUMNS})
    return record


def rows_csv(rows: Iterable[Mapping[str, Any]], *, contacts: bool) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = COLUMNS + (CONTACT_COLUMNS if contacts else ())
    writer.writerow(columns)
    for row in rows:
        record = export_record(row, contacts=contacts)
        writer.writerow([cell_safe(record[c]) for c in columns])
    return buffer.getvalue()


def rows_geojson(rows: Iterable[Mapping[str, Any]], *, contacts: bool) -> str:
    """A FeatureCollection, one Point per report (a report without a location has a null geometry,
    as GeoJSON allows); the properties are the CSV's columns, with the codes of category, district
    and unit and the deadlines in ISO 8601 besides."""
    features = []
    for row in rows:
        properties = export_record(row, contacts=contacts)
        properties.update(
            {
                "overdue": bool(row.get("overdue")),
                "category_code": row.get("category__code"),
                "district_code": row.get("district__code"),
                "unit_code": row.get("service_area__code"),
                "acknowledge_by_iso": row["acknowledge_due_at"].isoformat()
                if row.get("acknowledge_due_at")
                else None,
                "expected_by_iso": row["expected_at"].isoformat() if row.get("expected_at") else None,
            }
        )
        geometry = None
        if row.get("lon") is not None and row.get("lat") is not None:
            geometry = {"type": "Point", "coordinates": [round(row["lon"], 6), round(row["lat"], 6)]}
        features.append(
            {"type": "Feature", "id": row["tracking_code"], "geometry": geometry, "properties": properties}
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)

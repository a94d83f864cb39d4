"""Open311 documents built from selector rows: what each element holds, in the spec's order.

A category is a service, a report a request. Names follow the asked language (Persian or English),
falling back to the other when a translation is missing. The project's detailed report states
collapse to Open311's `open`/`closed` (open = `issues.models.OPEN_STATUSES`, which includes "done by
the unit" until 137 verifies the work); the detailed state is in `extended_attributes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from issues.formats import local_iso
from issues.models import OPEN_STATUSES, CategoryAttribute, MessageKind, ReportEvent, ReportStatus

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# The date this server's Open311 interface last changed in a way clients may notice.
CHANGESET = "2026-01-01T00:00:00+03:30"
FORMATS = ["text/xml", "application/json"]


def pick(row: Mapping[str, Any], name: str, lang: str) -> str:
    """`name_fa` or `name_en` as asked, else the other one."""
    other = "en" if lang == "fa" else "fa"
    return str(row.get(f"{name}_{lang}") or row.get(f"{name}_{other}") or "")


def open311_status(status: str) -> str:
    return "open" if status in OPEN_STATUSES else "closed"


def status_label(status: str) -> str:
    try:
        return str(ReportStatus(status).label)
    except ValueError:
        return status


def discovery(*, base_url: str) -> dict[str, Any]:
    kind = getattr(settings, "OPEN137_OPEN311_TYPE", "") or ("production" if settings.PRODUCTION else "test")
    return {
        "changeset": CHANGESET,
        "contact": getattr(settings, "OPEN137_OPEN311_CONTACT", "")
        or _("Call 137, the city's citizen contact centre."),
        "key_service": getattr(settings, "OPEN137_OPEN311_KEY_SERVICE", "")
        or _("Ask the 137 centre for an API key; it is needed to submit requests."),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url,
                "changeset": CHANGESET,
                "type": kind,
                "formats": FORMATS,
            }
        ],
    }


def service(row: Mapping[str, Any], lang: str) -> dict[str, Any]:
    other = "en" if lang == "fa" else "fa"
    keywords = [str(MessageKind(row["kind"]).label), row.get(f"name_{other}") or ""]
    return {
        "service_code": row["code"],
        "service_name": pick(row, "name", lang),
        "description": pick(row, "description", lang),
        "metadata": bool(row["has_attributes"]),
        "type": "realtime",  # a report is answered at once with its tracking code
        "keywords": ", ".join(k for k in keywords if k),
        "group": pick(row, "department__name", lang),
    }


def _datatype_description(datatype: str) -> str:
    descriptions: dict[str, str] = {
        CategoryAttribute.Datatype.STRING: _("A short text."),
        CategoryAttribute.Datatype.TEXT: _("A longer text."),
        CategoryAttribute.Datatype.NUMBER: _("A number."),
        CategoryAttribute.Datatype.DATETIME: _("A date and time, ISO 8601."),
        CategoryAttribute.Datatype.SINGLEVALUELIST: _("One key from the values."),
        CategoryAttribute.Datatype.MULTIVALUELIST: _("One or more keys from the values."),
    }
    return descriptions.get(datatype, "")


def service_definition(
    *, service_code: str, attributes: Sequence[Mapping[str, Any]], lang: str
) -> dict[str, Any]:
    return {
        "service_code": service_code,
        "attributes": [
            {
                "variable": True,  # every question is the citizen's to answer
                "code": a["code"],
                "datatype": a["datatype"],
                "required": a["required"],
                "datatype_description": _datatype_description(a["datatype"]),
                "order": a["order"],
                "description": pick(a, "description", lang),
                "values": [
                    {"key": str(v.get("key")), "name": pick(v, "name", lang) or str(v.get("key"))}
                    for v in a["values"] or []
                    if isinstance(v, dict)
                ],
            }
            for a in attributes
        ],
    }


def _note(event: Mapping[str, Any]) -> dict[str, Any]:
    text = event["note"]
    if not text and event["kind"] == ReportEvent.Kind.CREATED:
        text = _("Report received.")
    elif not text and event["to_status"]:
        text = _("Status: %(status)s.") % {"status": status_label(event["to_status"])}
    return {"datetime": local_iso(event["at"]), "description": text, "type": event["kind"]}


# Open311 has no field for it: a demo report made by `demo_generate` says so at the start of its
# description, in both languages, whatever a client shows (and `extended_attributes.generated`).
GENERATED_PREFIX = "[گزارش ساختگی نمایشی / generated demo report] "


def generated_description(row: Mapping[str, Any]) -> str:
    description: str = row["description"]
    return GENERATED_PREFIX + description if row.get("generated") else description


def request(
    row: Mapping[str, Any],
    lang: str,
    *,
    absolute_url: Callable[[str], str],
    notes: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """One request; with `notes` given (extensions=true) also its detailed state and public timeline.
    Never the reporter's name, phone or e-mail: the rows do not hold them."""
    location = row["location"]
    agency = pick(row, "service_area__unit_name", lang) or pick(row, "category__department__name", lang)
    document: dict[str, Any] = {
        "service_request_id": row["tracking_code"],
        "status": open311_status(row["status"]),
        "status_notes": row["status_notes"] or None,
        "service_name": pick(row, "category__name", lang),
        "service_code": row["category__code"],
        "description": generated_description(row),
        "agency_responsible": agency or None,
        "service_notice": None,
        "requested_datetime": local_iso(row["created_at"]),
        "updated_datetime": local_iso(row["updated_at"]),
        "expected_datetime": local_iso(row["expected_at"]),
        "address": row["address"] or None,
        "address_id": None,
        "zipcode": None,
        "lat": round(location.y, 6) if location else None,
        "long": round(location.x, 6) if location else None,
        "media_url": absolute_url(default_storage.url(row["photo"])) if row["photo"] else None,
    }
    if notes is not None:
        document["extended_attributes"] = {
            "detailed_status": row["status"],
            "detailed_status_name": status_label(row["status"]),
            "district": row["district__code"],
            "channel": row["channel"],
            "support_count": row["support_count"],
            "generated": row["generated"],
        }
        document["notes"] = [_note(event) for event in notes]
    return document


def request_update(row: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of mySociety's updates feed: `status` is open/closed like a request's, and
    `external_status_code` (mySociety's field for the back-end's own code) the detailed state."""
    status = row["to_status"] or row["status_after"] or ""
    text = row["note"]
    if not text and row["to_status"]:
        text = _("Status: %(status)s.") % {"status": status_label(row["to_status"])}
    return {
        "update_id": str(row["id"]),
        "service_request_id": row["report__tracking_code"],
        "status": open311_status(status),
        "updated_datetime": local_iso(row["at"]),
        "description": text,
        "media_url": None,
        "external_status_code": status,
    }


def post_response(*, service_request_id: str, notice: str, account_id: str | None) -> list[dict[str, Any]]:
    # The spec: service_request_id or token, never both. Reports are created at once, so the id.
    return [{"service_request_id": service_request_id, "service_notice": notice, "account_id": account_id}]

"""Inbox rows and a report's staff view (issues.workflow.inbox) -> the staff API's JSON documents.

Times are ISO 8601 with the city's offset (`+03:30`). The reporter's contact details appear only
when the row holds them: the inbox selects them for the 137 centre alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from issues.api.documents import coordinate, report_properties
from issues.formats import local_iso
from issues.models import ReportEvent
from issues.workflow.scope import StaffScope
from issues.workflow.services import TransitionResult
from issues.workflow.transitions import ASSIGN_ROLES, NOTE_ROLES, actions_allowed

Row = dict[str, Any]

# What an Open311 client sent about the reporter (device and account ids in the client's app):
# handles on a person, kept from the roles that do not see contacts.
PRIVATE_EVENT_KINDS = frozenset({ReportEvent.Kind.CLIENT_DETAILS.value})


def contact_json(row: Row) -> dict[str, Any]:
    return {
        "name": row["reporter_name"],
        "phone": row["reporter_phone"],
        "email": row["reporter_email"],
        "consent_contact": row["consent_contact"],
    }


def staff_properties(row: Row) -> dict[str, Any]:
    """One inbox row's fields (a feature's properties, and the base of the detail document)."""
    # The public API's fields under the same names (`service_area` is the unit's code, which the
    # `unit=` filter takes), then what only staff see.
    properties: dict[str, Any] = {
        **report_properties(row),
        "version": row["version"],
        "channel": row["channel"],
        "address": row["address"],
        "district_name_fa": row["district__name_fa"],
        "district_name_en": row["district__name_en"],
        "assigned": row["assigned_to__username"],
        "acknowledge_due_at": local_iso(row["acknowledge_due_at"]),
        "expected_at": local_iso(row["expected_at"]),
        "overdue": row["overdue"],
    }
    if "reporter_phone" in row:
        properties["contact"] = contact_json(row)
    return properties


def report_feature(row: Row) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": row["tracking_code"],
        "geometry": {"type": "Point", "coordinates": [coordinate(row["lon"]), coordinate(row["lat"])]}
        if row["lon"] is not None
        else None,
        "properties": staff_properties(row),
    }


def report_collection_json(rows: Iterable[Row], *, next_url: str | None) -> dict[str, Any]:
    return {"type": "FeatureCollection", "next": next_url, "features": [report_feature(r) for r in rows]}


def event_json(event: Row, *, sees_contacts: bool = True) -> dict[str, Any]:
    """One event of the timeline (a `.values()` row of ReportEvent)."""
    private = event["kind"] in PRIVATE_EVENT_KINDS and not sees_contacts
    return {
        "id": event["id"],
        "at": local_iso(event["at"]),
        "kind": event["kind"],
        "from_status": event["from_status"] or None,
        "to_status": event["to_status"] or None,
        "note": "" if private else event["note"],
        "public": event["public"],
        "actor": event["actor__username"] or event["actor_label"] or None,
        "data": {} if private else event["data"],
    }


def event_row(event: ReportEvent) -> dict[str, Any]:
    """A new event (a model instance) as the timeline's row."""
    return {
        "id": event.pk,
        "at": event.at,
        "kind": event.kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "note": event.note,
        "public": event.public,
        "actor__username": event.actor.get_username() if event.actor is not None else None,
        "actor_label": event.actor_label,
        "data": event.data,
    }


def actions_for(*, status: str, kind: str, role: str, transitions: Iterable[str] | None = None) -> list[str]:
    """What this role may do to the report now: the status changes the transition table allows
    (in its order), then a note and an assignment, which change no status."""
    names = (
        list(transitions)
        if transitions is not None
        else [t.action for t in actions_allowed(status=status, kind=kind, role=role)]
    )
    if role in NOTE_ROLES:
        names.append("note")
    if role in ASSIGN_ROLES:
        names.append("assign")
    return names


def report_detail_json(report: Row, *, scope: StaffScope) -> dict[str, Any]:
    """One report (from staff_report_detail) with every event, every photo and the actions."""
    return {
        **staff_properties(report),
        "lat": coordinate(report["lat"]),
        "lon": coordinate(report["lon"]),
        "duplicate_of": report["duplicate_of__tracking_code"],
        "referred_to": report["referred_to"] or None,
        "attributes": report["attributes"],
        "photos": report["photos"],
        "timeline": [event_json(e, sees_contacts=scope.sees_contacts) for e in report["timeline"]],
        "actions": actions_for(
            status=report["status"], kind=report["kind"], role=scope.role, transitions=report["actions"]
        ),
    }


def action_result_json(result: TransitionResult, *, scope: StaffScope) -> dict[str, Any]:
    """The answer to an action: the report's new state, the event that records it, what may be
    done next."""
    report = result.report
    return {
        "code": report.tracking_code,
        "status": report.status,
        "version": report.version,
        "event": event_json(event_row(result.event), sees_contacts=scope.sees_contacts),
        "actions": actions_for(status=report.status, kind=report.kind, role=scope.role),
    }

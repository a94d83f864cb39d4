"""Staff's corrections of a report by hand (the admin): how to reach the reporter, and where."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import transaction

from issues import events
from issues.models import Report, ReportEvent

# Everything else changes through workflow services, each its own event.
REPORT_CORRECTABLE_FIELDS = (
    "address",
    "reporter_name",
    "reporter_phone",
    "reporter_email",
    "consent_contact",
)


@transaction.atomic
def report_details_correct(
    *, report: Report, actor: User | None, changed: Sequence[str]
) -> ReportEvent | None:
    """Save staff's corrections of `changed` fields (already set on `report`) with a private event
    naming the fields and who changed them. The values are not copied into the history: the
    reporter's contact details stay in one place, where they can be corrected or erased."""
    fields = sorted({name for name in changed if name in REPORT_CORRECTABLE_FIELDS})
    if any(name not in REPORT_CORRECTABLE_FIELDS for name in changed):
        raise ValueError(f"not correctable by hand: {sorted(set(changed) - set(fields))}")
    if not fields:
        return None
    report.save(update_fields=[*fields, "updated_at"])
    return events.corrected_event(report=report, actor=actor, fields=fields)

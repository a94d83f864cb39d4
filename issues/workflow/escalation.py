"""The SLA escalation ladder (duty 5: every message really reached its unit).

A unit that has not acknowledged a report by its acknowledge deadline (`Report.acknowledge_due_at`,
working time) has perhaps never seen it. The ladder:

1. past the deadline: to the district manager of the report's district (a region's manager for its
   sub-districts too);
2. still unacknowledged when the same acknowledge period has run out again, counted in working time
   from the first deadline: to the 137 supervisors.

Overdue reports are flagged in every staff list and view without this job (inbox.overdue_expression);
the job adds the rungs, each one once per report: its row in `Escalation` (unique on report and level)
is inserted with ON CONFLICT DO NOTHING, and only the rows this run inserted get their internal event
and their e-mails. Two runs at once (two workers, the worker and cron's `manage.py sla_escalate`)
meet on the unique index: the second waits for the first to commit, then inserts nothing. A report
acknowledged meanwhile is locked and checked again before its row is written.

A rung once reached stays reached: a report transferred or reopened later waits for its unit again,
but escalates no second time to the same level.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from districts.models import District
from issues import events
from issues.models import Escalation, Report, Role, StaffProfile
from issues.notifications import report_escalation_notify
from issues.workflow.inbox import AWAITING_ACKNOWLEDGEMENT
from issues.workflow.selectors import working_calendar
from issues.workflow.sla import WorkingCalendar, deadline_add

LEVEL_MANAGER = Escalation.Level.DISTRICT_MANAGER.value
LEVEL_SUPERVISOR = Escalation.Level.SUPERVISOR.value
_AWAITING = [str(s) for s in AWAITING_ACKNOWLEDGEMENT]

# One indexed query (the partial index report_awaiting_ack_due): reports still waiting for the unit
# past their deadline that have not reached the top rung. A rung-2 deadline is at least the
# acknowledge period after the first in calendar time (working time only runs slower), so a
# report that cannot be due for rung 2 yet is left out here unless it still needs rung 1.
CANDIDATES_SQL = """
    SELECT r.id, r.tracking_code, r.acknowledge_due_at, c.sla_acknowledge_hours,
           COALESCE((SELECT array_agg(e.level) FROM issues_escalation e WHERE e.report_id = r.id), '{}')
      FROM issues_report r
      JOIN issues_category c ON c.id = r.category_id
     WHERE r.status = ANY(%(awaiting)s)
       AND r.acknowledge_due_at < %(now)s
       AND NOT EXISTS (SELECT 1 FROM issues_escalation e2 WHERE e2.report_id = r.id AND e2.level = %(top)s)
       AND (NOT EXISTS (SELECT 1 FROM issues_escalation e1 WHERE e1.report_id = r.id AND e1.level = %(first)s)
            OR (c.sla_acknowledge_hours > 0
                AND r.acknowledge_due_at + c.sla_acknowledge_hours * interval '1 hour' <= %(now)s))
     ORDER BY r.acknowledge_due_at, r.id"""

# The rungs due, written at once: the reports are locked in id order and checked again (one
# acknowledged since the candidates were read is skipped), and a rung already there is skipped by
# the unique constraint. RETURNING gives exactly the rows this statement inserted.
INSERT_SQL = """
    WITH due(report_id, level) AS (
             SELECT * FROM unnest(%(reports)s::bigint[], %(levels)s::smallint[])),
         still_waiting AS (
             SELECT r.id FROM issues_report r
              WHERE r.id IN (SELECT report_id FROM due) AND r.status = ANY(%(awaiting)s)
              ORDER BY r.id
                FOR UPDATE)
    INSERT INTO issues_escalation (report_id, level, at)
    SELECT due.report_id, due.level, %(now)s
      FROM due JOIN still_waiting ON still_waiting.id = due.report_id
        ON CONFLICT (report_id, level) DO NOTHING
    RETURNING report_id, level"""


@dataclass(frozen=True)
class EscalationDue:
    report_id: int
    tracking_code: str
    level: int
    # The deadline that was missed: the acknowledge deadline (rung 1) or that plus the acknowledge
    # period again in working time (rung 2).
    due_at: datetime


def escalations_due(
    *, now: datetime | None = None, calendar: WorkingCalendar | None = None
) -> list[EscalationDue]:
    """The rungs reached by `now` and not yet recorded, oldest deadline first (a read: nothing is
    written). A report past both deadlines at once gets both rungs."""
    now = now or timezone.now()
    calendar = calendar or working_calendar()
    with connection.cursor() as cursor:
        cursor.execute(
            CANDIDATES_SQL,
            {"awaiting": _AWAITING, "now": now, "top": LEVEL_SUPERVISOR, "first": LEVEL_MANAGER},
        )
        rows = cursor.fetchall()
    due: list[EscalationDue] = []
    for report_id, code, ack_due, hours, reached in rows:
        if LEVEL_MANAGER not in reached:
            due.append(EscalationDue(report_id, code, LEVEL_MANAGER, ack_due))
        if hours:
            second = deadline_add(calendar=calendar, start=ack_due, hours=hours)
            if second <= now:
                due.append(EscalationDue(report_id, code, LEVEL_SUPERVISOR, second))
    return due


def _district_codes(district_ids: set[int]) -> dict[int, set[str]]:
    """Each district's code and its ancestors' codes: the managers whose scope covers it."""
    rows = District.objects.filter(pk__in=district_ids).values_list(
        "pk", "code", "parent__code", "parent__parent__code"
    )
    return {pk: {c for c in codes if c} for pk, *codes in rows}


def _manager_emails() -> list[tuple[set[str], str]]:
    rows = (
        StaffProfile.objects.filter(role=Role.DISTRICT_MANAGER, user__is_active=True)
        .exclude(user__email="")
        .values_list("district_codes", "user__email")
    )
    return [(set(codes), email) for codes, email in rows]


def _supervisor_emails() -> list[str]:
    return sorted(
        set(
            get_user_model()
            .objects.filter(staff_profile__role=Role.SUPERVISOR, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


@transaction.atomic
def _escalations_write(*, due: list[EscalationDue], now: datetime) -> list[EscalationDue]:
    if not due:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_SQL,
            {
                "reports": [d.report_id for d in due],
                "levels": [d.level for d in due],
                "awaiting": _AWAITING,
                "now": now,
            },
        )
        inserted = set(cursor.fetchall())
    written = [d for d in due if (d.report_id, d.level) in inserted]
    if not written:
        return []
    reports = Report.objects.select_related("category", "service_area").in_bulk(
        {d.report_id for d in written}
    )
    codes_by_district = _district_codes({r.district_id for r in reports.values() if r.district_id})
    managers = _manager_emails()
    supervisors = _supervisor_emails()
    by_report: dict[int, list[EscalationDue]] = defaultdict(list)
    for d in written:
        by_report[d.report_id].append(d)
    for report_id, rungs in by_report.items():
        report = reports[report_id]
        for d in sorted(rungs, key=lambda d: d.level):
            events.escalated_event(report=report, level=d.level, due_at=d.due_at.isoformat())
            if d.level == LEVEL_MANAGER:
                codes = codes_by_district.get(report.district_id or 0, set())
                recipients = sorted({email for scope, email in managers if scope & codes})
            else:
                recipients = supervisors
            report_escalation_notify(report=report, level=d.level, due_at=d.due_at, recipients=recipients)
    return written


def reports_escalate(*, now: datetime | None = None, commit: bool = True) -> list[EscalationDue]:
    """Escalate every report that has reached a rung: with `commit`, record each rung once (its
    internal event, and an e-mail to the managers or supervisors who have an address) and return
    the rungs this run wrote; without, write nothing and return the rungs that would be written."""
    now = now or timezone.now()
    due = escalations_due(now=now)
    if not commit:
        return due
    return _escalations_write(due=due, now=now)

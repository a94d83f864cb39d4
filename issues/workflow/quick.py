"""A step on a report named by its tracking code: `report_transition_by_code`, what the staff API
and the console call. The common steps (a unit acknowledging, starting, a supervisor verifying or
closing, with nothing else to write) go in one statement; everything else, and every refusal, takes
`report_transition`'s full way.

Why: acknowledging is what a unit does all day, from the phone app, often for a batch of reports at
once. The full way costs about eight round trips (the report read, BEGIN, the lock, the UPDATE, the
event, COMMIT, ...). For a step that only moves the status and stamps a time, the same checks fit in
the UPDATE's WHERE: the tracking code, the states the action leaves, the kinds it applies to, the
user's scope, the version the user saw; the event is inserted in the same statement, which
PostgreSQL runs atomically without a transaction of our own.

The one-statement path is only ever a shortcut to a success the full way would also give:
- it runs only for a staff member's step whose transition table row is unique for their role, with
  no note, no photo, no unit, no referral, no date;
- when the reporter would be told of the step (they left a contact and did not stop messages), the
  WHERE excludes the row, so the message is composed and queued by the full way, in its transaction;
- when no row matches (no such report, out of scope, another state, another version, a message due),
  the full way runs from the start and gives its answer: 404, 403, 409 with the current state, or
  the step done with its message. A test holds the two ways to the same rows and answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from issues.events import STATUS_CHANGED_EVENT_INSERT_SQL, status_changed_event_written
from issues.models import Report, ReportStatus, Role
from issues.notifications import status_step_notifies
from issues.selectors import tracking_code_normalize
from issues.workflow import transitions as table
from issues.workflow.scope import StaffScope, report_in_scope_get
from issues.workflow.services import ReportNotFound, TransitionResult, report_transition

# The steps that change the status, stamp a time and nothing else (see `_status_change`).
QUICK_ACTIONS = frozenset({"acknowledge", "start", "verify", "close"})
# The optional arguments of report_transition that, given, need the full way.
_FULL_WAY_ARGUMENTS = (
    "note",
    "internal_note",
    "service_area",
    "duplicate_of",
    "referred_to",
    "assignee",
    "scheduled_for",
    "photos",
    "work_location",
)
_CLOSING = frozenset(
    {
        ReportStatus.CLOSED,
        ReportStatus.NOT_RESPONSIBLE,
        ReportStatus.DUPLICATE,
        ReportStatus.RESOLVED_BY_CITIZENS,
    }
)

# The row is locked first (FOR UPDATE in `locked`) so that `from_status` is the state the step
# really leaves, even when another member of staff changed it a moment before; the UPDATE's WHERE is
# then checked again on that latest row. Every condition of the full way's checks is here: the
# code, the scope (districts, units, the kinds only supervisors see), the states and kinds of the
# transition, the version the user saw, and no message due to the reporter.
QUICK_TRANSITION_SQL = f"""
WITH locked AS (
  SELECT r.id, r.status AS from_status
    FROM issues_report r
   WHERE r.tracking_code = %(code)s
     FOR UPDATE
), changed AS (
  UPDATE issues_report r
     SET status = %(target)s,
         version = r.version + 1,
         updated_at = now(),
         acknowledged_at = CASE WHEN %(stamp_acknowledged)s THEN coalesce(r.acknowledged_at, now())
                                ELSE r.acknowledged_at END,
         closed_at = CASE WHEN %(stamp_closed)s THEN now() ELSE r.closed_at END
    FROM locked
   WHERE r.id = locked.id
     AND r.status = ANY(%(sources)s::text[])
     AND r.kind = ANY(%(kinds)s::text[])
     AND (%(district_ids)s::int[] IS NULL OR r.district_id = ANY(%(district_ids)s::int[]))
     AND (%(service_area_ids)s::int[] IS NULL OR r.service_area_id = ANY(%(service_area_ids)s::int[]))
     AND (%(version)s::int IS NULL OR r.version = %(version)s::int)
     AND (NOT %(notifies)s OR r.messages_stopped OR (r.reporter_phone = '' AND r.reporter_email = ''))
  RETURNING r.id, locked.from_status, r.version, r.kind
), event AS ({STATUS_CHANGED_EVENT_INSERT_SQL}
)
SELECT changed.id, changed.from_status, changed.version, changed.kind, event.id, event.at
  FROM changed CROSS JOIN event"""


@dataclass(frozen=True)
class _QuickStep:
    transition: table.Transition
    kinds: tuple[str, ...]
    notifies: bool


@cache
def _quick_step(action: str, role: str) -> _QuickStep | None:
    """The single row of the table this role's `action` uses, if the one-statement path can take it."""
    if action not in QUICK_ACTIONS:
        return None
    rows = [t for t in table.BY_ACTION.get(action, ()) if role in t.roles]
    if len(rows) != 1:
        return None
    transition = rows[0]
    kinds = transition.kinds
    if role not in (Role.SUPERVISOR, Role.OPERATOR):
        kinds = kinds - table.SUPERVISOR_ONLY_KINDS
    return _QuickStep(transition, tuple(sorted(kinds)), status_step_notifies(transition))


def _quick(
    *, code: str, action: str, actor: AbstractBaseUser, scope: StaffScope, expected_version: int | None
) -> TransitionResult | None:
    from open137.db import fetchone_prepared

    step = _quick_step(action, scope.role)
    if step is None or not scope.sees_reports:
        return None
    transition = step.transition
    row = fetchone_prepared(
        QUICK_TRANSITION_SQL,
        {
            "code": code,
            "target": transition.target,
            "stamp_acknowledged": action == "acknowledge",
            "stamp_closed": transition.target in _CLOSING,
            "sources": sorted(transition.sources),
            "kinds": list(step.kinds),
            "district_ids": sorted(scope.district_ids) if scope.district_ids is not None else None,
            "service_area_ids": sorted(scope.service_area_ids)
            if scope.service_area_ids is not None
            else None,
            "version": expected_version,
            "notifies": step.notifies,
            "actor_id": actor.pk,
            "note": "",
            "public": transition.public,
            "action": action,
        },
    )
    if row is None:
        return None
    report_id, from_status, version, kind, event_id, at = row
    # What the answer shows of the report and of the step, without reading them back.
    report = Report(id=report_id, tracking_code=code, status=transition.target, version=version, kind=kind)
    event = status_changed_event_written(
        event_id=event_id,
        report=report,
        actor=actor,
        at=at,
        from_status=from_status,
        to_status=transition.target,
        action=action,
        public=transition.public,
    )
    return TransitionResult(report=report, event=event)


def report_transition_by_code(
    *, code: str, action: str, actor: AbstractBaseUser, scope: StaffScope, **arguments: Any
) -> TransitionResult:
    """Take `action` on the report with this tracking code as a member of staff: report_transition's
    checks and answers (ReportNotFound, ActionForbidden, TransitionConflict, ValidationError), in one
    statement when the step allows it."""
    normalized = tracking_code_normalize(code)
    if (
        normalized
        and actor.pk == scope.user_id
        and not any(arguments.get(name) for name in _FULL_WAY_ARGUMENTS)
        and set(arguments) <= {"expected_version", *_FULL_WAY_ARGUMENTS}
    ):
        result = _quick(
            code=normalized,
            action=action,
            actor=actor,
            scope=scope,
            expected_version=arguments.get("expected_version"),
        )
        if result is not None:
            return result
    report = report_in_scope_get(scope=scope, code=code)
    if report is None:
        raise ReportNotFound(_("No report has the tracking code “%(code)s”.") % {"code": code[:40]})
    return report_transition(report=report, action=action, actor=actor, scope=scope, **arguments)

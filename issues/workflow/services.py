"""The one way a report's status changes: `report_transition`.

It checks the actor's role and scope against the transition table (issues/workflow/transitions.py),
locks the report, checks it is still in a state the action applies to (and at the version the actor
saw, when given), writes the change and an append-only event, and queues the reporter's message, all
in one transaction. Two staff acting at once: the second finds the report moved on and gets a
conflict (409) with its current state; nothing of theirs is written, and their page keeps what they
typed.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.models import ServiceArea
from issues import events
from issues.formats import token_hash
from issues.models import (
    Report,
    ReportAccessToken,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
    ReportSupport,
    VerificationCheck,
)
from issues.workflow import transitions as table
from issues.workflow.scope import StaffScope, report_in_scope, staff_scope
from issues.workflow.selectors import report_acknowledge_due_at, report_expected_at

# A work report's text and a note's: plain text, as the citizen's own.
NOTE_MAX = 4000
WORK_PHOTOS_MAX = 3


class WorkflowError(Exception):
    """A refused step, with the HTTP status the API answers and a stable machine-readable code."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, current: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.current = current or {}


class ReportNotFound(WorkflowError):
    status = 404
    code = "not_found"


class ActionForbidden(WorkflowError):
    status = 403
    code = "forbidden"


class TransitionConflict(WorkflowError):
    status = 409
    code = "conflict"


@dataclass
class TransitionResult:
    report: Report
    event: ReportEvent
    extra_events: list[ReportEvent] = field(default_factory=list)
    # The reporter's new private link for confirming the work (done), in clear only here.
    feedback_token: str | None = None


def _invalid(field: str, message: str, *, code: str) -> ValidationError:
    """A field's error with its machine-readable code on the message, where Django keeps codes."""
    return ValidationError({field: [ValidationError(message, code=code)]})


def _current(report: Report) -> dict[str, Any]:
    return {"status": report.status, "version": report.version}


def _actor_role(
    *, actor: AbstractBaseUser | None, as_role: str | None, scope: StaffScope | None
) -> tuple[str, StaffScope | None]:
    if actor is None:
        if as_role not in (table.CITIZEN, table.SYSTEM):
            raise ActionForbidden(_("Only staff may do this."))
        return str(as_role), None
    if scope is None or scope.user_id != actor.pk:
        scope = staff_scope(user=actor)
    if scope is None or not scope.sees_reports:
        raise ActionForbidden(_("Only staff who work reports may do this."))
    return scope.role, scope


def _text(value: str, *, name: str, required: bool = False) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise _invalid(name, _("Text cannot hold a NUL character."), code="invalid")
    if required and not value:
        raise _invalid(name, _("This is required."), code="required")
    if len(value) > NOTE_MAX:
        raise _invalid(name, _("At most %(n)d characters.") % {"n": NOTE_MAX}, code="too_long")
    return value


def report_transition(
    *,
    report: Report,
    action: str,
    actor: AbstractBaseUser | None = None,
    as_role: str | None = None,
    actor_label: str = "",
    note: str = "",
    internal_note: bool = False,
    expected_version: int | None = None,
    service_area: ServiceArea | None = None,
    duplicate_of: Report | None = None,
    referred_to: str = "",
    assignee: AbstractBaseUser | None = None,
    scheduled_for: date | None = None,
    photos: Sequence[UploadedFile] = (),
    work_location: Any = None,
    scope: StaffScope | None = None,
) -> TransitionResult:
    """Take `action` on `report` as `actor` (staff) or, with actor None, as `as_role` (the citizen
    through their private link, or the system). Raises ReportNotFound (out of scope), ActionForbidden
    (not this role's), TransitionConflict (the report is no longer where the action applies, or not
    at `expected_version`) or ValidationError (the action's own fields)."""
    from issues import photos as photo_store

    if action not in table.ACTIONS:
        raise _invalid(
            "action", _("Unknown action “%(action)s”.") % {"action": str(action)[:40]}, code="unknown_action"
        )
    role, scope = _actor_role(actor=actor, as_role=as_role, scope=scope)
    if scope is not None and not report_in_scope(scope=scope, report=report):
        raise ReportNotFound(_("No report has this tracking code."))
    if action in ("note", "assign"):
        allowed_roles = table.NOTE_ROLES if action == "note" else table.ASSIGN_ROLES
    else:
        allowed_roles = frozenset(r for t in table.BY_ACTION[action] for r in t.roles)
    if role not in allowed_roles:
        raise ActionForbidden(
            _("A %(role)s cannot “%(action)s” a report.")
            % {"role": role.replace("_", " "), "action": action},
            code="role_forbidden",
        )
    note = _text(note, name="note", required=action in ("note", "answer", "transfer") or action == "done")
    processed = []
    if action == "done":
        if not photos:
            raise _invalid(
                "photos", _("A work report needs at least one photo of the work done."), code="photo_required"
            )
        if len(photos) > WORK_PHOTOS_MAX:
            raise _invalid("photos", _("At most %(n)d photos.") % {"n": WORK_PHOTOS_MAX}, code="invalid")
        processed = [photo_store.photo_process(upload=upload) for upload in photos]
    with photo_store.photo_files_undone_on_error(), transaction.atomic():
        locked = Report.objects.select_for_update(of=("self",)).get(pk=report.pk)
        if scope is not None and not report_in_scope(scope=scope, report=locked):
            raise ReportNotFound(_("No report has this tracking code."))  # it left the scope meanwhile
        if expected_version is not None and locked.version != expected_version:
            raise TransitionConflict(
                _("Someone else changed this report meanwhile; it is now “%(status)s”. Reload and try again.")
                % {"status": locked.get_status_display()},
                current=_current(locked),
            )
        if action in ("note", "assign"):
            result = _no_status_change(
                report=locked,
                action=action,
                actor=actor,
                note=note,
                internal=internal_note,
                assignee=assignee,
                scope=scope,
            )
        else:
            transition = table.transition_for(action=action, status=locked.status, kind=locked.kind)
            if transition is None or role not in transition.roles:
                raise TransitionConflict(
                    _("This report is “%(status)s”: it cannot be “%(action)s” now.")
                    % {"status": locked.get_status_display(), "action": action},
                    current=_current(locked),
                )
            result = _status_change(
                report=locked,
                transition=transition,
                actor=actor,
                actor_label=actor_label or (role if actor is None else ""),
                note=note,
                internal=internal_note,
                service_area=service_area,
                duplicate_of=duplicate_of,
                referred_to=referred_to,
                scheduled_for=scheduled_for,
                work_location=work_location,
            )
            for photo in processed:
                photo_store.photo_save(report=locked, photo=photo, kind=ReportPhoto.Kind.WORK)
            from issues import notifications

            # The reporter is told of what others did, not of their own step (reopening it).
            if role != table.CITIZEN:
                notifications.report_status_notify(
                    report=locked, transition=transition, feedback_token=result.feedback_token
                )
    return result


def _no_status_change(
    *,
    report: Report,
    action: str,
    actor: AbstractBaseUser | None,
    note: str,
    internal: bool,
    assignee: AbstractBaseUser | None,
    scope: StaffScope | None,
) -> TransitionResult:
    if action == "note":
        event = events.note_event(report=report, note=note, public=not internal, actor=actor)
        Report.objects.filter(pk=report.pk).update(version=F("version") + 1, updated_at=timezone.now())
        report.refresh_from_db(fields=["version", "updated_at"])
        return TransitionResult(report=report, event=event)
    # assign: to a member of staff who may see the report (a unit's own staff, in practice).
    if assignee is None:
        raise _invalid("assignee", _("Choose who to assign it to."), code="required")
    assignee_scope = staff_scope(user=assignee)
    if assignee_scope is None or not report_in_scope(scope=assignee_scope, report=report):
        raise _invalid(
            "assignee",
            _("%(user)s cannot see this report.") % {"user": assignee.get_username()},
            code="assignee_out_of_scope",
        )
    report.assigned_to = assignee  # type: ignore[assignment]
    report.version += 1
    report.save(update_fields=["assigned_to", "version", "updated_at"])
    event = events.assigned_event(report=report, actor=actor, assignee=assignee, note=note)
    return TransitionResult(report=report, event=event)


def _status_change(
    *,
    report: Report,
    transition: table.Transition,
    actor: AbstractBaseUser | None,
    actor_label: str,
    note: str,
    internal: bool,
    service_area: ServiceArea | None,
    duplicate_of: Report | None,
    referred_to: str,
    scheduled_for: date | None,
    work_location: Any,
) -> TransitionResult:
    now = timezone.now()
    action = transition.action
    changed = ["status", "version", "updated_at"]
    data: dict[str, Any] = {}
    feedback_token = None
    extra: list[ReportEvent] = []
    if action in ("route", "transfer"):
        if service_area is None or not service_area.active:
            raise _invalid("service_area", _("Choose an active unit."), code="required")
        if service_area.pk == report.service_area_id and action == "transfer":
            raise _invalid("service_area", _("The report is already with this unit."), code="same_unit")
        data["from_service_area"] = report.service_area.code if report.service_area else None
        data["service_area"] = service_area.code
        report.service_area = service_area
        report.routed_at = now
        report.assigned_to = None
        # The new unit's clock to acknowledge starts now.
        report.acknowledge_due_at = report_acknowledge_due_at(category=report.category, start=now)
        changed += ["service_area", "routed_at", "assigned_to", "acknowledge_due_at"]
    if action == "acknowledge" and report.acknowledged_at is None:
        report.acknowledged_at = now
        changed.append("acknowledged_at")
    if action == "start" and scheduled_for:
        data["scheduled_for"] = scheduled_for.isoformat()
    if action == "done":
        report.done_at = now
        changed.append("done_at")
        if work_location is not None:
            data["work_location"] = [round(work_location.x, 6), round(work_location.y, 6)]
        data["service_area"] = report.service_area.code if report.service_area else None
    if action == "refer":
        if referred_to not in table.REFERRAL_TARGETS:
            raise _invalid(
                "referred_to",
                _("Choose where it is referred: %(list)s.") % {"list": ", ".join(table.REFERRAL_TARGETS)},
                code="required",
            )
        report.referred_to = referred_to
        changed.append("referred_to")
        data["referred_to"] = referred_to
    if action == "duplicate":
        extra += _merge_into(report=report, target=duplicate_of, actor=actor)
        report.duplicate_of = duplicate_of
        changed.append("duplicate_of")
        data["duplicate_of"] = duplicate_of.tracking_code if duplicate_of else None
    if action == "reopen":
        # Back with the unit, which owes a new acknowledgement and a new fix in working time.
        report.done_at = None
        report.closed_at = None
        report.acknowledge_due_at = report_acknowledge_due_at(category=report.category, start=now)
        report.expected_at = report_expected_at(category=report.category, start=now)
        changed += ["done_at", "closed_at", "acknowledge_due_at", "expected_at"]
    if transition.target in (
        ReportStatus.CLOSED,
        ReportStatus.NOT_RESPONSIBLE,
        ReportStatus.DUPLICATE,
        ReportStatus.RESOLVED_BY_CITIZENS,
    ):
        report.closed_at = now
        changed.append("closed_at")
    from_status = report.status
    report.status = transition.target
    report.version += 1
    report.save(update_fields=sorted(set(changed)))
    # The step is public (the citizen's timeline); a note marked internal goes in an event of its own.
    event = events.status_changed_event(
        report=report,
        from_status=from_status,
        to_status=transition.target,
        action=action,
        actor=actor,
        actor_label=actor_label,
        note="" if internal else note,
        public=transition.public,
        data=data,
    )
    if internal and note:
        extra.append(
            events.note_event(report=report, note=note, public=False, actor=actor, actor_label=actor_label)
        )
    if action == "done":
        feedback_token = secrets.token_urlsafe(18)
        ReportAccessToken.objects.create(
            report=report, token_hash=token_hash(feedback_token), purpose="feedback"
        )
        _verification_sample(report=report)
    return TransitionResult(report=report, event=event, extra_events=extra, feedback_token=feedback_token)


def _merge_into(
    *, report: Report, target: Report | None, actor: AbstractBaseUser | None
) -> list[ReportEvent]:
    """Carry a duplicate's supporters over to the report it duplicates: its "me too"s (each client
    once) and its reporter, as one supporter more."""
    if target is None:
        raise _invalid(
            "duplicate_of", _("Give the tracking code of the report it duplicates."), code="required"
        )
    if target.pk == report.pk or target.duplicate_of_id == report.pk:
        raise _invalid("duplicate_of", _("A report cannot duplicate itself."), code="invalid")
    if target.status == ReportStatus.DUPLICATE:
        raise _invalid("duplicate_of", _("That report is itself a duplicate."), code="invalid")
    target = Report.objects.select_for_update(of=("self",)).get(pk=target.pk)
    existing = set(ReportSupport.objects.filter(report=target).values_list("fingerprint", flat=True))
    moved = 0
    for support in ReportSupport.objects.filter(report=report):
        if support.fingerprint not in existing:
            ReportSupport.objects.create(
                report=target, fingerprint=support.fingerprint, channel=support.channel
            )
            moved += 1
    # The duplicate's own reporter counts for the report it joins.
    ReportSupport.objects.get_or_create(
        report=target, fingerprint=f"duplicate:{report.tracking_code}", defaults={"channel": report.channel}
    )
    added = moved + 1
    Report.objects.filter(pk=target.pk).update(support_count=F("support_count") + added)
    return [
        events.note_event(
            report=target,
            note=_("Report %(code)s was merged into this one as a duplicate.")
            % {"code": report.tracking_code},
            public=True,
            actor=actor,
            data={"merged": report.tracking_code, "supporters": added},
        )
    ]


def _verification_sample(*, report: Report) -> None:
    """Draw a share of done reports for a 137 check of the unit's work (duty 6)."""
    share = float(settings.OPEN137_VERIFY_SAMPLE_SHARE)
    if share > 0 and random.random() < share:  # noqa: S311 (a sample, not a secret)
        VerificationCheck.objects.create(report=report, service_area_id=report.service_area_id)

"""The reporter's part in the workflow, through their private link (the tracking page or the API):
confirming the unit's work or saying it is not fixed (duty 6), rating the service once the report is
closed (duty 7), and asking for no more messages (duty 9). And the satisfaction numbers the ratings
give, per unit, category and district.

The reporter has no account: whoever holds a valid private token for the report acts as the reporter
(the entrances check the token; these functions trust it was checked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from issues import events
from issues.models import Report, ReportEvent, ReportStatus, SatisfactionRating
from issues.validation import _plain_text
from issues.workflow import transitions as table
from issues.workflow.services import TransitionConflict, TransitionResult, report_transition

S = ReportStatus
# When the reporter may say whether the work fixed the problem: the unit says it is done, or 137
# has verified or closed it (a closed report may still be reopened), or citizens resolved it.
CONFIRM_STATUSES = frozenset({S.DONE, S.VERIFIED, S.CLOSED, S.RESOLVED_BY_CITIZENS})
# When the service may be rated: the work is over.
RATING_STATUSES = frozenset({S.CLOSED, S.VERIFIED, S.RESOLVED_BY_CITIZENS})
CONFIRM_NOTE_MAX = 1000
RATING_COMMENT_MAX = 2000
SCORES = range(1, 6)


@dataclass
class CitizenConfirmation:
    report: Report
    # The reporter's answer as the public timeline shows it.
    feedback_event: ReportEvent
    # The workflow's steps it led to (none when there was nothing left to do).
    steps: list[TransitionResult] = field(default_factory=list)


def _locked(report: Report) -> Report:
    return Report.objects.select_for_update(of=("self",)).get(pk=report.pk)


def _conflict(report: Report, message: str, code: str) -> TransitionConflict:
    return TransitionConflict(
        message, code=code, current={"status": report.status, "version": report.version}
    )


def _text(value: Any, *, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError({name: [_("Send text.")]}, code="invalid")
    try:
        return _plain_text(value.strip(), limit=limit)
    except ValidationError as exc:
        raise ValidationError({name: exc.messages}, code=exc.code) from None


@transaction.atomic
def report_citizen_confirm(*, report: Report, fixed: bool, note: str = "") -> CitizenConfirmation:
    """The reporter's answer to "is it fixed?". Fixed: the report is verified (by the citizen) and
    closed (by the system); not fixed: it is reopened and goes back to the unit's inbox, with the
    note for the unit. The answer itself is a public event on the timeline. TransitionConflict when
    the unit has not reported the work done (or the report cannot be reopened)."""
    note = _text(note, name="note", limit=CONFIRM_NOTE_MAX)
    locked = _locked(report)
    if locked.status not in CONFIRM_STATUSES:
        raise _conflict(
            locked,
            _("You can say whether it is fixed once the unit reports the work as done."),
            code="not_done",
        )
    feedback = events.citizen_feedback_event(report=locked, fixed=fixed, note=note)
    steps: list[TransitionResult] = []
    if fixed:
        if locked.status == S.DONE:
            steps.append(report_transition(report=locked, action="verify", as_role=table.CITIZEN))
            locked = steps[-1].report
        if locked.status == S.VERIFIED:
            steps.append(report_transition(report=locked, action="close", as_role=table.SYSTEM))
            locked = steps[-1].report
    else:
        # The note is public already (the answer's event); for the unit it is kept with the step.
        steps.append(
            report_transition(
                report=locked, action="reopen", as_role=table.CITIZEN, note=note, internal_note=bool(note)
            )
        )
        locked = steps[-1].report
    if not steps:
        Report.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    return CitizenConfirmation(report=locked, feedback_event=feedback, steps=steps)


def _reasons_clean(reasons: Any) -> list[str]:
    if reasons is None:
        return []
    if isinstance(reasons, str) or not isinstance(reasons, Sequence):
        raise ValidationError({"reasons": [_("Send a list of reasons.")]}, code="invalid")
    allowed = SatisfactionRating.Reason.values
    unknown = [str(r)[:40] for r in reasons if r not in allowed]
    if unknown:
        raise ValidationError(
            {
                "reasons": [
                    _("Unknown reason “%(reason)s”; choose among: %(list)s.")
                    % {"reason": unknown[0], "list": ", ".join(allowed)}
                ]
            },
            code="invalid",
        )
    return list(dict.fromkeys(reasons))


@transaction.atomic
def report_rate(
    *, report: Report, score: int, reasons: Sequence[str] = (), comment: str = ""
) -> SatisfactionRating:
    """The reporter's rating of the service once the work is over: a score from 1 to 5, what it is
    about (speed, quality, courtesy, communication) and a plain-text comment. Once per report: a
    second is refused (ValidationError, code "already_rated"). The unit and district it counts for
    are the report's at the time."""
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise ValidationError({"score": [_("Give a score from 1 to 5.")]}, code="invalid")
    reasons = _reasons_clean(reasons)
    comment = _text(comment, name="comment", limit=RATING_COMMENT_MAX)
    locked = _locked(report)
    if locked.status not in RATING_STATUSES:
        raise _conflict(locked, _("You can rate the service once the report is closed."), code="not_closed")
    if SatisfactionRating.objects.filter(report_id=locked.pk).exists():
        raise ValidationError(_("You have already rated this report. Thank you."), code="already_rated")
    rating = SatisfactionRating.objects.create(
        report=locked, service_area_id=locked.service_area_id, score=score, reasons=reasons, comment=comment
    )
    events.rated_event(report=locked, score=score)
    return rating


@transaction.atomic
def report_messages_stop(*, report: Report) -> bool:
    """The reporter wants no more messages about this report (SMS or e-mail). Returns whether this
    changed anything: asking twice records it once."""
    locked = _locked(report)
    if locked.messages_stopped:
        return False
    locked.messages_stopped = True
    locked.save(update_fields=["messages_stopped", "updated_at"])
    events.messages_stopped_event(report=locked)
    report.messages_stopped = True
    return True


# What the averages are grouped by: the key and the two names of each group.
_GROUPS: dict[str, tuple[str, str, str]] = {
    "unit": ("service_area__code", "service_area__unit_name_fa", "service_area__unit_name_en"),
    "category": ("report__category__code", "report__category__name_fa", "report__category__name_en"),
    # By code: a district redrawn in a new boundary set is still the same district.
    "district": ("report__district__code", "report__district__name_fa", "report__district__name_en"),
}


def satisfaction_averages(
    *, by: Literal["unit", "category", "district"], min_answers: int | None = None
) -> list[dict[str, Any]]:
    """The citizens' ratings per unit, category or district: rows {code, name_fa, name_en, n,
    average}. A group with fewer than `min_answers` ratings (settings.OPEN137_SATISFACTION_MIN_ANSWERS)
    shows its count but no average: two or three answers say little, and could point at a person."""
    if by not in _GROUPS:
        raise ValidationError({"by": [_("Group by unit, category or district.")]}, code="invalid")
    if min_answers is None:
        min_answers = settings.OPEN137_SATISFACTION_MIN_ANSWERS
    key, name_fa, name_en = _GROUPS[by]
    rows = (
        SatisfactionRating.objects.values(key)
        .annotate(n=Count("id"), average=Avg("score"), name_fa=Max(name_fa), name_en=Max(name_en))
        .order_by(key)
    )
    return [
        {
            "code": row[key],
            "name_fa": row["name_fa"] or "",
            "name_en": row["name_en"] or "",
            "n": row["n"],
            "average": round(float(row["average"]), 2) if row["n"] >= min_answers else None,
        }
        for row in rows
    ]

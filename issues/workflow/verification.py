"""Duty 6: checking that the units' work reports are true.

A share of the reports a unit files as done (settings.OPEN137_VERIFY_SAMPLE_SHARE) is drawn for a
check by the 137 centre when the work report is filed (`report_transition`): a call-back to the
reporter or a field visit. The supervisor records what they found:

- confirmed: the work is done; the report is verified and closed;
- not fixed: the unit's report was not true; the report is reopened and goes back to the unit;
- could not verify: nobody answered, nobody could go; only the check is recorded.

A unit's accuracy is read from the history: of the work reports it filed (status events to `done`),
the share later reopened (by the reporter or 137) or found not fixed by a check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.models import ServiceArea
from issues import events
from issues.models import Report, ReportEvent, ReportStatus, Role, VerificationCheck
from issues.workflow.scope import StaffScope, reports_in_scope, staff_scope
from issues.workflow.services import ActionForbidden, TransitionConflict, report_transition

Outcome = VerificationCheck.Outcome
# How the 137 centre checked.
METHODS = ("call_back", "field_visit")
OUTCOMES = (Outcome.CONFIRMED, Outcome.NOT_FIXED, Outcome.COULD_NOT_VERIFY)
NOTE_MAX = 4000


def verification_queue(*, scope: StaffScope) -> list[dict[str, Any]]:
    """The checks still to make on reports in scope, oldest first: the check, the report's code and
    status, the unit whose work is checked, when it was reported done, and (for the 137 centre only)
    the reporter's contact details to call back."""
    columns = [
        "id",
        "created_at",
        "report__tracking_code",
        "report__status",
        "report__done_at",
        "report__address",
        "report__category__name_fa",
        "report__category__name_en",
        "service_area__code",
        "service_area__unit_name_fa",
        "service_area__unit_name_en",
    ]
    if scope.sees_contacts:
        columns += [
            "report__reporter_name",
            "report__reporter_phone",
            "report__reporter_email",
            "report__consent_contact",
        ]
    rows = (
        VerificationCheck.objects.filter(
            outcome=Outcome.PENDING, report__in=reports_in_scope(scope=scope).values("pk")
        )
        .order_by("created_at", "id")
        .values(*columns)
    )
    return [{key.replace("report__", "", 1): value for key, value in row.items()} for row in rows]


def _clean(*, outcome: str, method: str, note: str) -> str:
    errors: dict[str, list[str]] = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = [_("Choose one of: %(list)s.") % {"list": ", ".join(OUTCOMES)}]
    if method not in METHODS:
        errors["method"] = [_("Choose one of: %(list)s.") % {"list": ", ".join(METHODS)}]
    note = (note or "").strip()
    if "\x00" in note:
        errors["note"] = [_("Text cannot hold a NUL character.")]
    elif len(note) > NOTE_MAX:
        errors["note"] = [_("At most %(n)d characters.") % {"n": NOTE_MAX}]
    if errors:
        raise ValidationError(errors, code="invalid")
    return note


@transaction.atomic
def verification_record(
    *, check_id: int, actor: AbstractBaseUser, outcome: str, method: str, note: str = ""
) -> VerificationCheck:
    """Record what a 137 supervisor found, once per check, and take the step it leads to as that
    supervisor: confirmed -> verified and closed; not fixed -> reopened (back to the unit); could
    not verify -> nothing more. ActionForbidden for anyone but a supervisor; TransitionConflict for a
    check already recorded, or a report that has meanwhile moved where the finding cannot apply."""
    scope = staff_scope(user=actor)
    if scope is None or scope.role != Role.SUPERVISOR:
        raise ActionForbidden(_("Only 137 supervisors record the checks of the units' work."))
    note = _clean(outcome=outcome, method=method, note=note)
    check = VerificationCheck.objects.select_for_update(of=("self",)).filter(pk=check_id).first()
    if check is None:
        raise ValidationError({"check_id": [_("No such check.")]}, code="not_found")
    if check.outcome != Outcome.PENDING:
        raise TransitionConflict(
            _("This check was already recorded: %(outcome)s.") % {"outcome": check.get_outcome_display()},
            code="already_recorded",
            current={"outcome": check.outcome},
        )
    report = Report.objects.select_for_update(of=("self",)).get(pk=check.report_id)
    status = report.status
    if outcome == Outcome.CONFIRMED:
        if status == ReportStatus.DONE:
            report = report_transition(report=report, action="verify", actor=actor).report
        if report.status == ReportStatus.VERIFIED:
            report = report_transition(report=report, action="close", actor=actor).report
        elif report.status != ReportStatus.CLOSED:
            raise _moved_on(report)
    elif outcome == Outcome.NOT_FIXED:
        if status in (ReportStatus.DONE, ReportStatus.VERIFIED, ReportStatus.CLOSED):
            report_transition(report=report, action="reopen", actor=actor)
        elif status != ReportStatus.REOPENED:  # reopened already (the reporter said so): agreed
            raise _moved_on(report)
    # The finding and its note are the check's own event, internal: the steps above are public.
    check.outcome = outcome
    check.method = method
    check.checked_by = actor  # type: ignore[assignment]
    check.checked_at = timezone.now()
    check.save(update_fields=["outcome", "method", "checked_by", "checked_at"])
    events.verification_event(report=report, actor=actor, outcome=outcome, method=method, note=note)
    return check


def _moved_on(report: Report) -> TransitionConflict:
    return TransitionConflict(
        _("This report is “%(status)s” now: the check cannot be recorded this way.")
        % {"status": report.get_status_display()},
        current={"status": report.status, "version": report.version},
    )


def unit_accuracy(*, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per unit (the one that filed the work report, as recorded on its `done` event): work reports
    filed since `since`, how many were later reopened or found not fixed by a 137 check, their share
    and the accuracy (1 - share). A report done twice counts twice: each work report is a claim."""
    done = ReportEvent.objects.filter(kind=ReportEvent.Kind.STATUS, to_status=ReportStatus.DONE)
    if since is not None:
        done = done.filter(at__gte=since)
    reopened_later = ReportEvent.objects.filter(
        report_id=OuterRef("report_id"), kind=ReportEvent.Kind.STATUS, to_status=ReportStatus.REOPENED
    ).filter(Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), id__gt=OuterRef("id")))
    failed_check = VerificationCheck.objects.filter(
        report_id=OuterRef("report_id"), outcome=Outcome.NOT_FIXED, created_at__gte=OuterRef("at")
    )
    rows = (
        done.annotate(
            unit=KT("data__service_area"), reopened=Exists(reopened_later), failed=Exists(failed_check)
        )
        .values("unit")
        .annotate(
            done=Count("id"),
            reopened_n=Count("id", filter=Q(reopened=True)),
            failed_n=Count("id", filter=Q(failed=True)),
            bad=Count("id", filter=Q(reopened=True) | Q(failed=True)),
        )
        .order_by(F("unit").asc(nulls_last=True))
    )
    names: dict[str, dict[str, Any]] = {
        row["code"]: dict(row)
        for row in ServiceArea.objects.filter(code__in=[r["unit"] for r in rows if r["unit"]]).values(
            "code", "unit_name_fa", "unit_name_en"
        )
    }
    result = []
    for row in rows:
        share = row["bad"] / row["done"] if row["done"] else 0.0
        unit = names.get(row["unit"] or "", {})
        result.append(
            {
                "service_area": row["unit"],
                "unit_name_fa": unit.get("unit_name_fa", ""),
                "unit_name_en": unit.get("unit_name_en", ""),
                "done": row["done"],
                "reopened": row["reopened_n"],
                "failed_checks": row["failed_n"],
                "reopened_or_failed": row["bad"],
                "share": share,
                "accuracy": 1.0 - share,
            }
        )
    return result

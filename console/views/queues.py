"""The 137 supervisors' queues.

- Triage: reports that found no unit (outside every district beyond the tolerance, or no unit of the
  category's department there), waiting for a supervisor to route them; each row routes in one step.
- Verification: done reports drawn for a 137 check of the unit's work (a call-back or a field visit,
  duty 6), with the outcome form.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from console.forms import VerificationForm, unit_choices
from console.views.auth import SUPERVISORS, forbidden, page, staff_required
from console.views.inbox import grouped_code, status_label
from districts.selectors import service_area_choices
from issues.filters import FilterError, ReportFilters
from issues.models import OPEN_STATUSES
from issues.workflow.inbox import StaffFilters, staff_report_count, staff_report_page
from issues.workflow.scope import StaffScope
from issues.workflow.services import ActionForbidden, TransitionConflict
from issues.workflow.verification import verification_queue, verification_record

QUEUE_SIZE = 100
TRIAGE_FILTERS = StaffFilters(
    base=ReportFilters(statuses=frozenset(str(s) for s in OPEN_STATUSES)), triage=True
)


@require_GET
@staff_required(SUPERVISORS)
def triage(request: HttpRequest, *, scope: StaffScope) -> HttpResponse:
    status = 200
    error = ""
    rows: list[dict[str, Any]] = []
    next_cursor = None
    try:
        rows, next_cursor = staff_report_page(
            scope=scope, filters=TRIAGE_FILTERS, cursor=request.GET.get("cursor") or None, limit=QUEUE_SIZE
        )
    except FilterError as exc:
        error, status = exc.message, 400
    for row in rows:
        row["status_label"] = status_label(row["status"])
    context = {
        "rows": rows,
        "count": staff_report_count(scope=scope, filters=TRIAGE_FILTERS),
        "next_url": f"?cursor={next_cursor}" if next_cursor else None,
        "units": unit_choices(service_area_choices(), blank="—"),
        "error": error,
        "here": reverse("console:triage"),
    }
    return page(request, "console/triage.html", context, scope=scope, status=status)


def _verification_render(
    request: HttpRequest,
    *,
    scope: StaffScope,
    failed: VerificationForm | None = None,
    failed_id: int | None = None,
    message: str = "",
    status: int = 200,
) -> HttpResponse:
    rows = verification_queue(scope=scope)
    for row in rows:
        row["status_label"] = status_label(row["status"])
        row["form"] = (
            failed
            if row["id"] == failed_id and failed is not None
            else VerificationForm(auto_id=f"id_c{row['id']}_%s")
        )
    context = {"rows": rows, "message": message, "failed_id": failed_id}
    return page(request, "console/verification.html", context, scope=scope, status=status)


@require_http_methods(["GET", "POST"])
@staff_required(SUPERVISORS)
def verification(request: HttpRequest, *, scope: StaffScope) -> HttpResponse:
    """The checks to make, each with its outcome form; a POST records one check."""
    if request.method == "GET":
        return _verification_render(request, scope=scope)
    raw_id = request.POST.get("check_id", "")
    check_id = int(raw_id) if raw_id.isdecimal() and len(raw_id) < 12 else None
    form = VerificationForm(request.POST, auto_id=f"id_c{check_id}_%s")
    pending = {row["id"]: row for row in verification_queue(scope=scope)}
    if check_id not in pending:
        # Recorded meanwhile by another supervisor, or never a check of this queue.
        return _verification_render(
            request,
            scope=scope,
            message=_("This check is no longer in the queue: nothing was recorded."),
            status=409,
        )
    assert check_id is not None
    if not form.is_valid():
        return _verification_render(request, scope=scope, failed=form, failed_id=check_id, status=400)
    data = form.cleaned_data
    try:
        verification_record(
            check_id=check_id,
            actor=cast(AbstractBaseUser, request.user),
            outcome=data["outcome"],
            method=data["method"],
            note=data["note"],
        )
    except TransitionConflict as exc:
        current = exc.current.get("status")
        message = (
            _("This report changed meanwhile: it is now “%(status)s”. Nothing was recorded.")
            % {"status": status_label(str(current))}
            if current
            else _("This check was already recorded by someone else.")
        )
        return _verification_render(
            request, scope=scope, failed=form, failed_id=check_id, message=message, status=409
        )
    except ActionForbidden:
        return forbidden(request, _("Your role cannot open this page."))
    except ValidationError as exc:
        for key, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
            for text in errors:
                form.add_error(key if key in form.fields else None, text)
        return _verification_render(request, scope=scope, failed=form, failed_id=check_id, status=400)
    messages.success(
        request,
        _("The check of %(code)s is recorded.") % {"code": grouped_code(pending[check_id]["tracking_code"])},
    )
    return redirect("console:verification")

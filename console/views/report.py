"""A report's staff page: what happened (every event, internal notes too), where (the map), the
photos before and after the work, the reporter's contact details for the 137 centre only, and the
actions this member of staff may take now, in one form posted to `report_action`.

A report outside the member of staff's scope is a 404, as if it did not exist. The form carries the
report's version: if someone else acted meanwhile, the service refuses with a conflict, and the page
comes back (409) with the report as it is now, a message, and what the member of staff typed.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language_bidi, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from console.forms import ACTION_LABELS, ReportActionForm
from console.views.auth import page, staff_required
from console.views.inbox import grouped_code, status_label
from districts.selectors import service_area_choices
from issues.models import MessageKind
from issues.staff_api.selectors import service_area_by_code, staff_user_by_username
from issues.workflow.assignees import staff_assignee_choices
from issues.workflow.inbox import staff_report_detail
from issues.workflow.scope import StaffScope, report_in_scope_get
from issues.workflow.services import (
    ActionForbidden,
    ReportNotFound,
    TransitionConflict,
    report_transition,
)
from issues.workflow.transitions import ASSIGN_ROLES, NOTE_ROLES

EVENT_LABELS: dict[str, Any] = {
    "created": gettext_lazy("Report received"),
    "status": gettext_lazy("Status changed"),
    "rerouted": gettext_lazy("Re-routed after a change of boundaries"),
    "note": gettext_lazy("Note"),
    "support": gettext_lazy("Another citizen reported the same problem (me too)"),
    "citizen_info": gettext_lazy("The reporter added information"),
    "citizen_feedback": gettext_lazy("The reporter answered: fixed or not"),
    "corrected": gettext_lazy("Reporter's details corrected"),
    "client_details": gettext_lazy("Details from the caller"),
    "assigned": gettext_lazy("Assigned"),
    "escalated": gettext_lazy("Escalated"),
    "verification": gettext_lazy("137 check of the work"),
    "rated": gettext_lazy("Rated by the reporter"),
    "messages_stopped": gettext_lazy("Messages to the reporter stopped"),
}


def offered_actions(*, scope: StaffScope, detail: dict[str, Any]) -> list[str]:
    """The buttons: the status changes the table allows this role now, then assign and note."""
    actions = list(detail["actions"])
    if scope.role in ASSIGN_ROLES:
        actions.append("assign")
    if scope.role in NOTE_ROLES:
        actions.append("note")
    return actions


def _action_form(
    scope: StaffScope, detail: dict[str, Any], data: Any = None, files: Any = None
) -> ReportActionForm:
    actions = offered_actions(scope=scope, detail=detail)
    posted = data.get("action") if data is not None else None
    if posted in ACTION_LABELS and posted not in actions:
        # A button of the page as it was: whether it still applies (or ever did, for this role) is
        # the service's answer, a conflict or a refusal, not a form error.
        actions.append(posted)
    return ReportActionForm(
        data,
        files,
        actions=actions,
        units=service_area_choices() if {"route", "transfer"} & set(actions) else [],
        people=staff_assignee_choices(scope=scope) if "assign" in actions else [],
        initial={"version": detail["version"], "internal": True},
    )


def _timeline(detail: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for event in detail["timeline"]:
        label = str(EVENT_LABELS.get(event["kind"], event["kind"]))
        if event["kind"] == "status" and event["to_status"]:
            arrow = "←" if get_language_bidi() else "→"
            label = f"{status_label(event['from_status'])} {arrow} {status_label(event['to_status'])}"
        items.append(
            {
                **event,
                "label": label,
                "who": event["actor__username"] or event["actor_label"] or "",
            }
        )
    return items


def _report_render(
    request: HttpRequest,
    *,
    scope: StaffScope,
    detail: dict[str, Any],
    form: ReportActionForm | None = None,
    conflict: str = "",
    status: int = 200,
) -> HttpResponse:
    form = form or _action_form(scope, detail)
    kind = detail["kind"]
    context = {
        "report": detail,
        "code": detail["tracking_code"],
        "code_label": grouped_code(detail["tracking_code"]),
        "status_label": status_label(detail["status"]),
        "kind_label": MessageKind(kind).label if kind in MessageKind.values else kind,
        "timeline": _timeline(detail),
        "photos_before": [p for p in detail["photos"] if p["kind"] != "work"],
        "photos_after": [p for p in detail["photos"] if p["kind"] == "work"],
        "sees_contacts": scope.sees_contacts,
        "form": form,
        "buttons": [(a, ACTION_LABELS.get(a, a)) for a in offered_actions(scope=scope, detail=detail)],
        "conflict": conflict,
        "next": _safe_next(request),
    }
    return page(request, "console/report.html", context, scope=scope, status=status)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@require_GET
@staff_required()
def report_page(request: HttpRequest, code: str, *, scope: StaffScope) -> HttpResponse:
    detail = staff_report_detail(scope=scope, code=code)
    if detail is None:
        raise Http404
    return _report_render(request, scope=scope, detail=detail)


# Fields of the service's errors that the form shows next to a field of its own.
_FORM_FIELDS = {"note", "photos", "service_area", "duplicate_of", "referred_to", "assignee"}


def _service_errors(form: ReportActionForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for key, errors in exc.error_dict.items():
        target = key if key in _FORM_FIELDS and key in form.fields else None
        for error in errors:
            for message in error.messages:
                form.add_error(target, message)


@require_POST
@staff_required()
def report_action(request: HttpRequest, code: str, *, scope: StaffScope) -> HttpResponse:
    detail = staff_report_detail(scope=scope, code=code)
    report = report_in_scope_get(scope=scope, code=code)
    if detail is None or report is None:
        raise Http404
    form = _action_form(scope, detail, request.POST, request.FILES)
    if not form.is_valid():
        return _report_render(request, scope=scope, detail=detail, form=form, status=400)
    data = form.cleaned_data
    action = data["action"]
    extra: dict[str, Any] = {}
    if action in ("route", "transfer"):
        extra["service_area"] = service_area_by_code(code=data.get("service_area") or "")
        if extra["service_area"] is None:
            form.add_error("service_area", _("Choose an active unit."))
    if action == "duplicate":
        extra["duplicate_of"] = report_in_scope_get(scope=scope, code=data.get("duplicate_of") or "")
        if extra["duplicate_of"] is None:
            form.add_error("duplicate_of", _("No report in your inbox has this tracking code."))
    if action == "refer":
        extra["referred_to"] = data.get("referred_to") or ""
    if action == "assign":
        extra["assignee"] = staff_user_by_username(username=data.get("assignee") or "")
        if extra["assignee"] is None:
            form.add_error("assignee", _("Choose who to assign it to."))
    if action == "done":
        extra["photos"] = data.get("photos") or []
    if form.errors:
        return _report_render(request, scope=scope, detail=detail, form=form, status=400)
    try:
        report_transition(
            report=report,
            action=action,
            actor=cast(AbstractBaseUser, request.user),
            note=data["note"],
            internal_note=data["internal"],
            expected_version=data["version"],
            **extra,
        )
    except TransitionConflict:
        # The report as it is now, its actions as they are now, and the member of staff's note kept;
        # the form takes the new version, so sending again is a deliberate second decision.
        fresh = staff_report_detail(scope=scope, code=code)
        if fresh is None:  # pragma: no cover - moved out of scope meanwhile
            raise Http404 from None
        typed = request.POST.copy()
        typed["version"] = str(fresh["version"])
        message = _(
            "Someone else changed this report meanwhile: it is now “%(status)s”. Nothing was saved; your "
            "note is kept below. Check the report and send again if it still applies."
        ) % {"status": status_label(fresh["status"])}
        retry = _action_form(scope, fresh, typed)
        return _report_render(request, scope=scope, detail=fresh, form=retry, conflict=message, status=409)
    except ReportNotFound:
        raise Http404 from None
    except ActionForbidden:
        form.add_error(None, _("Your role cannot do this on this report."))
        return _report_render(request, scope=scope, detail=detail, form=form, status=403)
    except ValidationError as exc:
        _service_errors(form, exc)
        return _report_render(request, scope=scope, detail=detail, form=form, status=400)
    messages.success(
        request,
        _("%(action)s: done for %(code)s.")
        % {"action": ACTION_LABELS.get(action, action), "code": grouped_code(detail["tracking_code"])},
    )
    return redirect(_safe_next(request) or reverse("console:report", args=[detail["tracking_code"]]))

"""The inbox: the reports in the member of staff's scope, as a list and a map side by side, with
filters (status, category, unit, district, dates in Jalali or ISO, text, overdue, mine), the
exports of what is filtered (`?format=csv`, `?format=geojson`) and the bulk actions (acknowledge,
assign, transfer), each ticked report being one call of the workflow service.

The list, the map and the exports read the same rows (issues.workflow.inbox): a report out of scope
never reaches the page, and the reporter's contact details only reach the 137 centre.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from console.exports import rows_csv, rows_geojson
from console.forms import ACTION_LABELS, BulkActionForm, InboxFilterForm
from console.views.auth import forbidden, page, staff_required
from districts.selectors import district_names, district_outline_geojson, service_area_choices
from issues.filters import FilterError
from issues.models import ReportStatus, Role
from issues.selectors import category_list_public
from issues.staff_api.selectors import service_area_by_code, staff_user_by_username
from issues.workflow.assignees import staff_assignee_choices
from issues.workflow.inbox import (
    StaffFilters,
    staff_filters_parse,
    staff_report_count,
    staff_report_page,
    staff_report_rows,
)
from issues.workflow.quick import report_transition_by_code
from issues.workflow.scope import StaffScope
from issues.workflow.services import ActionForbidden, ReportNotFound, TransitionConflict

PAGE_SIZE = 50
COUNT_CAP = 10_000
EXPORT_MAX = 20_000
# Who may take the bulk actions (acknowledge, assign, transfer are the units', managers' and
# supervisors'; the operators take calls and read).
BULK_ROLES = frozenset({Role.UNIT_STAFF, Role.DISTRICT_MANAGER, Role.SUPERVISOR})


def status_label(value: str) -> str:
    return str(ReportStatus(value).label) if value in ReportStatus.values else value


def list_join(items: list[str]) -> str:
    return ("، " if (get_language() or "fa").startswith("fa") else ", ").join(items)


def grouped_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _query(request: HttpRequest, **changes: str | None) -> str:
    """The current query string with some parameters changed (None drops one)."""
    params = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params.urlencode()


def _pin(row: dict[str, Any]) -> dict[str, Any]:
    # Only what the map draws; the description and the contacts stay out of the page's data.
    return {
        "code": row["tracking_code"],
        "label": grouped_code(row["tracking_code"]),
        "lat": row["lat"],
        "lon": row["lon"],
        "status": row["status"],
        "status_label": status_label(row["status"]),
        "overdue": bool(row["overdue"]),
        "url": reverse("console:report", args=[row["tracking_code"]]),
    }


def _filters(request: HttpRequest, form: InboxFilterForm) -> StaffFilters | None:
    """The filters of a valid form, or None with the errors on the form, next to their fields."""
    if not form.is_valid():
        return None
    try:
        return staff_filters_parse(form.params())
    except FilterError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


def _export(request: HttpRequest, *, scope: StaffScope, filters: StaffFilters, fmt: str) -> HttpResponse:
    rows = staff_report_rows(scope=scope, filters=filters, limit=EXPORT_MAX)
    stamp = date.today().strftime("%Y%m%d")
    if fmt == "csv":
        response = HttpResponse(
            rows_csv(rows, contacts=scope.sees_contacts), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="open137-reports-{stamp}.csv"'
    else:
        response = HttpResponse(
            rows_geojson(rows, contacts=scope.sees_contacts),
            content_type="application/geo+json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="open137-reports-{stamp}.geojson"'
    if len(rows) >= EXPORT_MAX:
        # More matched than a file holds: say so rather than let it pass for the whole set.
        response["X-Open137-Truncated"] = str(EXPORT_MAX)
    return response


def _bulk_form(scope: StaffScope, data: Any = None) -> BulkActionForm | None:
    if scope.role not in BULK_ROLES:
        return None
    return BulkActionForm(data, units=service_area_choices(), people=staff_assignee_choices(scope=scope))


def _inbox_render(
    request: HttpRequest, *, scope: StaffScope, bulk_form: BulkActionForm | None = None, status: int = 200
) -> HttpResponse:
    form = InboxFilterForm(
        request.GET,
        categories=category_list_public(),
        units=service_area_choices(),
        districts=district_names(),
    )
    filters = _filters(request, form)
    fmt = request.GET.get("format", "")
    if fmt not in ("", "csv", "geojson"):
        form.add_error(None, _("Unknown export format: use csv or geojson."))
        filters = None
    if filters is not None and fmt:
        return _export(request, scope=scope, filters=filters, fmt=fmt)
    rows: list[dict[str, Any]] = []
    next_cursor = None
    count = 0
    if filters is not None:
        try:
            rows, next_cursor = staff_report_page(
                scope=scope, filters=filters, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
            )
            count = staff_report_count(scope=scope, filters=filters, cap=COUNT_CAP)
        except FilterError as exc:
            form.add_error(None, exc.message)
            filters = None
    if filters is None:
        if fmt:
            return HttpResponse(
                "\n".join(str(m) for errors in form.errors.values() for m in errors),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        status = 400
    for row in rows:
        row["status_label"] = status_label(row["status"])
    outline = None
    if scope.district_codes:
        outline = json.loads(district_outline_geojson(codes=scope.district_codes))
    context = {
        "form": form,
        "rows": rows,
        "count": count,
        "count_capped": count >= COUNT_CAP,
        "next_url": f"?{_query(request, cursor=next_cursor)}" if next_cursor else None,
        "first_url": f"?{_query(request, cursor=None)}" if request.GET.get("cursor") else None,
        "csv_url": f"?{_query(request, cursor=None, format='csv')}",
        "geojson_url": f"?{_query(request, cursor=None, format='geojson')}",
        "bulk_form": bulk_form if bulk_form is not None else _bulk_form(scope),
        "map_data": {
            "pins": [_pin(r) for r in rows if r["lat"] is not None and r["lon"] is not None],
            "outline": outline,
        },
        "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
        "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
        "sees_contacts": scope.sees_contacts,
    }
    return page(request, "console/inbox.html", context, scope=scope, status=status)


@require_http_methods(["GET", "POST"])
@staff_required()
def inbox(request: HttpRequest, *, scope: StaffScope) -> HttpResponse:
    if request.method == "POST":
        return _bulk(request, scope=scope)
    return _inbox_render(request, scope=scope)


# --- Bulk actions -----------------------------------------------------------------------------------

DONE, CONFLICT, NOT_ALLOWED = "done", "conflict", "not_allowed"


def bulk_apply(
    *, scope: StaffScope, actor: Any, picks: list[tuple[str, int]], action: str, extra: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """Take `action` on each picked report, one service call each (one may fail, the others still
    go through): (code, outcome, reason) per report, outcome done / conflict / not_allowed."""
    results = []
    for code, version in picks:
        try:
            report_transition_by_code(
                code=code, action=action, actor=actor, scope=scope, expected_version=version, **extra
            )
        except TransitionConflict as exc:
            results.append(
                (
                    code,
                    CONFLICT,
                    _("changed meanwhile; it is now “%(status)s”")
                    % {"status": status_label(str(exc.current.get("status", "")))},
                )
            )
        except ReportNotFound:
            results.append((code, NOT_ALLOWED, _("not in your inbox")))
        except ActionForbidden:
            results.append((code, NOT_ALLOWED, _("your role cannot do this")))
        except ValidationError as exc:
            results.append((code, NOT_ALLOWED, " ".join(exc.messages)))
        else:
            results.append((code, DONE, ""))
    return results


def _bulk(request: HttpRequest, *, scope: StaffScope) -> HttpResponse:
    if scope.role not in BULK_ROLES:
        return forbidden(request, _("Your role cannot act on reports from the inbox."))
    form = _bulk_form(scope, request.POST)
    assert form is not None
    if not form.is_valid():
        return _inbox_render(request, scope=scope, bulk_form=form, status=400)
    data = form.cleaned_data
    action = data["action"]
    # A note sent with a bulk action is for the staff (a transfer's reason is for the unit that
    # takes the reports over), never for the citizens.
    extra: dict[str, Any] = {"note": data["note"], "internal_note": True}
    if action == "assign":
        extra["assignee"] = staff_user_by_username(username=data["assignee"])
        if extra["assignee"] is None:
            form.add_error("assignee", _("This member of staff cannot be chosen."))
    if action == "transfer":
        extra["service_area"] = service_area_by_code(code=data["service_area"])
        if extra["service_area"] is None:
            form.add_error("service_area", _("This unit cannot be chosen."))
    if form.errors:
        return _inbox_render(request, scope=scope, bulk_form=form, status=400)
    results = bulk_apply(scope=scope, actor=request.user, picks=data["picks"], action=action, extra=extra)
    label = ACTION_LABELS[action]
    done = [grouped_code(code) for code, outcome, _reason in results if outcome == DONE]
    if done:
        messages.success(
            request, _("%(action)s: done for %(codes)s.") % {"action": label, "codes": list_join(done)}
        )
    for code, outcome, reason in results:
        if outcome == CONFLICT:
            messages.warning(
                request, _("%(code)s: conflict, %(reason)s.") % {"code": grouped_code(code), "reason": reason}
            )
        elif outcome == NOT_ALLOWED:
            messages.error(
                request,
                _("%(code)s: not allowed, %(reason)s.") % {"code": grouped_code(code), "reason": reason},
            )
    query = request.GET.urlencode()
    return redirect(f"{reverse('console:inbox')}?{query}" if query else reverse("console:inbox"))

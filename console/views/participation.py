"""Participation in the console: the participation points a member of staff manages (reported empty
first, with "restocked"), and the staff's confirmation of a citizen's pledge on a report's page.

Points: 137 supervisors manage every one, district managers and unit staff those of their districts
(participation.selectors.points_in_scope); a point outside the scope is a 404. The pledge's
confirmation goes through the workflow, which checks the role (403) and the report's scope (404).
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from console.views.auth import forbidden, page, staff_required
from issues.workflow.scope import StaffScope, report_in_scope_get
from issues.workflow.services import ActionForbidden, ReportNotFound, TransitionConflict
from participation.selectors import POINT_ROLES, pledge_live, point_in_scope_get, points_staff_list
from participation.services import pledge_confirm, point_restock


@require_GET
@staff_required(POINT_ROLES)
def points(request: HttpRequest, *, scope: StaffScope) -> HttpResponse:
    rows = points_staff_list(scope=scope)
    context = {"points": rows, "empty_count": sum(1 for p in rows if p["status"] == "empty")}
    return page(request, "console/participation_points.html", context, scope=scope)


@require_POST
@staff_required(POINT_ROLES)
def point_restocked(request: HttpRequest, point_id: int, *, scope: StaffScope) -> HttpResponse:
    point = point_in_scope_get(scope=scope, point_id=point_id)
    if point is None:
        raise Http404
    try:
        point = point_restock(point=point, actor=cast(AbstractBaseUser, request.user))
    except TransitionConflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s: restocked.") % {"name": point.name_fa})
    return redirect("console:participation_points")


@require_POST
@staff_required()
def report_pledge_confirm(request: HttpRequest, code: str, *, scope: StaffScope) -> HttpResponse:
    report = report_in_scope_get(scope=scope, code=code)
    if report is None:
        raise Http404
    pledge = pledge_live(report=report)
    if pledge is None:
        messages.error(request, _("No citizen's pledge waits for confirmation on this report."))
        return redirect("console:report", code=report.tracking_code)
    try:
        pledge_confirm(pledge=pledge, actor=cast(AbstractBaseUser, request.user))
    except ReportNotFound:
        raise Http404 from None
    except ActionForbidden:
        return forbidden(request, _("Your role cannot do this on this report."))
    except TransitionConflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Confirmed: the report is closed as resolved by citizens."))
    return redirect("console:report", code=report.tracking_code)


# Included by console/urls.py under participation/.
urlpatterns = [
    path("points/", points, name="participation_points"),
    path("points/<int:point_id>/restocked/", point_restocked, name="participation_point_restocked"),
    path("reports/<str:code>/pledge/confirm/", report_pledge_confirm, name="pledge_confirm"),
]

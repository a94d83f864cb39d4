"""`{% pledge_box %}` on a report's tracking page (maps/templates/maps/track.html): the pledge form
on a report citizens may take care of, the state of a live pledge (never who), and for the reporter
(the page opened through the private link) the control to confirm a pledge said done.

`{% pledge_staff_box %}` on the console's report page: the live pledge (the pledger's name and
contact for the 137 centre only) and the staff's confirmation."""

from __future__ import annotations

from typing import Any

from django import template

from issues.selectors import report_by_code
from participation.forms import PledgeForm
from participation.selectors import pledge_public_state, pledge_staff_view
from participation.services import report_pledgeable

register = template.Library()


@register.inclusion_tag("participation/pledge_box.html", takes_context=True)
def pledge_box(context: template.Context) -> dict[str, Any]:
    code = context.get("code") or ""
    report = report_by_code(code=code) if code else None
    if report is None:
        return {"show": False}
    state = pledge_public_state(report=report)
    pledgeable = report_pledgeable(report)
    return {
        "show": pledgeable or state["status"] is not None,
        "state": state,
        "pledgeable": pledgeable,
        "code": report.tracking_code,
        "private": bool(context.get("private")),
        "form": PledgeForm(auto_id="pledge_%s"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("participation/pledge_staff_box.html", takes_context=True)
def pledge_staff_box(context: template.Context) -> dict[str, Any]:
    code = context.get("code") or ""
    scope = context.get("scope")
    report = report_by_code(code=code) if code else None
    if report is None or scope is None:
        return {"pledge": None}
    return {
        "pledge": pledge_staff_view(report=report, sees_contacts=bool(scope.sees_contacts)),
        "code": report.tracking_code,
        "csrf_token": context.get("csrf_token"),
    }

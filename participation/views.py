"""Participation's public pages under /participation/: a point's page with its one-tap "it is empty",
the pledge ("I'll take care of it") from a report's tracking page, the pledger's private page (done,
withdraw) and the reporter's confirmation. Plain HTML forms; no script of their own.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from issues.models import Report
from issues.selectors import report_by_code, report_private_token_valid, report_tracking_url
from issues.throttling import client_fingerprint, throttle_wait
from issues.workflow.services import ActionForbidden, ReportNotFound, TransitionConflict
from participation import selectors, services
from participation.forms import PledgeForm
from participation.models import ParticipationPoint, PledgeStatus
from participation.throttling import PledgeThrottle, PointEmptyThrottle

# Where the tracking page keeps, in the session, the reporter's tokens of the reports this browser
# opened through its private link (maps/private_link.py writes it; participation sits below maps
# and cannot import it, so it reads the same key and checks the token again).
PRIVATE_SESSION_KEY = "open137_private_reports"


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def _private_headers(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _wait(request: HttpRequest, throttle: type[BaseThrottle]) -> int | None:
    return throttle_wait(request, throttle())


# --- Points --------------------------------------------------------------------------------------


@require_GET
def point_page(request: HttpRequest, point_id: int) -> HttpResponse:
    """A point's public page: what and where it is, whether it is stocked, and "it is empty"."""
    point = selectors.point_public_get(point_id=point_id)
    if point is None:
        raise Http404
    return render(request, "participation/point.html", {"point": point})


@require_POST
def point_empty(request: HttpRequest, point_id: int) -> HttpResponse:
    """One tap: "it is empty". From the point's page (a form: back to the page with a message) or
    the map's popup (a fetch asking for JSON). Each client counts once per stocking round; every tap
    counts toward the client's limit."""
    wants_json = _wants_json(request)
    wait = _wait(request, PointEmptyThrottle)
    if wait is not None:
        error = _("Too many requests from your address. Try again in %(minutes)d minutes.") % {
            "minutes": max(1, round(wait / 60))
        }
        if wants_json:
            response: HttpResponse = JsonResponse({"error": error, "retry_after": wait}, status=429)
        else:
            # The page itself, with the message, rather than a redirect that would hide the refusal.
            point = selectors.point_public_get(point_id=point_id)
            if point is None:
                raise Http404
            messages.error(request, error)
            response = render(request, "participation/point.html", {"point": point}, status=429)
        response["Retry-After"] = str(wait)
        return response
    try:
        result = services.point_report_empty(
            point_id=point_id, fingerprint=client_fingerprint(Request(request))
        )
    except ParticipationPoint.DoesNotExist:
        raise Http404 from None
    if wants_json:
        return JsonResponse(
            {
                "id": result.point.pk,
                "status": result.point.status,
                "empty_reports": result.point.empty_reports,
                "added": result.added,
            }
        )
    if result.added:
        messages.success(request, _("Thank you: the municipality will refill it."))
    else:
        messages.info(request, _("You have already said this point is empty. Thank you."))
    return HttpResponseSeeOther(selectors.point_public_url(point_id))


# --- Pledges ---------------------------------------------------------------------------------------


def _report_or_404(code: str) -> Report:
    report = report_by_code(code=code)
    if report is None:
        raise Http404
    return report


def _back_to_report(report: Report) -> HttpResponse:
    return HttpResponseSeeOther(report_tracking_url(code=report.tracking_code))


@never_cache
@require_POST
def report_pledge(request: HttpRequest, code: str) -> HttpResponse:
    """ "I'll take care of it" from a report's tracking page: the pledge is made and the citizen is
    taken to their private pledge page (its address is the private link)."""
    report = _report_or_404(code)
    wait = _wait(request, PledgeThrottle)
    if wait is not None:
        messages.error(request, _("Too many requests from your address. Try again later."))
        return _back_to_report(report)
    form = PledgeForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _back_to_report(report)
    try:
        created = services.pledge_create(
            report=report, name=form.cleaned_data["name"], contact=form.cleaned_data["contact"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back_to_report(report)
    except TransitionConflict as exc:
        messages.error(request, exc.message)
        return _back_to_report(report)
    messages.success(
        request,
        _("Thank you! Keep this page's address: it is your private link to say when it is done."),
    )
    return _private_headers(HttpResponseSeeOther(selectors.pledge_url(created.token)))


def _pledge_or_404(token: str) -> Any:
    pledge = selectors.pledge_by_token(token=token)
    if pledge is None:
        raise Http404
    return pledge


@never_cache
@require_GET
def pledge_page(request: HttpRequest, token: str) -> HttpResponse:
    """The pledger's private page: the report, the pledge's state, "done" and "withdraw"."""
    pledge = _pledge_or_404(token)
    report = pledge.report
    context = {
        "pledge": pledge,
        "token": token,
        "code": report.tracking_code,
        "track_url": report_tracking_url(code=report.tracking_code),
        "category": report.category,
        "live": pledge.status in (PledgeStatus.ACTIVE, PledgeStatus.DONE),
    }
    response = render(request, "participation/pledge.html", context)
    return _private_headers(response)


def _pledge_step(request: HttpRequest, token: str, step: Any, done_message: str) -> HttpResponse:
    pledge = _pledge_or_404(token)
    wait = _wait(request, PledgeThrottle)
    if wait is not None:
        messages.error(request, _("Too many requests from your address. Try again later."))
    else:
        try:
            step(pledge=pledge)
        except TransitionConflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done_message)
    return _private_headers(HttpResponseSeeOther(selectors.pledge_url(token)))


@never_cache
@require_POST
def pledge_done(request: HttpRequest, token: str) -> HttpResponse:
    return _pledge_step(
        request,
        token,
        services.pledge_done,
        _("Thank you! The reporter or the municipality will confirm it."),
    )


@never_cache
@require_POST
def pledge_withdraw(request: HttpRequest, token: str) -> HttpResponse:
    return _pledge_step(request, token, services.pledge_withdraw, _("Your pledge is withdrawn."))


def reporter_token(request: HttpRequest, report: Report) -> str | None:
    """The reporter's private token for `report`: posted (`t`), or kept in this browser's session by
    the tracking page; None unless it is valid now."""
    posted = request.POST.get("t") or None
    if posted and report_private_token_valid(report=report, token=posted):
        return posted
    granted = request.session.get(PRIVATE_SESSION_KEY) or {}
    token = granted.get(report.tracking_code) if isinstance(granted, dict) else None
    if isinstance(token, str) and report_private_token_valid(report=report, token=token):
        return token
    return None


@never_cache
@require_POST
def pledge_reporter_confirm(request: HttpRequest, code: str) -> HttpResponse:
    """The reporter, through their private link, confirms the citizen's work: the report closes as
    resolved by citizens."""
    report = _report_or_404(code)
    if reporter_token(request, report) is None:
        response = render(
            request,
            "maps/forbidden.html",
            {"message": _("This private link is not valid for this report."), "code": report.tracking_code},
            status=403,
        )
        return _private_headers(response)
    pledge = selectors.pledge_live(report=report)
    wait = _wait(request, PledgeThrottle)
    if wait is not None:
        messages.error(request, _("Too many requests from your address. Try again later."))
    elif pledge is None:
        messages.error(request, _("No citizen's pledge waits for confirmation on this report."))
    else:
        try:
            services.pledge_confirm(pledge=pledge)
        except (TransitionConflict, ActionForbidden, ReportNotFound) as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Thank you: the report is closed as resolved by citizens."))
    return _private_headers(_back_to_report(report))

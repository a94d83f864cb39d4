"""Participation's public pages under /participation/: a point's page with its one-tap "it is empty",
the pledge ("I'll take care of it") from a report's tracking page, the pledger's private page (done,
withdraw) and the reporter's confirmation. Plain HTML forms; no script of their own.

The pledger's private link is /participation/pledges/<token>/ (given once, when pledging, and by the
API). Like the reporter's link (issues/private_links.py), its first use exchanges the token for this
browser's session and answers 303 to /participation/pledges/<id>/, an address with no secret in it:
that page and its forms open by the session alone, which holds the token and checks it again on
every use. Without it, the page is a 403 that names nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from issues.models import Report
from issues.private_links import (
    HttpResponseSeeOther,
    private_headers,
    private_link_grant,
    private_link_lookup,
    report_access_token_posted,
    report_private_link_refused,
)
from issues.selectors import report_by_code, report_tracking_url
from issues.throttling import client_fingerprint, throttle_wait
from issues.workflow.services import ActionForbidden, ReportNotFound, TransitionConflict
from participation import selectors, services
from participation.forms import PledgeForm
from participation.models import ParticipationPoint, Pledge, PledgeStatus
from participation.throttling import PledgeThrottle, PointEmptyThrottle

# The kind of thing a pledger's private link opens, in the session (issues/private_links.py).
PLEDGE = "pledge"
# The private link travels from the POST that made the pledge to the pledger's page in the session,
# and is shown there once: the page's own address no longer is the link.
FLASH_KEY = "open137_pledge_flash"


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
    """ "I'll take care of it" from a report's tracking page: the pledge is made, this browser holds
    it (the session), and the citizen is taken to their pledge page, which shows the private link
    once."""
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
    pledge_id = created.pledge.pk
    private_link_grant(request, kind=PLEDGE, public_id=str(pledge_id), token=created.token)
    request.session[FLASH_KEY] = {"id": pledge_id, "token": created.token}
    messages.success(request, _("Thank you! Keep your private link, below: it opens this page again."))
    return private_headers(HttpResponseSeeOther(selectors.pledge_url(pledge_id)))


def _pledge_held(request: HttpRequest, pledge_id: int) -> Pledge | None:
    """The pledge, if this browser's session holds its private link's token and the token is still
    the pledge's (checked on every use)."""

    def lookup(token: str) -> Pledge | None:
        pledge = selectors.pledge_by_token(token=token)
        return pledge if pledge is not None and pledge.pk == pledge_id else None

    return private_link_lookup(request, kind=PLEDGE, public_id=str(pledge_id), lookup=lookup)


def _pledge_exchanged(request: HttpRequest, token: str) -> Pledge:
    """The private link's first use: the pledge its token opens, now held by this browser's session
    (a 404 for a token that opens none: the session gains nothing)."""
    pledge = selectors.pledge_by_token(token=token)
    if pledge is None:
        raise Http404
    private_link_grant(request, kind=PLEDGE, public_id=str(pledge.pk), token=token)
    return pledge


def _pledge_refused(request: HttpRequest) -> HttpResponse:
    """Without the session (or the link), a pledge's page or step: a 403 that names nobody and says
    how to get in, the same whether the pledge exists or not."""
    response = render(
        request,
        "participation/pledge_forbidden.html",
        {"message": _("This page is private: open it with your pledge's private link.")},
        status=403,
    )
    return private_headers(response)


@never_cache
@require_GET
def pledge_link(request: HttpRequest, token: str) -> HttpResponse:
    """/participation/pledges/<token>/, the private link (and the links already given out): the
    token is exchanged for the session, then a 303 to the pledge's address without it."""
    pledge = _pledge_exchanged(request, token)
    return private_headers(HttpResponseSeeOther(selectors.pledge_url(pledge.pk)))


@never_cache
@require_GET
def pledge_page(request: HttpRequest, pledge_id: int) -> HttpResponse:
    """The pledger's page: the report, the pledge's state, "done" and "withdraw"; right after
    pledging, the private link, once."""
    pledge = _pledge_held(request, pledge_id)
    if pledge is None:
        return _pledge_refused(request)
    private_url = None
    flash = request.session.get(FLASH_KEY)
    if isinstance(flash, dict) and flash.get("id") == pledge.pk:
        del request.session[FLASH_KEY]
        private_url = request.build_absolute_uri(selectors.pledge_private_url(str(flash["token"])))
    report = pledge.report
    context = {
        "pledge": pledge,
        "code": report.tracking_code,
        "track_url": report_tracking_url(code=report.tracking_code),
        "category": report.category,
        "live": pledge.status in (PledgeStatus.ACTIVE, PledgeStatus.DONE),
        "private_url": private_url,
    }
    return private_headers(render(request, "participation/pledge.html", context))


def _pledge_step(
    request: HttpRequest, pledge: Pledge, step: Callable[..., Pledge], done_message: str
) -> HttpResponse:
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
    return private_headers(HttpResponseSeeOther(selectors.pledge_url(pledge.pk)))


# The pledger's two steps: the service that takes it and what the page then says.
_DONE = (services.pledge_done, gettext_lazy("Thank you! The reporter or the municipality will confirm it."))
_WITHDRAW = (services.pledge_withdraw, gettext_lazy("Your pledge is withdrawn."))


def _held_step(request: HttpRequest, pledge_id: int, step: tuple[Callable[..., Pledge], Any]) -> HttpResponse:
    """A step on the pledge this session holds (the address names no secret), or the 403."""
    pledge = _pledge_held(request, pledge_id)
    if pledge is None:
        return _pledge_refused(request)
    return _pledge_step(request, pledge, step[0], str(step[1]))


@never_cache
@require_POST
def pledge_done(request: HttpRequest, pledge_id: int) -> HttpResponse:
    return _held_step(request, pledge_id, _DONE)


@never_cache
@require_POST
def pledge_withdraw(request: HttpRequest, pledge_id: int) -> HttpResponse:
    return _held_step(request, pledge_id, _WITHDRAW)


# A pledge page of before the exchange (its forms post to the link) still works: the token is
# exchanged, the step taken, and the answer goes to the address without the token.


@never_cache
@require_POST
def pledge_link_done(request: HttpRequest, token: str) -> HttpResponse:
    return _pledge_step(request, _pledge_exchanged(request, token), _DONE[0], str(_DONE[1]))


@never_cache
@require_POST
def pledge_link_withdraw(request: HttpRequest, token: str) -> HttpResponse:
    return _pledge_step(request, _pledge_exchanged(request, token), _WITHDRAW[0], str(_WITHDRAW[1]))


@never_cache
@require_POST
def pledge_reporter_confirm(request: HttpRequest, code: str) -> HttpResponse:
    """The reporter, through their private link (the session the tracking page's exchange left, or
    a token posted with the form), confirms the citizen's work: the report closes as resolved by
    citizens."""
    report = _report_or_404(code)
    if report_access_token_posted(request, report=report) is None:
        return report_private_link_refused(request, report=report)
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
    return private_headers(_back_to_report(report))

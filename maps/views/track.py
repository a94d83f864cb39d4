"""The tracking page: find a report by its code, its status and public timeline, the reporter's
forms for a browser that opened the private link (maps/private_link.py; the writes are
maps/views/private.py), and "me too"."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.request import Request

from issues.models import STATUS_PATH, Report, ReportStatus
from issues.private_links import private_headers, report_access_token
from issues.selectors import (
    report_by_code,
    report_public_get,
    report_public_timeline,
    report_rated,
    report_tracking_url,
)
from issues.services.citizen import FEEDBACK_STATUSES, report_support
from issues.services.submission import MAX_PHOTOS
from issues.throttling import ReportSupportThrottle, client_fingerprint
from issues.workflow.citizen import RATING_STATUSES
from maps.forms import AddInfoForm, FeedbackForm, RatingForm, StopMessagesForm, TrackLookupForm
from maps.private_link import track_link_exchange
from maps.views.common import report_or_404, throttled


@require_GET
def track_lookup(request: HttpRequest) -> HttpResponse:
    """Type a tracking code (any case, Persian digits, with or without the dash)."""
    form = TrackLookupForm(request.GET or None)
    if form.is_valid():
        code = form.cleaned_data["code"]
        if report_by_code(code=code) is not None:
            return redirect("maps:track", code=code)
        form.add_error("code", _("No report has this tracking code. Check it and try again."))
    return render(request, "maps/track_lookup.html", {"form": form}, status=404 if form.errors else 200)


def _status_label(value: str) -> str:
    return str(ReportStatus(value).label) if value in ReportStatus.values else value


def _timeline_label(item: dict[str, Any]) -> str:
    """What happened, in the reader's language (events are stored once, read in either)."""
    what = item["what"]
    labels = {
        "created": _("Report received"),
        "rerouted": _("Sent to another unit after a change of district boundaries"),
        # The event's note, written in the supporter's language, is not shown: this line says it.
        "support": _("Another citizen reported the same problem (me too)"),
        "citizen_info": _("The reporter added information"),
        "fixed": _("The reporter says the problem is fixed"),
        "not_fixed": _("The reporter says the problem is not fixed"),
        "rated": _("The reporter rated the service"),
        "pledge_pledged": _("A citizen has offered to take care of this"),
        "pledge_done": _("The citizen who took care of it says it is done; awaiting confirmation"),
        "pledge_withdrawn": _("The citizen who offered to take care of this has withdrawn"),
    }
    if what == "status":
        return _("Status: %(status)s") % {"status": _status_label(item["status"])}
    return str(labels.get(what, _("Note from the municipality")))


def track_render(
    request: HttpRequest,
    report: Report,
    *,
    private: bool,
    link_invalid: bool = False,
    info_form: AddInfoForm | None = None,
    feedback_form: FeedbackForm | None = None,
    rating_form: RatingForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The tracking page; with `private` (the caller checked the session's or the link's token) the
    reporter's forms too. The forms carry no token: the session says whose report it is."""
    public = report_public_get(code=report.tracking_code)
    if public is None:  # pragma: no cover - deleted between the two reads
        raise Http404
    if link_invalid:
        messages.error(request, _("This private link is not valid for this report."))
    if private:
        info_form = info_form or AddInfoForm()
        if report.status in FEEDBACK_STATUSES:
            feedback_form = feedback_form or FeedbackForm()
    # The rating is asked once the work is over, and only once (a form sent back with its errors is
    # shown again whatever they are).
    rated = private and report_rated(report=report)
    if rating_form is None and private and report.status in RATING_STATUSES and not rated:
        rating_form = RatingForm()
    status_value = public["status"]
    # The main line of a report's life is shown as steps; a side exit (transferred, duplicate,
    # referred outside, ...) is shown as a status without steps.
    step = STATUS_PATH.index(status_value) if status_value in STATUS_PATH else None
    context = {
        "report": public,
        "code": report.tracking_code,
        "status_label": _status_label(status_value),
        "kind_label": report.get_kind_display(),
        "is_open": report.is_open,
        "steps": [
            {"label": s.label, "done": step is not None and i <= step, "current": i == step}
            for i, s in enumerate(STATUS_PATH)
        ],
        "timeline": [
            {**item, "label": _timeline_label(item), "show_note": item["what"] not in {"support", "rerouted"}}
            for item in report_public_timeline(report_id=report.pk)
        ],
        "private": private,
        "noindex": private or link_invalid,
        "info_form": info_form if private else None,
        "feedback_form": feedback_form if private else None,
        "rating_form": rating_form if private else None,
        "rated": rated,
        "stop_form": StopMessagesForm() if private and not report.messages_stopped else None,
        "messages_stopped": report.messages_stopped,
        "max_photos": MAX_PHOTOS,
    }
    response = render(request, "maps/track.html", context, status=status)
    return private_headers(response) if private or link_invalid else response


@never_cache
@require_GET
def track(request: HttpRequest, code: str) -> HttpResponse:
    """A report's public page: status, unit, timeline, photos; the reporter's extras for a browser
    that opened the private link (maps/private_link.py)."""
    report = report_or_404(code)
    if "t" in request.GET:
        # First use of the private link: the token goes into the session, and out of the address
        # bar, the history and the logs.
        exchanged = track_link_exchange(request, report=report)
        if exchanged is not None:
            return exchanged
        # The public page, saying the link is wrong; the rights a session already has stay.
        private = report_access_token(request, report=report) is not None
        return track_render(request, report, private=private, link_invalid=True, status=403)
    if code != report.tracking_code:
        # One address per report whatever was typed (acde-fghj, ACDEFGHJ): the canonical one.
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        return redirect(report_tracking_url(code=report.tracking_code) + query, permanent=True)
    private = report_access_token(request, report=report) is not None
    return track_render(request, report, private=private)


@require_POST
def track_support(request: HttpRequest, code: str) -> HttpResponseBase:
    """ "Me too" on an open report, from the tracking page (a form) or the report page's nearby list
    (a fetch that asks for JSON)."""
    report = report_or_404(code)
    wants_json = "application/json" in request.headers.get("Accept", "")
    wait = throttled(request, ReportSupportThrottle)
    added = False
    error = None
    if wait is not None:
        error = _("Too many requests from your address. Try again later.")
    else:
        try:
            # The same fingerprint as the API's "me too", so one phone counts once whichever way.
            fingerprint = client_fingerprint(Request(request))
            report, added = report_support(report=report, fingerprint=fingerprint)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if wants_json:
        body = {"code": report.tracking_code, "support_count": report.support_count, "added": added}
        if error:
            return JsonResponse({**body, "error": error}, status=429 if wait is not None else 400)
        return JsonResponse(body)
    if error:
        messages.error(request, error)
    elif added:
        messages.success(request, _("Thank you: your support was counted."))
    else:
        messages.info(request, _("You have already supported this report."))
    return redirect("maps:track", code=report.tracking_code)

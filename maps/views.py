"""The citizen's pages: the city map, report a problem, the thank-you page with the tracking code,
and the tracking page (with the private link's extras: add information, say whether it was fixed).

Everything works as plain HTML forms without JavaScript; the scripts only add the map pin, "use my
location" and the list of open reports nearby.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from districts.selectors import district_names, district_summary
from issues.models import STATUS_PATH, Channel, Report, ReportStatus
from issues.photos import photo_gps
from issues.selectors import (
    category_get,
    category_list_public,
    report_by_code,
    report_nearby_open,
    report_private_token_valid,
    report_public_get,
    report_public_timeline,
    report_rated,
    report_tracking_url,
)
from issues.services.citizen import (
    FEEDBACK_STATUSES,
    report_add_info,
    report_citizen_feedback,
    report_support,
)
from issues.services.submission import MAX_PHOTOS, report_submit
from issues.throttling import (
    ReportCreateThrottle,
    ReportSupportThrottle,
    ReportUpdateThrottle,
    client_fingerprint,
    throttle_wait,
)
from issues.workflow.citizen import RATING_STATUSES, report_messages_stop, report_rate
from issues.workflow.services import TransitionConflict
from maps.forms import (
    AddInfoForm,
    FeedbackForm,
    RatingForm,
    ReportForm,
    StopMessagesForm,
    TrackLookupForm,
    attribute_field_name,
)
from maps.private_link import private_access_grant, private_access_token

# The private token travels from the POST that created the report to the thank-you page in the
# session, and nowhere else: it is shown once and never written into a public page or URL log.
FLASH_KEY = "open137_report_flash"


def home(request: HttpRequest) -> HttpResponse:
    """The city's districts on a map, with what the platform offers."""
    context = {
        "summary": district_summary(),
        "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
        "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
    }
    return render(request, "maps/home.html", context)


# --- Report a problem ------------------------------------------------------------------------------


def _throttled(request: HttpRequest, throttle_class: type[BaseThrottle]) -> int | None:
    # The form is held to the same per-address limit as the API, so it is not the way around it.
    return throttle_wait(request, throttle_class())


def _client_fingerprint(request: HttpRequest) -> str:
    # The same fingerprint as the API's "me too", so one phone counts once whichever way it came.
    return client_fingerprint(Request(request))


def _category_groups(categories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Categories grouped by department, in display order, for the radio groups."""
    groups: dict[str, dict[str, Any]] = {}
    for category in categories:
        department = category["department"]
        groups.setdefault(department["code"], {"department": department, "categories": []})
        groups[department["code"]]["categories"].append(category)
    return list(groups.values())


# The service's names for what the form calls otherwise. The location has no field of its own: its
# messages go to `lat`, which the template shows by the map; the address is the district's name.
_SERVICE_FIELDS = {
    "location": "lat",
    "name": "reporter_name",
    "phone": "reporter_phone",
    "email": "reporter_email",
    "address": "place",
}


def _service_errors(form: ReportForm, exc: ValidationError, *, category: str) -> None:
    """A ValidationError from report_submit, put next to the field it is about; an answer's next to
    its question (the validation names the question's code in the message's params)."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for key, errors in exc.error_dict.items():
        for error in errors:
            target: str | None = _SERVICE_FIELDS.get(key, key)
            if key == "attributes":
                code = (error.params or {}).get("code")
                target = attribute_field_name(category, str(code)) if code else None
            if target not in form.fields or target == "idempotency_key":
                target = None
            for message in error.messages:
                form.add_error(target, message)


def _js_strings() -> dict[str, str]:
    """The few sentences the report page's script shows, translated here with the rest."""
    return {
        "pinNone": _("No pin yet: tap the map where the problem is."),
        "pinPlaced": _("Pin placed. Drag it, or tap elsewhere, to adjust."),
        "pinOptional": _("A location is optional for this category."),
        "locating": _("Finding your location…"),
        "locateFailed": _("Could not get your location. Tap the map or type the district instead."),
        "locateUnsupported": _("This browser cannot tell your location."),
        "nearbyTitle": _("Already reported nearby. Is it the same problem?"),
        "nearbyNone": _("No open report of this kind nearby."),
        "nearbyFailed": _("Could not load the reports nearby."),
        "meToo": _("Me too"),
        "meTooDone": _("Thank you: your support was counted."),
        "meTooAgain": _("You have already supported this report."),
        "meTooFailed": _("Could not send your support. Try again."),
        "metres": _("{n} m away"),
        "supporters": _("{n} supporters"),
        "mapLabel": _("Map: tap to put the pin where the problem is"),
    }


def _report_send(request: HttpRequest, form: ReportForm) -> HttpResponse | tuple[int, int | None]:
    """Submit a valid form (the write limit already counted it): the redirect to the thank-you page,
    or the status to re-render the form with (the service's errors are then on the form)."""
    category = category_get(code=form.cleaned_data["category"])
    if category is None:  # deactivated between the page and the send
        form.add_error("category", _("This category is no longer available; please choose another."))
        return 400, None
    data = form.cleaned_data
    match = form.place_match
    try:
        submission = report_submit(
            category=category,
            location=form.location,
            description=data["description"].strip(),
            kind=data["kind"],
            channel=Channel.WEB,
            # A report placed by naming a district has only that district's point: the name tells
            # the unit that the location is approximate.
            address=(match.name_fa if match else ""),
            reporter_name=data["reporter_name"],
            reporter_phone=data["reporter_phone"],
            reporter_email=data["reporter_email"],
            consent_contact=data["consent_contact"],
            attributes=form.attributes_for(category.code),
            photos=data["photos"],
            idempotency_key=data["idempotency_key"],
            actor=request.user if request.user.is_authenticated else None,
        )
    except ValidationError as exc:
        _service_errors(form, exc, category=category.code)
        if "idempotency_key" in getattr(exc, "error_dict", {}):
            # This form was sent before as a different report (the back button, then edits): a
            # fresh key makes the next send a new report.
            resend = request.POST.copy()
            resend["idempotency_key"] = ReportForm.new_idempotency_key()
            form.data = resend
        return 400, None
    code = submission.report.tracking_code
    if submission.private_token:
        request.session[FLASH_KEY] = {"code": code, "token": submission.private_token}
    return redirect("maps:report_thanks", code=code)


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """Report a problem: a pin on the map (or the district's name), a category, a description and
    photos. A second tap on "send" carries the same idempotency key and lands on the same report."""
    categories = category_list_public()
    status = 200
    retry_after: int | None = None
    photos_lost = False
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, categories=categories)
        # The write limit counts the request before any work is done for it: the form's place
        # search reads district geometry and a photo's position means decoding it.
        retry_after = _throttled(request, ReportCreateThrottle)
        if retry_after is not None:
            form.refuse(
                _("Too many reports from your address. Try again in %(minutes)d minutes.")
                % {"minutes": max(1, round(retry_after / 60))}
            )
            outcome: HttpResponse | tuple[int, int | None] = (429, retry_after)
        else:
            outcome = _report_send(request, form) if form.is_valid() else (400, None)
        if isinstance(outcome, HttpResponse):
            return outcome
        status, retry_after = outcome
        # Browsers cannot refill a file input: the page says so, rather than losing photos silently.
        photos_lost = bool(request.FILES.getlist("photos"))
        if status != 429 and form.location is None and not (form.data.get("lat") or form.data.get("lon")):
            _pin_from_photos(request, form)
    else:
        form = ReportForm(
            initial={
                "idempotency_key": ReportForm.new_idempotency_key(),
                "category": request.GET.get("category", ""),
            },
            categories=categories,
        )
    selected = form.selected_category
    nearby: list[dict[str, Any]] = []
    if selected is not None and form.location is not None:
        # Without JavaScript the nearby list comes with the re-rendered form (a pin was sent).
        selected_object = category_get(code=selected["code"])
        if selected_object is not None:
            nearby = report_nearby_open(category=selected_object, point=form.location, limit=10)
    lat_value, lon_value = form["lat"].value() or "", form["lon"].value() or ""
    context = {
        "form": form,
        "category_groups": _category_groups(categories),
        "selected_code": selected["code"] if selected else "",
        "location_required": selected["location_required"] if selected else True,
        "district_names": district_names(),
        "nearby": nearby,
        "photos_lost": photos_lost,
        "max_photos": MAX_PHOTOS,
        "pin": {"lat": lat_value, "lon": lon_value},
        "js_strings": _js_strings(),
        "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
        "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
    }
    response = render(request, "maps/report.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _pin_from_photos(request: HttpRequest, form: ReportForm) -> None:
    """A report sent without a pin but with a photo taken by a phone that recorded where: the form
    comes back with the pin there, for the citizen to check and send again (never used silently)."""
    for upload in request.FILES.getlist("photos")[:MAX_PHOTOS]:
        position = photo_gps(upload=upload)
        if position is not None:
            data = form.data.copy()  # type: ignore[attr-defined]  # a QueryDict on a POST
            data["lat"], data["lon"] = f"{position[0]:.6f}", f"{position[1]:.6f}"
            form.data = data
            messages.info(
                request,
                _("The pin is where your photo was taken. Check it on the map, then send the report again."),
            )
            return


@never_cache
@require_GET
def report_thanks(request: HttpRequest, code: str) -> HttpResponse:
    """The tracking code, big, and (once, from the session) the reporter's private link."""
    report = report_by_code(code=code)
    if report is None:
        raise Http404
    flash = request.session.get(FLASH_KEY)
    private_url = None
    if flash and flash.get("code") == report.tracking_code:
        del request.session[FLASH_KEY]
        private_url = request.build_absolute_uri(
            report_tracking_url(code=report.tracking_code) + "?" + urlencode({"t": flash["token"]})
        )
    response = render(
        request,
        "maps/thanks.html",
        {
            "code": report.tracking_code,
            "track_url": request.build_absolute_uri(report_tracking_url(code=report.tracking_code)),
            "private_url": private_url,
        },
    )
    # The page may carry the private link: never in a shared cache, never in a Referer sent to
    # another site (e.g. the tile server). "same-origin", not "no-referrer": with no-referrer the
    # browser sends `Origin: null` on the page's own form posts, which CSRF protection refuses.
    response["Referrer-Policy"] = "same-origin"
    return response


# --- Track a report --------------------------------------------------------------------------------


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


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def _private_headers(response: HttpResponse) -> HttpResponse:
    # A page reached with, or acting through, the private link: never in a Referer sent to another
    # site, never indexed (same-origin, not no-referrer: see report_thanks).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


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


def _track_render(
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
    return _private_headers(response) if private or link_invalid else response


def _report_or_404(code: str) -> Report:
    report = report_by_code(code=code)
    if report is None:
        raise Http404
    return report


@never_cache
@require_GET
def track(request: HttpRequest, code: str) -> HttpResponse:
    """A report's public page: status, unit, timeline, photos; the reporter's extras for a browser
    that opened the private link (maps/private_link.py)."""
    report = _report_or_404(code)
    if "t" in request.GET:
        token = request.GET.get("t", "")
        if not report_private_token_valid(report=report, token=token):
            # The public page, saying the link is wrong; the rights a session already has stay.
            private = private_access_token(request, report=report) is not None
            return _track_render(request, report, private=private, link_invalid=True, status=403)
        # First use of the private link: the token goes into the session, and out of the address
        # bar, the history and the logs. Any other parameter is kept.
        private_access_grant(request, report=report, token=token)
        rest = request.GET.copy()
        rest.pop("t")
        query = f"?{rest.urlencode()}" if rest else ""
        return _private_headers(HttpResponseSeeOther(report_tracking_url(code=report.tracking_code) + query))
    if code != report.tracking_code:
        # One address per report whatever was typed (acde-fghj, ACDEFGHJ): the canonical one.
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        return redirect(report_tracking_url(code=report.tracking_code) + query, permanent=True)
    private = private_access_token(request, report=report) is not None
    return _track_render(request, report, private=private)


# Each private-link form and the name the tracking page gives it.
PrivateForm = AddInfoForm | FeedbackForm | RatingForm | StopMessagesForm
_FORM_NAMES: dict[type[PrivateForm], str] = {
    AddInfoForm: "info_form",
    FeedbackForm: "feedback_form",
    RatingForm: "rating_form",
}


def _form_context(form: PrivateForm) -> dict[str, Any]:
    name = _FORM_NAMES.get(type(form))
    return {name: form} if name else {}


def _private_post(
    request: HttpRequest,
    code: str,
    form_class: type[PrivateForm],
    write: Callable[[Report, dict[str, Any]], object],
    done_message: str,
) -> HttpResponse:
    """A write through the private link: the token is checked before anything else, then the
    per-address limit on these writes (each may carry text and photos)."""
    report = _report_or_404(code)
    # A token sent with the form (a page of before the exchange, a script) must be this report's,
    # whatever the session holds: a wrong one is refused, never covered by the session's rights.
    # Without one, the session says whether this browser opened the private link.
    token: str | None
    if "t" in request.POST:
        token = request.POST.get("t", "")
        if report_private_token_valid(report=report, token=token):
            private_access_grant(request, report=report, token=token)
        else:
            token = None
    else:
        token = private_access_token(request, report=report)
    if token is None:
        response = render(
            request,
            "maps/forbidden.html",
            {"message": _("This private link is not valid for this report."), "code": report.tracking_code},
            status=403,
        )
        response["Referrer-Policy"] = "same-origin"
        return response
    forms: dict[str, Any]
    wait = _throttled(request, ReportUpdateThrottle)
    if wait is not None:
        # Nothing is written or checked; what was typed comes back in the form (a file input cannot
        # be refilled), and the message says when to try again.
        messages.error(
            request,
            _("Too many additions from your address. Try again in %(minutes)d minutes.")
            % {"minutes": max(1, round(wait / 60))},
        )
        typed = {name: request.POST.get(name, "") for name in form_class.base_fields if name != "photos"}
        if "reasons" in form_class.base_fields:
            typed["reasons"] = request.POST.getlist("reasons")  # type: ignore[assignment]
        forms = _form_context(form_class(initial=typed))
        response = _track_render(request, report, private=True, status=429, **forms)
        response["Retry-After"] = str(wait)
        return response
    form = form_class(request.POST, request.FILES)
    if form.is_valid():
        try:
            write(report, form.cleaned_data)
        except TransitionConflict as exc:  # the report moved on since the page was shown
            form.add_error(None, exc.message)
        except ValidationError as exc:
            for key, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
                for message in errors:
                    form.add_error(key if key in form.fields else None, message)
        else:
            messages.success(request, done_message)
            # The session holds the rights: the page's address carries no token.
            return redirect(report_tracking_url(code=report.tracking_code))
    return _track_render(request, report, private=True, status=400, **_form_context(form))


@never_cache
@require_POST
def track_info(request: HttpRequest, code: str) -> HttpResponse:
    return _private_post(
        request,
        code,
        AddInfoForm,
        lambda report, data: report_add_info(report=report, text=data["text"], photos=data["photos"]),
        _("Thank you: your information was added to the report."),
    )


@never_cache
@require_POST
def track_feedback(request: HttpRequest, code: str) -> HttpResponse:
    return _private_post(
        request,
        code,
        FeedbackForm,
        lambda report, data: report_citizen_feedback(report=report, fixed=data["fixed"], note=data["note"]),
        _("Thank you for telling us."),
    )


@never_cache
@require_POST
def track_rating(request: HttpRequest, code: str) -> HttpResponse:
    return _private_post(
        request,
        code,
        RatingForm,
        lambda report, data: report_rate(
            report=report, score=data["score"], reasons=data["reasons"], comment=data["comment"]
        ),
        _("Thank you for rating our service."),
    )


@never_cache
@require_POST
def track_stop_messages(request: HttpRequest, code: str) -> HttpResponse:
    return _private_post(
        request,
        code,
        StopMessagesForm,
        lambda report, data: report_messages_stop(report=report),
        _("You will get no more messages about this report."),
    )


@require_POST
def track_support(request: HttpRequest, code: str) -> HttpResponseBase:
    """ "Me too" on an open report, from the tracking page (a form) or the report page's nearby list
    (a fetch that asks for JSON)."""
    report = _report_or_404(code)
    wants_json = "application/json" in request.headers.get("Accept", "")
    wait = _throttled(request, ReportSupportThrottle)
    added = False
    error = None
    if wait is not None:
        error = _("Too many requests from your address. Try again later.")
    else:
        try:
            report, added = report_support(report=report, fingerprint=_client_fingerprint(request))
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

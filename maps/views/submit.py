"""Report a problem: the form (a pin on the map or the district's name, a category, a description,
photos) and the thank-you page with the tracking code and, once, the reporter's private link."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from districts.selectors import district_names
from issues.models import Channel
from issues.photos import photo_gps
from issues.private_links import private_headers
from issues.selectors import (
    category_get,
    category_list_public,
    report_by_code,
    report_nearby_open,
    report_tracking_url,
)
from issues.services.submission import MAX_PHOTOS, report_submit
from issues.throttling import ReportCreateThrottle
from maps.forms import ReportForm, attribute_field_name
from maps.views.common import throttled

# The private token travels from the POST that created the report to the thank-you page in the
# session, and nowhere else: it is shown once and never written into a public page or URL log.
FLASH_KEY = "open137_report_flash"


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
        retry_after = throttled(request, ReportCreateThrottle)
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
    # The page may carry the private link: never in a shared cache (never_cache), never in a
    # Referer sent to another site (e.g. the tile server).
    return private_headers(response)

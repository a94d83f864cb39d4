"""The 137 call screen, for the operators and supervisors of the 137 centre: while a citizen is on
the telephone, the operator sees the caller's earlier reports (by the number they call from), finds
the place they name (neighbourhoods, landmarks, streets, districts: the map moves there), drops the
pin, picks the category and kind, types what the caller says, and files the report through the
same report_submit as every other entrance (channel "phone", the operator as its actor). The next
page shows the tracking code big, to read back to the caller, and says it went by SMS.

A report without a location is possible where the category allows it (an appreciation, a
complaint about staff): routed by category to the department's central unit.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from console.call_forms import PLACE_MAX, CallForm
from console.views.auth import page, staff_required
from issues.models import Channel, PlaceKind, ReportStatus, Role
from issues.notifications import phone_normalise
from issues.places.selectors import PlaceMatch, place_search
from issues.selectors import category_get, category_list_public
from issues.services.submission import report_submit
from issues.workflow.callers import reports_by_phone
from issues.workflow.scope import StaffScope
from issues.workflow.sla import jalali_format

CALL_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR})
# The tracking code of the report just filed travels to the next page in the session only.
FLASH_KEY = "open137_call_filed"
PLACE_RESULTS = 10
CALLER_REPORTS = 20
DESCRIPTION_SNIPPET = 140

# The report's fields as report_submit names them, and the form's field for each.
_SERVICE_FIELDS = {
    "location": "place",
    "name": "reporter_name",
    "phone": "reporter_phone",
    "email": "reporter_email",
    "description": "description",
    "address": "address",
    "category": "category",
    "kind": "kind",
}


def _english() -> bool:
    return (get_language() or "fa").startswith("en")


def _in_language(fa: str, en: str) -> str:
    return (en if _english() else "") or fa


def _kind_label(match: PlaceMatch) -> str:
    if match.source == "district":
        return _("region") if match.kind == "region" else _("sub-district")
    return str(PlaceKind(match.kind).label) if match.kind in PlaceKind.values else match.kind


def _caller_rows(*, phone: str, scope: StaffScope) -> list[dict[str, Any]]:
    rows = []
    for r in reports_by_phone(phone=phone, scope=scope, limit=CALLER_REPORTS):
        description = r["description"] or ""
        rows.append(
            {
                "code": r["tracking_code"],
                "url": reverse("console:report", args=[r["tracking_code"]]),
                "created_at": r["created_at"],
                "status": r["status"],
                "status_label": str(ReportStatus(r["status"]).label)
                if r["status"] in ReportStatus.values
                else r["status"],
                "category": _in_language(r["category__name_fa"], r["category__name_en"]),
                "address": r["address"],
                "reporter_name": r["reporter_name"],
                "snippet": description[:DESCRIPTION_SNIPPET]
                + ("…" if len(description) > DESCRIPTION_SNIPPET else ""),
            }
        )
    return rows


def _js_strings() -> dict[str, str]:
    return {
        "pinNone": _("No pin yet: click the map where the caller says."),
        "pinPlaced": _("Pin placed. Drag it, or click elsewhere, to adjust."),
        "pinAtPlace": _("Pin put at “{name}”: drag it to the exact spot."),
        "noLocation": _("No location: the report goes to the category's central unit."),
        "locationOptional": _("This category may be filed without a location."),
        "locationRequired": _("This category needs a location."),
        "placesNone": _("No place or district with this name."),
        "placesFailed": _(
            "The place search did not answer. Type the place and send: the best match is used."
        ),
        "callerNone": _("No earlier report from this number."),
        "callerCount": _("{n} earlier report(s) from this number:"),
        "callerFailed": _("Could not look up this number."),
    }


def _page(
    request: HttpRequest, *, scope: StaffScope, form: CallForm, phone: str = "", status: int = 200
) -> HttpResponse:
    center = settings.LEAFLET_CONFIG["DEFAULT_CENTER"]
    context = {
        "form": form,
        "phone": phone,
        "caller_reports": _caller_rows(phone=phone, scope=scope) if phone else [],
        "center": center,
        "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
        "js_strings": _js_strings(),
    }
    return page(request, "console/call.html", context, scope=scope, status=status)


def _service_errors(form: CallForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for key, errors in exc.error_dict.items():
        target = _SERVICE_FIELDS.get(key)
        for error in errors:
            for message in error.messages:
                form.add_error(target if target in form.fields else None, message)


@staff_required(CALL_ROLES)
@require_http_methods(["GET", "POST"])
def call_screen(request: HttpRequest, *, scope: StaffScope) -> HttpResponse:
    """GET: the empty form (`?phone=` fills in the caller's number and lists their reports, for a
    telephone system that opens the page with the caller's number). POST: file the report."""
    categories = category_list_public()
    if request.method == "GET":
        phone = (request.GET.get("phone") or "")[:40]
        form = CallForm(
            initial={"reporter_phone": phone, "idempotency_key": CallForm.new_idempotency_key()},
            categories=categories,
        )
        return _page(request, scope=scope, form=form, phone=phone)

    form = CallForm(request.POST, categories=categories)
    phone = (request.POST.get("reporter_phone") or "")[:40]
    if not form.is_valid():
        return _page(request, scope=scope, form=form, phone=phone, status=400)
    data = form.cleaned_data
    category = category_get(code=data["category"])
    if category is None:  # deactivated between the page and the send
        form.add_error("category", _("This category is no longer available; please choose another."))
        return _page(request, scope=scope, form=form, phone=phone, status=400)
    address = data["address"].strip() or (form.place_match.name_fa if form.place_match else "")
    try:
        submission = report_submit(
            category=category,
            location=form.location,
            description=data["description"].strip(),
            kind=data["kind"],
            channel=Channel.PHONE,
            address=address,
            reporter_name=data["reporter_name"],
            reporter_phone=data["reporter_phone"],
            reporter_email=data["reporter_email"],
            consent_contact=data["consent_contact"],
            idempotency_key=data["idempotency_key"],
            actor=request.user,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        _service_errors(form, exc)
        return _page(request, scope=scope, form=form, phone=phone, status=400)
    report = submission.report
    request.session[FLASH_KEY] = {
        "code": report.tracking_code,
        "sms": phone_normalise(report.reporter_phone),
        "email": report.reporter_email,
        "phone": report.reporter_phone,
    }
    return redirect("console:call_filed", code=report.tracking_code)


@staff_required(CALL_ROLES)
@require_GET
def call_filed(request: HttpRequest, code: str, *, scope: StaffScope) -> HttpResponse:
    """The tracking code of the report just filed, big, to read back to the caller. Shown once,
    right after the send (from the session): a later visit goes to the report's own page."""
    filed = request.session.pop(FLASH_KEY, None) or {}
    if filed.get("code") != code:
        return redirect("console:report", code=code)
    context = {
        "code": code,
        "characters": list(code),
        "sms_to": filed.get("sms") or "",
        "email_to": filed.get("email") or "",
        "report_url": reverse("console:report", args=[code]),
        "next_call_url": reverse("console:call"),
    }
    return page(request, "console/call_filed.html", context, scope=scope)


@staff_required(CALL_ROLES)
@require_GET
def call_places(request: HttpRequest, *, scope: StaffScope) -> JsonResponse:
    """The place search of the call screen: `?q=` -> places and districts, best first."""
    text = (request.GET.get("q") or "")[:PLACE_MAX]
    results = [
        {
            "name": _in_language(m.name_fa, m.name_en),
            "name_fa": m.name_fa,
            "name_en": m.name_en,
            "source": m.source,
            "kind": m.kind,
            "kind_label": _kind_label(m),
            "code": m.code,
            "lat": round(m.lat, 6),
            "lon": round(m.lon, 6),
        }
        for m in place_search(text=text, limit=PLACE_RESULTS)
    ]
    return JsonResponse({"query": text, "results": results})


@staff_required(CALL_ROLES)
@require_GET
def call_caller(request: HttpRequest, *, scope: StaffScope) -> JsonResponse:
    """The caller's earlier reports: `?phone=` -> the reports filed from that number, newest first."""
    phone = (request.GET.get("phone") or "")[:40]
    rows = _caller_rows(phone=phone, scope=scope)
    for row in rows:
        row["created"] = jalali_format(row["created_at"], lang="en" if _english() else "fa")
        row["created_at"] = row["created_at"].isoformat()
    return JsonResponse({"phone": phone_normalise(phone), "reports": rows})

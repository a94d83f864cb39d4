"""The reporter's writes through the private link, from the tracking page: add information or
photos, say whether it was fixed, rate the service, stop the messages. The session (or a token sent
with the form) says whose report it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from issues.models import Report
from issues.private_links import report_access_token_posted, report_private_link_refused
from issues.selectors import report_tracking_url
from issues.services.citizen import report_add_info, report_citizen_feedback
from issues.throttling import ReportUpdateThrottle
from issues.workflow.citizen import report_messages_stop, report_rate
from issues.workflow.services import TransitionConflict
from maps.forms import AddInfoForm, FeedbackForm, RatingForm, StopMessagesForm
from maps.views.common import report_or_404, throttled
from maps.views.track import track_render

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
    report = report_or_404(code)
    # A token sent with the form (a page of before the exchange, a script) must be this report's,
    # whatever the session holds; without one, the session says whether this browser opened the
    # private link.
    if report_access_token_posted(request, report=report) is None:
        return report_private_link_refused(request, report=report)
    forms: dict[str, Any]
    wait = throttled(request, ReportUpdateThrottle)
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
        response = track_render(request, report, private=True, status=429, **forms)
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
    return track_render(request, report, private=True, status=400, **_form_context(form))


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

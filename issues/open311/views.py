"""Open311 GeoReport v2 endpoints: parse, call one selector or service, render. Thin.

Every endpoint answers in the format its suffix names (`.xml`, `.json`); anything that goes wrong is
the spec's error document in that format: 404 for what does not exist (a service code, a request,
a token, a format we do not speak, a jurisdiction we do not serve), 403 for a missing or bad
`api_key`, 400 for everything else. Bad input never becomes a server error.

CSRF does not apply: Open311 clients are programs without a session, authenticated by `api_key`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, SuspiciousOperation, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework.utils.urls import remove_query_param, replace_query_param

from issues.cursor import KeysetPage, cursor_encode
from issues.open311 import documents, params
from issues.open311.params import Open311Error
from issues.open311.render import FORMATS, render, render_errors
from issues.open311.selectors import (
    RequestFilters,
    Row,
    request_id_for_token,
    request_notes,
    request_page,
    request_rows,
    request_update_page,
    service_attributes,
    service_list,
)
from issues.open311.services import api_key_authenticate, open311_request_submit
from issues.selectors import category_get, tracking_code_normalize
from issues.throttling import Open311KeyThrottle, throttle_wait


@dataclass(frozen=True)
class Call:
    fmt: str
    lang: str
    params: QueryDict


# Our internal field names, as the Open311 parameter a client sent.
PARAMETER_NAMES = {
    "location": "lat",
    "reporter_email": "email",
    "reporter_phone": "phone",
    "reporter_name": "first_name",
    "name": "first_name",
    "address": "address_string",
    "photos": "media",
    "idempotency_key": "Idempotency-Key",
}


def _parameter(field: str, error: ValidationError) -> str:
    """The parameter a message is about, as the client sent it: an answer to a question is
    `attribute[code]` (the validation names the question in the message's params)."""
    code = (error.params or {}).get("code") if field == "attributes" else None
    return f"attribute[{code}]" if code else PARAMETER_NAMES.get(field, field)


def _descriptions(exc: ValidationError) -> list[str]:
    if not hasattr(exc, "error_dict"):
        return [str(m) for m in exc.messages]
    return [
        str(message) if field == NON_FIELD_ERRORS else f"{_parameter(field, error)}: {message}"
        for field, errors in exc.error_dict.items()
        for error in errors
        for message in error.messages
    ]


def _jurisdictions() -> set[str]:
    ids = getattr(settings, "OPEN137_OPEN311_JURISDICTION_IDS", None) or [settings.OPEN137_CITY]
    return {str(j).lower() for j in ids}


def _read_params(request: HttpRequest) -> QueryDict:
    """Query string and (for a POST) form or multipart body in one: some clients put `api_key` or
    `jurisdiction_id` in the URL of a POST. The body wins when a name is in both."""
    merged = request.GET.copy()
    if request.method == "POST":
        for key, values in request.POST.lists():
            merged.setlist(key, values)
        _ = request.FILES
    return merged


def _nul_parameter(merged: QueryDict, kwargs: dict[str, Any]) -> str | None:
    """The first parameter whose name or value holds a NUL, as the client named it (a NUL in the
    name shown as `\\0`), or None. PostgreSQL text cannot hold a NUL: such a value must be refused
    here, not fail in the query."""
    for key, values in merged.lists():
        if "\x00" in key or any("\x00" in v for v in values):
            return key.replace("\x00", "\\0")
    for key, value in kwargs.items():
        if "\x00" in str(value):
            return key
    return None


def endpoint(*, methods: tuple[str, ...] = ("GET",)) -> Callable[[Callable[..., HttpResponse]], Any]:
    """Format by suffix, language, method, parameter sanity and jurisdiction, then the view; errors
    in the spec's shape."""
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)

    def decorator(view: Callable[..., HttpResponse]) -> Any:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
            if fmt not in FORMATS:
                return render_errors(
                    "xml",
                    status=404,
                    descriptions=[_("Unknown format “%(f)s”: use xml or json.") % {"f": fmt[:20]}],
                )
            if request.method not in allowed:
                response = render_errors(
                    fmt,
                    status=400,
                    descriptions=[_("Method %(m)s is not allowed here.") % {"m": request.method}],
                )
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                merged = _read_params(request)
            except RequestDataTooBig:
                return render_errors(
                    fmt,
                    status=413,
                    descriptions=[
                        _("The request body is too large: the form fields may take at most %(size)s.")
                        % {"size": f"{(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) / (1024 * 1024):.3g} MB"}
                    ],
                )
            except (MultiPartParserError, SuspiciousOperation, UnreadablePostError):
                return render_errors(fmt, status=400, descriptions=[_("The request body could not be read.")])
            lang = params.language(request, merged)
            with translation.override(lang):
                try:
                    nul_parameter = _nul_parameter(merged, kwargs)
                    if nul_parameter is not None:
                        raise Open311Error(400, f"{nul_parameter[:60]}: " + _("contains a NUL character."))
                    jurisdiction = params.value(merged, "jurisdiction_id")
                    if jurisdiction is not None and jurisdiction.lower() not in _jurisdictions():
                        raise Open311Error(
                            404, _("jurisdiction_id “%(j)s” not found.") % {"j": jurisdiction[:60]}
                        )
                    response = view(request, Call(fmt, lang, merged), **kwargs)
                except Open311Error as exc:
                    error = render_errors(fmt, status=exc.status, descriptions=exc.descriptions)
                    if exc.retry_after is not None:
                        error["Retry-After"] = str(exc.retry_after)
                    return error
                except ValidationError as exc:
                    return render_errors(fmt, status=400, descriptions=_descriptions(exc))
            patch_vary_headers(response, ["Accept-Language"])
            return response

        return wrapper

    return decorator


def _base_url(request: HttpRequest) -> str:
    # Without the trailing slash: clients append "/services.xml" (GeoReporter, for one, does
    # `url + "/requests.json"`); the URLconf takes the doubled slash of one that kept it.
    return request.build_absolute_uri(reverse("open311:root")).rstrip("/")


@endpoint()
def discovery(request: HttpRequest, call: Call) -> HttpResponse:
    return render(
        call.fmt, root="discovery", item=None, data=documents.discovery(base_url=_base_url(request))
    )


@csrf_exempt
def root(request: HttpRequest) -> HttpResponse:
    """The base URL answers with the discovery document, in XML (the spec's required format)."""
    return discovery(request, fmt="xml")


@csrf_exempt
def not_found(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    return render_errors("xml", status=404, descriptions=[_("No such Open311 endpoint.")])


@endpoint()
def services(request: HttpRequest, call: Call) -> HttpResponse:
    data = [documents.service(row, call.lang) for row in service_list()]
    return render(call.fmt, root="services", item="service", data=data)


@endpoint()
def service_definition(request: HttpRequest, call: Call, service_code: str) -> HttpResponse:
    category = category_get(code=service_code)
    if category is None:
        raise Open311Error(404, _("service_code “%(code)s” not found.") % {"code": service_code[:60]})
    data = documents.service_definition(
        service_code=category.code, attributes=service_attributes(category_id=category.pk), lang=call.lang
    )
    return render(call.fmt, root="service_definition", item=None, data=data)


def _requests_document(request: HttpRequest, call: Call, rows: Sequence[Row]) -> list[dict[str, Any]]:
    extensions = (params.value(call.params, "extensions") or "").lower() in {"true", "1", "yes"}
    notes = request_notes(report_ids=[row["id"] for row in rows]) if extensions else None
    return [
        documents.request(
            row,
            call.lang,
            absolute_url=request.build_absolute_uri,
            notes=notes[row["id"]] if notes is not None else None,
        )
        for row in rows
    ]


@endpoint(methods=("GET", "POST"))
def requests(request: HttpRequest, call: Call) -> HttpResponse:
    if request.method == "POST":
        return _request_create(request, call)
    ids = params.csv(call.params, "service_request_id")
    if ids:
        if len(ids) > params.MAX_IDS:
            raise Open311Error(400, _("At most %(n)d service_request_id values.") % {"n": params.MAX_IDS})
        rows = request_rows(filters=RequestFilters(ids=[tracking_code_normalize(i) for i in ids]))
        data = _requests_document(request, call, rows)
        return render(call.fmt, root="service_requests", item="request", data=data)
    start, end = params.date_window(call.params)
    cursor, offset, limit = params.requests_paging(call.params)
    near, radius = params.near(call.params)
    page = request_page(
        filters=RequestFilters(
            service_codes=params.csv(call.params, "service_code"),
            start=start,
            end=end,
            statuses=params.statuses(call.params),
            bbox=params.bbox(call.params),
            near=near,
            radius_m=radius,
            offset=offset,
            limit=limit,
            cursor=cursor,
        )
    )
    response = render(
        call.fmt, root="service_requests", item="request", data=_requests_document(request, call, page.rows)
    )
    _link_header(request, response, page, scope="")
    return response


def _link_header(request: HttpRequest, response: HttpResponse, page: KeysetPage, *, scope: str) -> None:
    """The spec's answers are bare lists: the way on is in the Link header (RFC 8288), this request
    with a cursor (signed for the list `scope`) instead of a page number."""
    url = remove_query_param(request.build_absolute_uri(), "page")
    links = [
        f'<{replace_query_param(url, "cursor", cursor_encode(key, scope=scope))}>; rel="{rel}"'
        for rel, key in (("next", page.next), ("prev", page.previous))
        if key is not None
    ]
    if links:
        response["Link"] = ", ".join(links)


def _request_create(request: HttpRequest, call: Call) -> HttpResponse:
    p = call.params
    api_key_text = params.value(p, "api_key")
    api_key = api_key_authenticate(key=api_key_text)
    if api_key is None:
        raise Open311Error(
            403,
            _("api_key is missing: it is needed to submit a request.")
            if api_key_text is None
            else _("api_key is not valid or has been revoked."),
        )
    wait = throttle_wait(request, Open311KeyThrottle(key_id=api_key.pk))
    if wait is not None:
        raise Open311Error(
            429,
            _("Too many requests with this api_key. Try again in %(seconds)d seconds.") % {"seconds": wait},
            retry_after=wait,
        )
    service_code = params.value(p, "service_code")
    if service_code is None:
        raise Open311Error(400, _("service_code is required."))
    category = category_get(code=service_code)
    if category is None:
        raise Open311Error(404, _("service_code “%(code)s” not found.") % {"code": service_code[:60]})
    location = params.report_location(p)
    address_string = params.value(p, "address_string") or ""
    address_id = params.value(p, "address_id") or ""
    if location is None and not address_string and not address_id:
        raise Open311Error(400, _("A location is required: lat and long, or address_string, or address_id."))
    submission = open311_request_submit(
        api_key=api_key,
        category=category,
        location=location,
        address_string=address_string,
        address_id=address_id,
        attributes=params.attributes(p),
        description=params.value(p, "description") or "",
        email=params.value(p, "email") or "",
        first_name=params.value(p, "first_name") or "",
        last_name=params.value(p, "last_name") or "",
        phone=params.value(p, "phone") or "",
        device_id=params.value(p, "device_id") or "",
        account_id=params.value(p, "account_id") or "",
        media_url=params.value(p, "media_url") or "",
        photos=request.FILES.getlist("media"),
        idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
    )
    code = submission.report.tracking_code
    data = documents.post_response(
        service_request_id=code,
        notice=_("Your report was received by the 137 centre. Its tracking code is %(code)s.")
        % {"code": code},
        account_id=params.value(p, "account_id"),
    )
    return render(call.fmt, root="service_requests", item="request", data=data)


@endpoint()
def request_detail(request: HttpRequest, call: Call, service_request_id: str) -> HttpResponse:
    rows = request_rows(filters=RequestFilters(ids=[tracking_code_normalize(service_request_id)]))
    data = _requests_document(request, call, rows)
    if not data:
        raise Open311Error(404, _("service_request_id “%(id)s” not found.") % {"id": service_request_id[:60]})
    return render(call.fmt, root="service_requests", item="request", data=data)


@endpoint()
def token(request: HttpRequest, call: Call, token: str) -> HttpResponse:
    service_request_id = request_id_for_token(token=token)
    if service_request_id is None:
        raise Open311Error(404, _("token “%(t)s” not found.") % {"t": token[:60]})
    data = [{"service_request_id": service_request_id, "token": token}]
    return render(call.fmt, root="service_requests", item="request", data=data)


@endpoint()
def request_updates(request: HttpRequest, call: Call) -> HttpResponse:
    start, end = params.date_window(call.params)
    cursor, offset, limit = params.updates_paging(call.params)
    page = request_update_page(start=start, end=end, cursor=cursor, offset=offset, limit=limit)
    data = [documents.request_update(row) for row in page.rows]
    response = render(call.fmt, root="service_request_updates", item="request_update", data=data)
    _link_header(request, response, page, scope=params.UPDATES_CURSOR_SCOPE)
    return response

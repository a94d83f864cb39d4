"""API-wide error shape: every error is JSON with a human message and a stable code, never an HTML
page or a 500.
Also the rule for the anonymous write endpoints: JSON or multipart, forms only from this site."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.http import is_same_domain, parse_header_parameters
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, PermissionDenied, UnsupportedMediaType
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from open137.parsers import MAX_JSON_DEPTH, JSONValueError, json_value_check

logger = logging.getLogger(__name__)
# Seconds a client is asked to wait when the database did not answer (a restart, a fail-over).
DATABASE_RETRY_AFTER_S = 2


# The stable, machine-readable `code` of every error answer of the API, by HTTP status, for an
# error that names none of its own (a view's own Response, a page of Django's). Clients branch on
# the code; the `error` sentence is for people and follows the request's language.
STATUS_CODES: dict[int, str] = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}
DATABASE_UNAVAILABLE = "database_unavailable"


def status_code_name(status_code: int) -> str:
    """The stable code of an error answer that names none of its own."""
    return STATUS_CODES.get(status_code, "error" if status_code < 500 else "server_error")


def database_unavailable_message() -> str:
    return _("The service cannot reach its database for a moment. Please try again shortly.")


def _code_of(exc: Exception, status_code: int) -> str:
    if isinstance(exc, Http404):
        return "not_found"
    if isinstance(exc, APIException):
        codes = exc.get_codes()
        return codes if isinstance(codes, str) else exc.default_code
    return status_code_name(status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error answer of the API: `{"error": sentence for people, "code": stable code for
    programs, ...}`; a 400 about fields adds `detail` (messages by field) and `errors` (`[{"field",
    "code", "message"}]`). Codes: DRF's own (`parse_error`, `not_authenticated`,
    `authentication_failed`, `permission_denied`, `not_found`, `method_not_allowed`,
    `unsupported_media_type`, `throttled`), a field's (`required`, `invalid`, ...), a service's
    ValidationError code, `too_large`, `too_many_fields`, `database_unavailable`."""
    # The database went away (restarted, failed over, a connection cut): nothing of this request was
    # committed, or the client cannot know; a retry, with the same Idempotency-Key for a new report,
    # is safe. A 503 with Retry-After says so, where a 500 would say the request itself is at fault.
    # Lock and statement timeouts are OperationalErrors too: "try again" holds for them as well.
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", str(exc).strip()[:300])
        set_rollback()
        return Response(
            {"error": database_unavailable_message(), "code": DATABASE_UNAVAILABLE},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )
    # Django refuses to read a body over its limits; unhandled, that is its HTML "Bad Request" page.
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        message = _(
            "The request body is too large: JSON or form fields may take at most %(size)s "
            "(photos do not count toward this)."
        ) % {"size": _size(limit)}
        return Response(
            {"error": message, "code": "too_large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        message = _("The request has too many form fields or files.")
        return Response({"error": message, "code": "too_many_fields"}, status=status.HTTP_400_BAD_REQUEST)
    # Services raise Django's ValidationError; to a client that is a 400 with the same messages.
    if isinstance(exc, DjangoValidationError):
        given = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else None
        if hasattr(exc, "error_dict"):
            detail: Any = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in detail.items())
            errors = [
                {
                    "field": field,
                    "code": error.code or given or "invalid",
                    "message": " ".join(str(m) for m in error),
                }
                for field, field_errors in exc.error_dict.items()
                for error in field_errors
            ]
        else:
            detail = [str(m) for m in exc.messages]
            message = " ".join(detail)
            errors = [
                {
                    "field": "non_field_errors",
                    "code": error.code or given or "invalid",
                    "message": " ".join(str(m) for m in error),
                }
                for error in exc.error_list
            ]
        code = errors[0]["code"] if errors else (given or "invalid")
        return Response(
            {"error": message, "code": code, "detail": detail, "errors": errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(response.data, dict):
        return response
    data = response.data
    if "error" not in data:
        message = (
            _text(data["detail"])
            if "detail" in data
            else "; ".join(f"{k}: {_text(v)}" for k, v in data.items())
        )
        data = response.data = {"error": str(message), "detail": data}
    if "code" not in data:
        data["code"] = _code_of(exc, response.status_code)
        detail = data.get("detail")
        # A field error (a serializer's, a shared helper's): each message with its code.
        if isinstance(detail, dict) and detail and all(isinstance(v, list) for v in detail.values()):
            data["code"] = next(
                (str(getattr(m, "code", "") or "invalid") for v in detail.values() for m in v), "invalid"
            )
            data["errors"] = [
                {"field": field, "code": str(getattr(m, "code", "") or "invalid"), "message": str(m)}
                for field, messages in detail.items()
                for m in messages
            ]
    return response


def field_error_body(field: str, message: str, *, code: str = "invalid") -> dict[str, Any]:
    """The API's 400 body about one field, for a view outside DRF: what the exception handler
    makes of districts.apis.field_error."""
    return {
        "error": f"{field}: {message}",
        "code": code,
        "detail": {field: [message]},
        "errors": [{"field": field, "code": code, "message": message}],
    }


def _text(value: Any) -> str:
    """DRF's error details (lists and dicts of ErrorDetail) as the plain sentences they hold."""
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


# What the project's API reads (DEFAULT_PARSER_CLASSES: open137.parsers.SafeJSONParser and DRF's
# MultiPartParser). A form-encoded body is not among them: it is what any web page can make its
# visitors' browsers send to us.
API_MEDIA_TYPES = ("application/json", "multipart/form-data")


class SameSiteWrite(BasePermission):
    """The anonymous write endpoints of /api/ (no session, so no CSRF token): what a page on another
    site could make a visitor's browser send is refused.

    - The body must be JSON or multipart (415 otherwise): a cross-site HTML form can send a
      form-encoded or text/plain body, and the API reads neither.
    - Anything but JSON (multipart, which a form can also send, or no body at all, which a script
      can send without asking) must come from this site: an `Origin` header naming another host, or
      "null", is a 403. Apps and servers send no `Origin`; a browser sends it with every cross-site
      POST. A JSON body from another site needs a CORS preflight, which the API never grants.
      The scheme is not compared (behind a TLS proxy the app may see http://); origins in
      CSRF_TRUSTED_ORIGINS (wildcards too) are this site as well.
    - A JSON body is held to open137.parsers.json_value_check here as well, for views that list
      DRF's own JSONParser rather than the project's SafeJSONParser.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        header = request.META.get("CONTENT_TYPE", "")
        media_type = parse_header_parameters(header)[0].strip().lower() if header.strip() else ""
        if media_type and media_type not in API_MEDIA_TYPES:
            raise UnsupportedMediaType(
                media_type[:100],
                detail=_("Send the body as JSON (application/json) or multipart/form-data, not %(type)s.")
                % {"type": media_type[:100]},
            )
        if media_type == "application/json":
            try:
                json_value_check(request.data)
            except RecursionError:
                raise ParseError(
                    _("JSON parse error - nested more than %(n)d levels deep.") % {"n": MAX_JSON_DEPTH}
                ) from None
            except JSONValueError as exc:
                raise ParseError(str(exc)) from None
            return True
        if not same_site(request):
            raise PermissionDenied(
                _(
                    "This request came from a page on another site (Origin: %(origin)s): the API "
                    "takes forms only from this site's own pages. Apps send JSON."
                )
                % {"origin": request.META.get("HTTP_ORIGIN", "")[:100]}
            )
        return True


def same_site(request: Request) -> bool:
    """True without an `Origin` header, or with one naming this site's host (or a trusted origin)."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip())
        host = request.get_host()
    except (ValueError, DisallowedHost):
        return False
    netloc = parts.netloc.lower()
    if not parts.scheme or not netloc:
        return False  # "null" (a sandboxed frame, a file:// page) or garbage
    if netloc == host.lower():
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        allowed = urlsplit(trusted)
        # "https://*.city.example" allows every subdomain: is_same_domain's ".city.example".
        pattern = allowed.netloc.lower().lstrip("*")
        if allowed.scheme == parts.scheme and is_same_domain(netloc, pattern):
            return True
    return False


class AnswersInItsOwnFormat(DefaultContentNegotiation):
    """For a view with one format of answer (the report list and a new report's answer are JSON
    whatever the client asks for): the Accept header is not parsed, which cost every citizen's POST
    more than anything a client could choose. Bodies are still read by their Content-Type."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type

"""Language choice: Persian first.

Many citizens' phones run with an English interface, so a browser's Accept-Language says little
about the language they read best. Pages therefore speak Persian unless the citizen chose English
with the language switch (Django's language cookie). The APIs (/api/, /open311/) follow
Accept-Language as their clients expect.
"""

from __future__ import annotations

import logging
import sys
from http import HTTPStatus

import orjson
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.template.loader import render_to_string
from django.utils import translation

# Answers to programs, not pages: their language follows the request's Accept-Language (the
# tiles' too: a bad tile address is a 400 in the API's shape).
API_PREFIXES = ("/api/", "/open311/", "/tiles/")


class PersianFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(API_PREFIXES):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


# --- Browser hardening ------------------------------------------------------------------------------
# Every page's scripts come from the app's own static files (Leaflet and the page scripts, no CDN) and
# their data from `json_script` blocks, so the policy forbids inline script outright: text a citizen
# typed can never run, even if an output forgot to escape it. Inline styles stay allowed (Leaflet
# positions its panes with them). Base-map tiles come from OPEN137_TILE_URL's host.
# The admin (django-leaflet's widget) and the API docs (Swagger UI) ship inline scripts of their own:
# they get the same policy with inline script allowed, and both are ours to trust.
_INLINE_SCRIPT_PREFIXES = ("/admin/", "/api/docs/")
PERMISSIONS_POLICY = (
    "geolocation=(self), camera=(), microphone=(), payment=(), usb=(), magnetometer=(), gyroscope=(), "
    "accelerometer=(), browsing-topics=()"
)


def _tile_origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    # Leaflet's {s} subdomains (a, b, c) are hosts of their own.
    host = parts.netloc.replace("a.", "*.", 1) if "{s}" in url else parts.netloc
    return f"{parts.scheme}://{host}"


def content_security_policy(*, inline_script: bool = False) -> str:
    tiles = _tile_origin(getattr(settings, "OPEN137_TILE_URL", "") or "")
    script = "'self' 'unsafe-inline'" if inline_script else "'self'"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script}",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob: {tiles}".strip(),
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every answer that has none yet."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            inline = request.path_info.startswith(_INLINE_SCRIPT_PREFIXES)
            response["Content-Security-Policy"] = content_security_policy(inline_script=inline)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


# --- The database away, and error answers without a code -----------------------------------------
# While PostgreSQL restarts or fails over, a request cannot be served. The API says so itself
# (open137.api.exception_handler: 503, Retry-After); here the same holds for every other answer: a
# page gets a plain page (Persian and English, no database, no context processors: nothing on it
# can need the database), Open311 its own error document, a JSON endpoint outside DRF the API's
# error body. The failure may come from a view (process_exception) or from a middleware around it,
# such as the session being saved (got_request_exception marks the request, and the 500 Django made
# of it becomes the 503 here).
_DB_DOWN_ATTR = "_open137_database_unavailable"


def _database_error(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def _note_database_error(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    if request is not None and _database_error(sys.exc_info()[1]):
        setattr(request, _DB_DOWN_ATTR, True)


def _page_language(request: HttpRequest) -> str:
    if request.path_info.startswith(API_PREFIXES):
        return translation.get_language() or settings.LANGUAGE_CODE
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 of a request the database could not serve, in the form its path expects."""
    from open137.api import DATABASE_RETRY_AFTER_S, DATABASE_UNAVAILABLE, database_unavailable_message

    path = request.path_info
    response: HttpResponse
    if path.startswith("/open311/"):
        # The Open311 app's own error document (the project's URLconf wires that app in anyway).
        from issues.open311.render import render_errors

        fmt = "json" if path.rstrip("/").endswith(".json") else "xml"
        response = render_errors(
            fmt, status=503, descriptions=[database_unavailable_message()], codes=DATABASE_UNAVAILABLE
        )
    elif path.startswith("/api/"):
        body = {"error": database_unavailable_message(), "code": DATABASE_UNAVAILABLE}
        response = HttpResponse(orjson.dumps(body), status=503, content_type="application/json")
    else:
        language = _page_language(request)
        other = "en" if language == "fa" else "fa"
        texts = {}
        for lang in (language, other):
            with translation.override(lang):
                texts[lang] = {
                    "lang": lang,
                    "dir": "rtl" if translation.get_language_bidi() else "ltr",
                    "title": translation.gettext("The service is unavailable for a moment"),
                    "message": database_unavailable_message(),
                    "retry": translation.gettext("This page will try again by itself; or reload it."),
                }
        html = render_to_string(
            "database_unavailable.html",
            {"main": texts[language], "other": texts[other], "retry_after": DATABASE_RETRY_AFTER_S},
        )
        response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
        response["Content-Language"] = language
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response


def _add_error_code(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An error answer of the API that names no `code` gets the one of its status; an HTML error
    page under /api/ (an unknown address, Django's own 404) becomes the API's JSON error body."""
    from rest_framework.exceptions import NotFound

    from open137.api import status_code_name

    content_type = response.get("Content-Type", "")
    if getattr(response, "streaming", False):
        return response
    if content_type.startswith("application/json"):
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response
        if not isinstance(body, dict) or "code" in body:
            return response
        body["code"] = status_code_name(response.status_code)
    elif (
        content_type.startswith("text/html")
        and getattr(response, "accepted_renderer", None) is None  # DRF's browsable API is meant as HTML
        and not request.path_info.startswith(_INLINE_SCRIPT_PREFIXES)
    ):
        try:
            reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = "Error"
        message = str(NotFound.default_detail) if response.status_code == 404 else reason
        body = {"error": message, "code": status_code_name(response.status_code)}
        response["Content-Type"] = "application/json"
    else:
        return response
    response.content = orjson.dumps(body)
    if response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


class ErrorAnswersMiddleware:
    """503 with Retry-After for every request the database could not serve, and a stable `code` in
    every error answer of the project's API (open137.api.STATUS_CODES)."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response
        got_request_exception.connect(_note_database_error, dispatch_uid="open137-database-unavailable")

    def __call__(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _DB_DOWN_ATTR, False):
            return database_unavailable_response(request)
        if response.status_code >= 400 and request.path_info.startswith("/api/"):
            return _add_error_code(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not _database_error(exception):
            return None
        logging.getLogger(__name__).warning("database unavailable: %s", str(exception).strip()[:300])
        return database_unavailable_response(request)

"""Language choice: Persian first.

Many citizens' phones run with an English interface, so a browser's Accept-Language says little
about the language they read best. Pages therefore speak Persian unless the citizen chose English
with the language switch (Django's language cookie). The APIs (/api/, /open311/) follow
Accept-Language as their clients expect.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

API_PREFIXES = ("/api/", "/open311/")


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

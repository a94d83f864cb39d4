"""Rate limits on the public write endpoints, per client IP.

Counters live in a database table (RateCounter, one UPSERT per counted request): every app process
and server shares them, so a limit holds behind a load balancer too. Rates are read from
settings on each request (OPEN137_RATE_REPORTS, OPEN137_RATE_SUPPORT, OPEN137_RATE_UPDATES,
OPEN137_RATE_TOKEN for staff sign-ins), so they can be changed without touching code; an empty rate
turns the limit off.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from issues.services.ratelimit import rate_counter_hit


def client_ip(request: Request) -> str:
    """The client's address as the rate limits see it (X-Forwarded-For only behind the number of
    trusted proxies in REST_FRAMEWORK["NUM_PROXIES"]). A WSGI server listening on a Unix socket may
    give no REMOTE_ADDR at all: such clients are one, the empty address, rather than a server error."""
    return BaseThrottle().get_ident(request) or ""


def _address_key(address: str) -> str:
    # One IPv6 subscriber usually holds a whole /64 and picks new addresses in it at will (privacy
    # extensions), so the /64 stands for the client there; an IPv4 address (also one mapped into
    # IPv6) stands for itself. Anything that is not an address (a mangled proxy header) is kept as is.
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_fingerprint(request: Request) -> str:
    """Who supports a report ("me too"), without storing who: a salted SHA-256 of the client's
    address (an IPv4 address, or the /64 prefix of an IPv6 one). Nothing the client chooses, such as
    the User-Agent, goes into it, so changing browsers or headers does not count again; the price is
    that people behind one shared address (an office, a carrier's NAT) count once together. The salt
    is the secret key, so the hash cannot be reversed by trying every address."""
    material = f"{settings.SECRET_KEY}\n{_address_key(client_ip(request))}"
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


class _SettingsRateThrottle(BaseThrottle):
    """A per-client limit ("N/second|minute|hour|day") read from the setting named by
    `rate_setting`; counted per address (an IPv6 client by its /64) in fixed windows, in the
    database (`rate_counter_hit`: one statement per request)."""

    rate_setting = ""
    # The rate when the setting is absent (an empty setting still turns the limit off).
    rate_default = ""
    scope = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def get_rate(self) -> str | None:
        rate = getattr(settings, self.rate_setting, self.rate_default) or ""
        return rate.strip() or None

    def client_key(self, request: Request) -> str:
        return f"{self.scope}:{_address_key(client_ip(request))}"

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = self.get_rate()
        if rate is None:
            return True
        limit, period = SimpleRateThrottle.parse_rate(self, rate)  # type: ignore[arg-type]
        if limit is None or period is None:
            return True
        now = time.time()
        window_start = now - now % period
        hits = rate_counter_hit(
            key=self.client_key(request), window_start=window_start, keep_seconds=max(period, 86_400)
        )
        if hits > limit:
            self._wait = window_start + period - now
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


class ReportCreateThrottle(_SettingsRateThrottle):
    scope = "reports"
    rate_setting = "OPEN137_RATE_REPORTS"


class ReportSupportThrottle(_SettingsRateThrottle):
    scope = "support"
    rate_setting = "OPEN137_RATE_SUPPORT"


class ReportUpdateThrottle(_SettingsRateThrottle):
    """The reporter's own writes through the private link (more information with photos, "fixed?"):
    the link is a secret, but one that can leak, and each write may carry photos."""

    scope = "updates"
    rate_setting = "OPEN137_RATE_UPDATES"


class StaffTokenThrottle(_SettingsRateThrottle):
    """Requests for a staff API token: each one is a password guess, right or wrong, so every
    request counts, per client address. OPEN137_RATE_TOKEN, 10 a minute by default: a 137 centre
    behind one address signs in a few dozen times a day, a guesser gets 14,400 tries a day at most."""

    scope = "token"
    rate_setting = "OPEN137_RATE_TOKEN"
    rate_default = "10/minute"


class Open311KeyThrottle(_SettingsRateThrottle):
    """Open311 clients are city back-ends and apps that relay many citizens' reports from one
    server, so their limit counts per API key rather than per address."""

    scope = "open311"
    rate_setting = "OPEN137_RATE_OPEN311"

    def __init__(self, *, key_id: int) -> None:
        super().__init__()
        self.key_id = key_id

    def client_key(self, request: Request) -> str:
        return f"{self.scope}:key{self.key_id}"


def throttle_wait(request: HttpRequest, throttle: BaseThrottle) -> int | None:
    """Seconds to wait when the client is over a write limit, else None (the request is counted).
    For the views outside DRF (the report form, Open311), held to the same limits as the API."""
    if throttle.allow_request(Request(request), APIView()):
        return None
    return max(1, math.ceil(throttle.wait() or 1))


class WriteThrottleMixin:
    """For an APIView: limit only the POSTs, and answer a refused one with a 429 that says in words
    and in the Retry-After header when to try again."""

    write_throttle_classes: list[type[BaseThrottle]] = []
    # A sentence for the client (lazily translated), e.g. "Too many reports from your address."
    throttle_message: Any = ""

    def get_throttles(self) -> list[BaseThrottle]:
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST":
            return [throttle() for throttle in self.write_throttle_classes]
        return []

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Throttled):
            wait = max(1, math.ceil(getattr(exc, "wait", None) or 1))
            retry_at = timezone.localtime(timezone.now() + timedelta(seconds=wait))
            message = _("%(what)s Try again in %(seconds)d seconds (after %(at)s).") % {
                "what": self.throttle_message or _("Too many requests from your address."),
                "seconds": wait,
                "at": retry_at.strftime("%H:%M:%S"),
            }
            return Response(
                {"error": message, "retry_after": wait, "retry_at": retry_at.isoformat(timespec="seconds")},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(wait)},
            )
        return super().handle_exception(exc)  # type: ignore[misc]

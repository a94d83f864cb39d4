"""What the citizen's pages share: the report named in the address, and the per-address limits."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from rest_framework.throttling import BaseThrottle

from issues.models import Report
from issues.selectors import report_by_code
from issues.throttling import throttle_wait


def report_or_404(code: str) -> Report:
    report = report_by_code(code=code)
    if report is None:
        raise Http404
    return report


def throttled(request: HttpRequest, throttle_class: type[BaseThrottle]) -> int | None:
    """Seconds to wait, or None. The forms are held to the same per-address limits as the API, so
    they are not the way around them."""
    return throttle_wait(request, throttle_class())

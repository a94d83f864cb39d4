"""The reporter's private link on the tracking page, out of the address bar after its first use.

The link sent by SMS or e-mail, and shown once on the thank-you page, is /track/<code>/?t=<token>.
Its first use exchanges the token for the visitor's session and answers 303 to the same page without
it; from then on the session alone opens the reporter's part of the page and its forms, which carry
no token either. The exchange and the session's entry (re-checked on every use) are
issues/private_links.py's, shared with participation's pledge links.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from issues.models import Report
from issues.private_links import (
    REPORT,
    HttpResponseSeeOther,
    private_headers,
    private_link_session_key,
    report_access_grant,
)
from issues.selectors import report_private_token_valid, report_tracking_url

# Where the session keeps the reporter's tokens (tests read it).
SESSION_KEY = private_link_session_key(REPORT)


def track_link_exchange(request: HttpRequest, *, report: Report) -> HttpResponse | None:
    """/track/<code>/?t=<token>: with a valid token, the token goes into the session and the answer
    is a 303 to the canonical tracking page without it (any other parameter is kept, and a typed
    code gets no 301 that would repeat the token first). None when the token is not valid: the caller
    says so, and the rights the session already has stay."""
    token = request.GET.get("t", "")
    if not report_private_token_valid(report=report, token=token):
        return None
    report_access_grant(request, report=report, token=token)
    rest = request.GET.copy()
    rest.pop("t")
    query = f"?{rest.urlencode()}" if rest else ""
    return private_headers(HttpResponseSeeOther(report_tracking_url(code=report.tracking_code) + query))

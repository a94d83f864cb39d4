"""The reporter's private link, out of the address bar after its first use.

The link sent by SMS or e-mail, and shown once on the thank-you page, is /track/<code>/?t=<token>.
A token in a URL stays in the browser's history, in the access logs of the server and of any proxy,
and in a shared screen's address bar. So its first use exchanges it: the token is checked, kept in
the visitor's session (stored server-side, in the database: the session cookie holds only the
session's random key) as "this browser may act on report <code>", and the browser is sent (303) to
the same page without it. From then on the session alone opens the reporter's part of the page and
its forms, which no longer carry the token either.

The token itself is kept, not just a mark, and checked again on every use: a token that stops being
valid stops the session's rights with it. A session holds the last few reports opened this way.
"""

from __future__ import annotations

from django.http import HttpRequest

from issues.models import Report
from issues.selectors import report_private_token_valid

SESSION_KEY = "open137_private_reports"
# One phone may follow a handful of its own reports; the oldest grant goes first.
MAX_REPORTS = 20


def private_access_grant(request: HttpRequest, *, report: Report, token: str) -> None:
    """Remember in this browser's session that it may act as the reporter of `report` (the caller
    checked `token`). A new session key is issued, so a session planted on the visitor beforehand
    (a fixed cookie) does not gain the rights."""
    granted = dict(request.session.get(SESSION_KEY) or {})
    if granted.get(report.tracking_code) == token:
        return
    granted.pop(report.tracking_code, None)
    granted[report.tracking_code] = token
    while len(granted) > MAX_REPORTS:
        granted.pop(next(iter(granted)))
    request.session.cycle_key()
    request.session[SESSION_KEY] = granted


def private_access_token(request: HttpRequest, *, report: Report) -> str | None:
    """The reporter's token this session holds for `report`, if it holds one that is still valid."""
    granted = request.session.get(SESSION_KEY) or {}
    token = granted.get(report.tracking_code) if isinstance(granted, dict) else None
    if not isinstance(token, str):
        return None
    if report_private_token_valid(report=report, token=token):
        return token
    granted = dict(granted)
    del granted[report.tracking_code]
    request.session[SESSION_KEY] = granted
    return None

"""Private links out of the address bar: a secret token, exchanged on its first use for an entry in
the visitor's session.

A private link (the reporter's /track/<code>/?t=<token>, the pledger's /participation/pledges/<token>/)
is a password in a URL: it stays in the browser's history, in the access logs of the server and of
any proxy, and in a shared screen's address bar. So its first use exchanges it: the page checks the
token, keeps it in the visitor's session (stored server-side, in the database: the session cookie
holds only the session's random key) as "this browser may act on <kind> <public id>", and answers
303 to an address without it. From then on the session alone opens the private page and its forms.

The token itself is kept, not just a mark, and checked again on every use: a token that stops being
valid stops the session's rights with it. Each kind of thing has its own entry in the session
("report" -> `open137_private_reports`, the key sessions opened before this module hold), with the
last few grants of that kind.

Used by the page apps above issues (maps' tracking page, participation's pledge pages), which may not
import each other: this module knows no kind but the report's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _

from issues.models import Report
from issues.selectors import report_private_token_valid, report_tracking_url
from open137.pages import forbidden_page

T = TypeVar("T")

# One phone may follow a handful of its own reports or pledges; the oldest grant goes first.
MAX_GRANTS = 20
REPORT = "report"


class HttpResponseSeeOther(HttpResponseRedirect):
    """303: after a POST or a link's exchange, the browser GETs the new address (and the address
    with the token is not kept as the page's entry in the history)."""

    status_code = 303


def private_headers(response: HttpResponse) -> HttpResponse:
    """A page reached with, or acting through, a private link: never in a Referer sent to another
    site, never indexed. "same-origin", not "no-referrer": with no-referrer the browser sends
    `Origin: null` on the page's own form posts, which CSRF protection refuses. (Views add
    `never_cache`, which is `Cache-Control: no-store` among others.)"""
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def private_link_session_key(kind: str) -> str:
    return f"open137_private_{kind}s"


def private_link_grant(request: HttpRequest, *, kind: str, public_id: str, token: str) -> None:
    """Remember in this browser's session that it may act on the `kind` thing `public_id` with
    `token` (the caller checked it). A new session key is issued, so a session planted on the
    visitor beforehand (a fixed cookie) does not gain the rights."""
    key = private_link_session_key(kind)
    stored = request.session.get(key)
    granted = dict(stored) if isinstance(stored, dict) else {}
    if granted.get(public_id) == token:
        return
    granted.pop(public_id, None)
    granted[public_id] = token
    while len(granted) > MAX_GRANTS:
        granted.pop(next(iter(granted)))
    request.session.cycle_key()
    request.session[key] = granted


def private_link_lookup(
    request: HttpRequest, *, kind: str, public_id: str, lookup: Callable[[str], T | None]
) -> T | None:
    """What `lookup` finds with the token this session holds for the `kind` thing `public_id` (the
    thing itself, or the token): None when the session holds none, or one that `lookup` no longer
    accepts (then the grant is dropped)."""
    key = private_link_session_key(kind)
    stored = request.session.get(key)
    granted = stored if isinstance(stored, dict) else {}
    token = granted.get(public_id)
    if not isinstance(token, str):
        return None
    found = lookup(token)
    if found is not None:
        return found
    remaining = dict(granted)
    del remaining[public_id]
    request.session[key] = remaining
    return None


# --- The reporter's private link (kind "report", public id the tracking code) ---------------------


def report_access_grant(request: HttpRequest, *, report: Report, token: str) -> None:
    """This browser may act as the reporter of `report` (the caller checked `token`)."""
    private_link_grant(request, kind=REPORT, public_id=report.tracking_code, token=token)


def report_access_token(request: HttpRequest, *, report: Report) -> str | None:
    """The reporter's token this session holds for `report`, if it holds one that is still valid."""

    def valid(token: str) -> str | None:
        return token if report_private_token_valid(report=report, token=token) else None

    return private_link_lookup(request, kind=REPORT, public_id=report.tracking_code, lookup=valid)


def report_access_token_posted(request: HttpRequest, *, report: Report) -> str | None:
    """The reporter's token for a write: a token sent with the form (a page of before the exchange,
    a script) must be this report's, whatever the session holds (a wrong one is refused, never
    covered by the session's rights; a right one is kept in the session); without one, the
    session's."""
    if "t" not in request.POST:
        return report_access_token(request, report=report)
    posted = request.POST.get("t", "")
    if not report_private_token_valid(report=report, token=posted):
        return None
    report_access_grant(request, report=report, token=posted)
    return posted


def report_private_link_refused(request: HttpRequest, *, report: Report) -> HttpResponse:
    """The 403 of a reporter's write (the tracking page's forms, the confirmation of a citizen's
    work) that neither the session nor the posted token allows: the shared page, pointing to the
    report's public page, with the private link's headers."""
    response = forbidden_page(
        request,
        frame="base.html",
        message=_("This private link is not valid for this report."),
        back_url=report_tracking_url(code=report.tracking_code),
        back_label=_("See the report's public page"),
    )
    return private_headers(response)

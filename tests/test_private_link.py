"""The private link leaves the address bar after its first use (issue 8, fix 9): /track/<code>/?t=<token>
is exchanged for the browser's session and a 303 to the same page without the token, so the token
does not stay in the history, the access logs or a shared screen. The session then acts as the
reporter; another browser without the link cannot. The API (token in the body) is unchanged."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from issues.models import Report, ReportEvent, ReportStatus
from maps.private_link import SESSION_KEY
from tests.test_pages import _private_token, build_town, html, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def town() -> SimpleNamespace:
    return build_town()


def _locations(response: Any) -> list[str]:
    """Every Location the client was sent through (follow=True's chain)."""
    return [url for url, _status in getattr(response, "redirect_chain", [])]


def test_the_first_use_redirects_to_the_page_without_the_token(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    code = report.tracking_code
    first = client.get(f"/track/{code}/?t={token}")
    assert first.status_code == 303 and first["Location"] == f"/track/{code}/"
    # Before the redirect the token is in the address: it must not leave the site in a Referer, be
    # cached or indexed.
    assert first["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")
    assert "no-store" in first["Cache-Control"] and first["X-Robots-Tag"] == "noindex"
    assert client.session[SESSION_KEY] == {code: token}

    page = client.get(first["Location"])
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    text = html(page)
    assert 'class="info-form"' in text and 'class="stop-messages-form"' in text
    assert token not in text and 'name="t"' not in text  # the forms carry no token either


def test_other_parameters_are_kept_and_a_typed_code_goes_straight_to_the_canonical_page(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    code = report.tracking_code
    typed = f"{code[:4].lower()}-{code[4:].lower()}"
    response = client.get(f"/track/{typed}/?t={token}&utm=sms")
    # No 301 that repeats the token in its Location first.
    assert response.status_code == 303 and response["Location"] == f"/track/{code}/?utm=sms"


def test_the_session_then_acts_as_the_reporter_and_the_token_is_in_no_later_url(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    code = report.tracking_code
    opened = client.get(f"/track/{code}/?t={token}", follow=True)
    assert [status for _url, status in opened.redirect_chain] == [303]
    assert opened.request["PATH_INFO"] == f"/track/{code}/" and not opened.request["QUERY_STRING"]
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.DONE)

    # The forms post no token: the session is enough.
    added = client.post(f"/track/{code}/info/", {"text": "عمق چاله زیاد است"}, follow=True)
    said = client.post(f"/track/{code}/feedback/", {"fixed": "no", "note": "هنوز هست"}, follow=True)
    stopped = client.post(f"/track/{code}/stop-messages/", {}, follow=True)
    for response in (added, said, stopped):
        assert response.status_code == 200 and "message success" in html(response)
        assert all(token not in url for url in _locations(response))
        assert _locations(response) == [(f"/track/{code}/")]
    assert ReportEvent.objects.filter(report=report, kind=ReportEvent.Kind.CITIZEN_INFO).count() == 1
    assert ReportEvent.objects.filter(report=report, kind=ReportEvent.Kind.CITIZEN_FEEDBACK).count() == 1
    report.refresh_from_db()
    assert report.status == ReportStatus.REOPENED and report.messages_stopped
    # Reloading the page later: still the reporter's page, still no token anywhere.
    again = client.get(f"/track/{code}/")
    assert "info-form" in html(again) and token not in html(again)


def test_another_browser_without_the_link_has_no_rights(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    code = report.tracking_code
    client.get(f"/track/{code}/?t={token}")
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.DONE)
    stranger = Client()
    page = html(stranger.get(f"/track/{code}/"))
    assert "info-form" not in page and "feedback-form" not in page and "stop-messages-form" not in page
    before = ReportEvent.objects.count()
    refused = stranger.post(f"/track/{code}/info/", {"text": "x"})
    assert refused.status_code == 403 and refused["X-Robots-Tag"] == "noindex"
    # The shared 403 page, which says why and leads to the report's public page.
    assert f'href="/track/{code}/"' in html(refused) and 'id="forbidden-message"' in html(refused)
    assert stranger.post(f"/track/{code}/feedback/", {"fixed": "yes"}).status_code == 403
    assert stranger.post(f"/track/{code}/stop-messages/", {}).status_code == 403
    assert ReportEvent.objects.count() == before
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE and not report.messages_stopped
    # Nor does the reporter's session reach another report.
    _, other = submit(Client(REMOTE_ADDR="198.51.100.7"))
    assert client.post(f"/track/{other.tracking_code}/info/", {"text": "x"}).status_code == 403


def test_a_wrong_token_is_a_403_and_gives_no_rights(client, town):
    _, report = submit(client)
    code = report.tracking_code
    response = client.get(f"/track/{code}/?t=wrong-token")
    assert response.status_code == 403 and response["Referrer-Policy"] == "same-origin"
    page = html(response)
    assert "This private link is not valid" in page or "معتبر نیست" in page
    assert "info-form" not in page and SESSION_KEY not in client.session
    assert client.post(f"/track/{code}/info/", {"text": "x"}).status_code == 403
    # A wrong token sent with a form is refused even by a session that has the rights.
    token = _private_token(client, report)
    client.get(f"/track/{code}/?t={token}")
    assert client.post(f"/track/{code}/info/", {"t": "wrong", "text": "x"}).status_code == 403
    assert not ReportEvent.objects.filter(kind=ReportEvent.Kind.CITIZEN_INFO).exists()
    assert client.get("/track/XXXXXXXX/?t=anything").status_code == 404


def test_a_token_that_stops_being_valid_ends_the_sessions_rights(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    code = report.tracking_code
    client.get(f"/track/{code}/?t={token}")
    assert "info-form" in html(client.get(f"/track/{code}/"))
    Report.objects.filter(pk=report.pk).update(private_token_hash="0" * 64)
    assert "info-form" not in html(client.get(f"/track/{code}/"))
    assert client.post(f"/track/{code}/info/", {"text": "x"}).status_code == 403


def test_a_new_session_key_is_issued_when_a_link_is_used(client, town):
    _, first = submit(client)
    first_token = _private_token(client, first)
    _, second = submit(client, description="چاله دوم")
    second_token = _private_token(client, second)
    client.get(f"/track/{first.tracking_code}/?t={first_token}")
    before = client.session.session_key
    assert before
    client.get(f"/track/{second.tracking_code}/?t={second_token}")
    # A session planted on the visitor beforehand does not gain the rights; both reports are held.
    assert client.session.session_key != before
    assert set(client.session[SESSION_KEY]) == {first.tracking_code, second.tracking_code}


def test_the_api_still_takes_the_token_in_the_body(client, town):
    _, report = submit(client)
    token = _private_token(client, report)
    response = Client().post(
        f"/api/reports/{report.tracking_code}/stop-messages/",
        json.dumps({"token": token}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["messages_stopped"] is True
    refused = Client().post(
        f"/api/reports/{report.tracking_code}/stop-messages/",
        json.dumps({"token": "wrong"}),
        content_type="application/json",
    )
    assert refused.status_code == 403

"""The pledger's private link leaves the address bar after its first use, like the reporter's
(tests/test_private_link.py): /participation/pledges/<token>/ is exchanged for the browser's session
and a 303 to /participation/pledges/<id>/, which names no secret. That page and its forms open by
the session alone; another browser, or a token that no longer opens the pledge, gets a 403 that
names nobody and changes nothing. Links already given out keep working."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from issues.formats import token_hash
from issues.private_links import MAX_GRANTS, private_link_session_key
from maps.private_link import SESSION_KEY as REPORT_SESSION_KEY
from participation.models import Pledge, PledgeEvent
from tests.test_participation import REPORTER_TOKEN, _pledge, _report

pytestmark = pytest.mark.django_db

PLEDGE_SESSION_KEY = private_link_session_key("pledge")
NAME, PHONE = "Reza Karimi", "09121112233"


@pytest.fixture
def salting(city, category_factory):
    return category_factory("salting", city.roads, name_en="Icy street", citizen_doable=True)


@pytest.fixture
def pledged(api_client, salting) -> tuple[Any, Pledge, str]:
    """A report with a pledge made through the API: (report, pledge, the private link's token)."""
    report = _report(salting)
    token = _pledge(api_client, report, name=NAME, contact=PHONE).json()["token"]
    return report, Pledge.objects.get(), token


def _text(response: Any) -> str:
    return response.content.decode()


def _private_headers_hold(response: Any) -> None:
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"


def test_the_link_is_exchanged_for_the_session_and_the_303_names_no_token(client, pledged):
    report, pledge, token = pledged
    first = client.get(f"/participation/pledges/{token}/")
    assert first.status_code == 303 and first["Location"] == f"/participation/pledges/{pledge.pk}/"
    assert token not in first["Location"]
    _private_headers_hold(first)  # the request's address held the token
    assert client.session[PLEDGE_SESSION_KEY] == {str(pledge.pk): token}

    page = client.get(first["Location"])
    assert page.status_code == 200
    _private_headers_hold(page)
    text = _text(page)
    assert 'id="pledge-done"' in text and report.tracking_code in text
    # The page and its forms carry no token: the session says whose pledge it is.
    assert token not in text and 'name="t"' not in text
    assert f'action="/participation/pledges/{pledge.pk}/done/"' in text

    done = client.post(f"/participation/pledges/{pledge.pk}/done/")
    assert done.status_code == 303 and done["Location"] == f"/participation/pledges/{pledge.pk}/"
    pledge.refresh_from_db()
    assert pledge.status == "done"
    assert 'id="pledge-waiting"' in _text(client.get(done["Location"]))


def test_a_second_browser_without_the_session_sees_nothing_and_cannot_act(client, pledged):
    report, pledge, token = pledged
    client.get(f"/participation/pledges/{token}/")
    mine = _text(client.get(f"/participation/pledges/{pledge.pk}/"))
    assert 'id="pledge-status"' in mine

    stranger = Client()
    for path in (f"/participation/pledges/{pledge.pk}/", f"/participation/pledges/{pledge.pk + 1000}/"):
        page = stranger.get(path)
        # The same answer whether the pledge exists or not, naming neither the report nor anyone.
        assert page.status_code == 403, path
        text = _text(page)
        assert 'id="pledge-forbidden"' in text and 'id="pledge-status"' not in text
        assert report.tracking_code not in text and NAME not in text and PHONE not in text
        assert page["Referrer-Policy"] == "same-origin"
    events = PledgeEvent.objects.count()
    assert stranger.post(f"/participation/pledges/{pledge.pk}/done/").status_code == 403
    assert stranger.post(f"/participation/pledges/{pledge.pk}/withdraw/").status_code == 403
    pledge.refresh_from_db()
    assert pledge.status == "active" and PledgeEvent.objects.count() == events
    assert PLEDGE_SESSION_KEY not in stranger.session


def test_a_session_holding_one_pledge_does_not_open_another(client, api_client, salting, city):
    first_report = _report(salting)
    first_token = _pledge(api_client, first_report).json()["token"]
    second_report = _report(salting, token="second-report-token", where=city.points.r2)
    assert _pledge(api_client, second_report).status_code == 201
    first, second = Pledge.objects.get(report=first_report), Pledge.objects.get(report=second_report)
    client.get(f"/participation/pledges/{first_token}/")
    assert client.get(f"/participation/pledges/{first.pk}/").status_code == 200
    assert client.get(f"/participation/pledges/{second.pk}/").status_code == 403
    assert client.post(f"/participation/pledges/{second.pk}/withdraw/").status_code == 403
    second.refresh_from_db()
    assert second.status == "active"


def test_a_wrong_token_opens_nothing_and_a_token_no_longer_valid_loses_the_rights(client, pledged):
    _report_, pledge, token = pledged
    for path in ("/participation/pledges/not-a-token/", f"/participation/pledges/{token}x/"):
        assert client.get(path).status_code == 404, path
        assert client.post(path + "done/").status_code == 404, path
    assert PLEDGE_SESSION_KEY not in client.session
    pledge.refresh_from_db()
    assert pledge.status == "active"

    # The token is checked again on every use: once it no longer opens the pledge (a link that was
    # replaced), the session's grant is worth nothing and is dropped.
    client.get(f"/participation/pledges/{token}/")
    assert client.get(f"/participation/pledges/{pledge.pk}/").status_code == 200
    Pledge.objects.filter(pk=pledge.pk).update(token_hash=token_hash("a-replacing-token"))
    assert client.get(f"/participation/pledges/{pledge.pk}/").status_code == 403
    assert client.session[PLEDGE_SESSION_KEY] == {}
    assert client.post(f"/participation/pledges/{pledge.pk}/done/").status_code == 403
    pledge.refresh_from_db()
    assert pledge.status == "active"


def test_a_page_of_before_the_exchange_still_works_and_lands_without_the_token(pledged):
    # Its forms post to the link itself: the token is exchanged, the step taken, the answer goes to
    # the address without it, which this browser may now open.
    _report_, pledge, token = pledged
    browser = Client()
    response = browser.post(f"/participation/pledges/{token}/withdraw/")
    assert response.status_code == 303 and response["Location"] == f"/participation/pledges/{pledge.pk}/"
    _private_headers_hold(response)
    pledge.refresh_from_db()
    assert pledge.status == "withdrawn"
    assert browser.get(response["Location"]).status_code == 200


def test_pledging_from_the_tracking_page_shows_the_private_link_once(client, salting):
    report = _report(salting)
    response = client.post(
        f"/participation/reports/{report.tracking_code}/pledge/", {"name": NAME, "contact": PHONE}
    )
    pledge = Pledge.objects.get()
    assert response.status_code == 303 and response["Location"] == f"/participation/pledges/{pledge.pk}/"
    _private_headers_hold(response)

    page = _text(client.get(response["Location"]))
    found = re.search(
        r'class="private-url"[^>]*><a href="https?://[^/"]+/participation/pledges/([\w-]+)/"', page
    )
    assert found, "the pledger's page shows the private link right after pledging"
    token = found.group(1)
    assert token_hash(token) == pledge.token_hash
    # Once: a reload shows the page without it.
    again = _text(client.get(response["Location"]))
    assert 'id="pledge-done"' in again and token not in again and 'class="private-url"' not in again

    # The link opens the pledge on another device.
    other = Client()
    opened = other.get(f"/participation/pledges/{token}/", follow=True)
    assert opened.status_code == 200 and 'id="pledge-done"' in _text(opened)
    assert [url for url, _status in opened.redirect_chain] == [f"/participation/pledges/{pledge.pk}/"]


def test_the_reporter_and_the_pledger_grants_live_side_by_side(client, pledged):
    # One browser may be both the reporter (the tracking page's link) and the pledger: each kind
    # has its own entry, and each keeps working.
    report, pledge, token = pledged
    client.get(f"/track/{report.tracking_code}/?t={REPORTER_TOKEN}")
    client.get(f"/participation/pledges/{token}/")
    assert client.session[REPORT_SESSION_KEY] == {report.tracking_code: REPORTER_TOKEN}
    assert client.session[PLEDGE_SESSION_KEY] == {str(pledge.pk): token}
    assert client.post(f"/participation/pledges/{pledge.pk}/done/").status_code == 303
    track = _text(client.get(f"/track/{report.tracking_code}/"))
    assert 'id="pledge-confirm"' in track
    # A wrong token posted with the form is refused, whatever the session holds.
    confirm = f"/participation/reports/{report.tracking_code}/pledge/confirm/"
    assert client.post(confirm, {"t": "not-the-token"}).status_code == 403
    assert client.post(confirm).status_code == 303
    report.refresh_from_db()
    assert report.status == "resolved_by_citizens"


def test_a_session_keeps_the_last_grants_of_a_kind(rf):
    from django.contrib.sessions.backends.db import SessionStore

    from issues.private_links import private_link_grant, private_link_lookup

    request = rf.get("/")
    request.session = SessionStore()
    for number in range(MAX_GRANTS + 1):
        private_link_grant(request, kind="pledge", public_id=str(number), token=f"token-{number}")
    held = request.session[PLEDGE_SESSION_KEY]
    assert len(held) == MAX_GRANTS and "0" not in held and held[str(MAX_GRANTS)] == f"token-{MAX_GRANTS}"
    assert private_link_lookup(request, kind="pledge", public_id="0", lookup=lambda token: token) is None
    assert private_link_lookup(request, kind="pledge", public_id="1", lookup=lambda token: token) == "token-1"

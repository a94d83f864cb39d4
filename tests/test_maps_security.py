"""The citizen's pages against abuse and leaks: the private link's writes are rate-limited, "me too"
counts a client address once whatever browser it claims to be, the private link's forms say that
what is added becomes public, and maps reads only through the lower apps' selectors.

The district name that must stay text in the map's tooltips is tested in a real browser
(tests/test_browser.py::test_district_names_are_text_in_map_tooltips).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from rest_framework.request import Request

from districts.selectors import district_names, district_search
from issues.models import Report, ReportEvent, ReportStatus
from issues.selectors import (
    report_private_token_valid,
    report_tracking_url,
    tracking_code_normalize,
)
from issues.throttling import client_fingerprint
from tests.test_pages import _private_token, build_town, html, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def town() -> SimpleNamespace:
    return build_town()


@pytest.fixture
def en_client() -> Client:
    client = Client()
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- The private link's writes are rate-limited ---------------------------------------------------------


def test_private_link_writes_are_limited_per_address(en_client, town, settings):
    settings.OPEN137_RATE_UPDATES = "2/hour"
    _, report = submit(en_client)
    token = _private_token(en_client, report)
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.DONE)
    info_url = f"/track/{report.tracking_code}/info/"
    feedback_url = f"/track/{report.tracking_code}/feedback/"
    # Adding information and saying whether it was fixed share one limit.
    assert en_client.post(info_url, {"t": token, "text": "first"}).status_code == 302
    assert en_client.post(feedback_url, {"t": token, "fixed": "no", "note": "still there"}).status_code == 302
    events = ReportEvent.objects.count()

    refused = en_client.post(info_url, {"t": token, "text": "third, kept in the form"})
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    page = html(refused)
    assert "Too many additions from your address. Try again in" in page
    assert "third, kept in the form</textarea>" in page  # the text is not lost
    # ... and can be sent again later: the session holds the rights, the page holds no token.
    assert token not in page and 'name="t"' not in page
    assert "Write something or add a photo" not in page  # nothing but the limit is reported
    assert refused["Referrer-Policy"] == "same-origin"  # still a page with the private link in it
    refused = en_client.post(feedback_url, {"t": token, "fixed": "yes"})
    assert refused.status_code == 429 and "Too many additions" in html(refused)
    assert ReportEvent.objects.count() == events  # nothing written

    # Another address is another client.
    other = en_client.post(info_url, {"t": token, "text": "from elsewhere"}, REMOTE_ADDR="198.51.100.61")
    assert other.status_code == 302


def test_rate_limit_message_in_persian(client, town, settings):
    settings.OPEN137_RATE_UPDATES = "1/hour"
    _, report = submit(client)
    token = _private_token(client, report)
    url = f"/track/{report.tracking_code}/info/"
    assert client.post(url, {"t": token, "text": "یک"}).status_code == 302
    refused = client.post(url, {"t": token, "text": "دو"})
    assert refused.status_code == 429
    assert "از نشانی شما افزوده‌های بیش از اندازه آمده است" in html(refused)


def test_a_wrong_token_is_refused_before_the_limit_counts(client, town, settings):
    settings.OPEN137_RATE_UPDATES = "1/hour"
    _, report = submit(client)
    token = _private_token(client, report)
    url = f"/track/{report.tracking_code}/info/"
    for _ in range(3):
        assert client.post(url, {"t": "wrong", "text": "x"}).status_code == 403
    assert client.post(url, {"t": token, "text": "real"}).status_code == 302


# --- "Me too" counts a client address once --------------------------------------------------------------


def test_me_too_from_one_address_with_two_browsers_counts_once(town):
    _, report = submit(Client())
    url = f"/track/{report.tracking_code}/support/"
    phone = Client(HTTP_USER_AGENT="Mozilla/5.0 (Android 14) phone", REMOTE_ADDR="203.0.113.5")
    laptop = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) laptop", REMOTE_ADDR="203.0.113.5")
    assert phone.post(url, HTTP_ACCEPT="application/json").json()["added"] is True
    second = laptop.post(url, HTTP_ACCEPT="application/json").json()
    assert second == {"code": report.tracking_code, "support_count": 1, "added": False}
    # The API's "me too" is the same client too.
    api = laptop.post(f"/api/reports/{report.tracking_code}/support/", HTTP_ACCEPT_LANGUAGE="en")
    assert api.status_code == 200 and api.json()["added"] is False
    # Another address counts.
    other = Client(REMOTE_ADDR="203.0.113.6").post(url, HTTP_ACCEPT="application/json").json()
    assert other["support_count"] == 2 and other["added"] is True
    report.refresh_from_db()
    assert report.support_count == 2


def _fingerprint(address: str, user_agent: str = "phone") -> str:
    request = RequestFactory().post("/", REMOTE_ADDR=address, HTTP_USER_AGENT=user_agent)
    return client_fingerprint(Request(request))


def test_fingerprint_is_the_ipv4_address_or_the_ipv6_64_prefix(settings):
    assert _fingerprint("192.0.2.10", "a") == _fingerprint("192.0.2.10", "b")
    assert _fingerprint("192.0.2.10") != _fingerprint("192.0.2.11")
    # An IPv6 subscriber picks addresses in its /64 at will: one client.
    assert _fingerprint("2001:db8:1:2::10") == _fingerprint("2001:db8:1:2:abcd:ef01:2345:6789")
    assert _fingerprint("2001:db8:1:2::10") != _fingerprint("2001:db8:1:3::10")
    # An IPv4 address mapped into IPv6 is that IPv4 address.
    assert _fingerprint("::ffff:192.0.2.10") == _fingerprint("192.0.2.10")
    # Salted with the secret key: no table of hashed addresses reverses it.
    before = _fingerprint("192.0.2.10")
    settings.SECRET_KEY = "another secret key, long enough for the checks" * 2
    assert _fingerprint("192.0.2.10") != before
    assert re.fullmatch(r"[0-9a-f]{64}", before)


# --- The private link says that what is added is public ----------------------------------------------


def test_private_forms_say_additions_are_public(client, en_client, town):
    _, report = submit(en_client)
    token = _private_token(en_client, report)
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.DONE)
    page = html(en_client.get(f"/track/{report.tracking_code}/?t={token}", follow=True))
    assert 'id="info-public-note"' in page and "Public: what you write here and your photos" in page
    assert 'id="feedback-public-note"' in page
    page = html(client.get(f"/track/{report.tracking_code}/?t={token}", follow=True))
    assert "عمومی: آنچه این‌جا می‌نویسید" in page
    # Without the private link (a browser that never opened it) there is nothing to add, and no note.
    assert "info-public-note" not in html(Client().get(f"/track/{report.tracking_code}/"))


# --- Selectors that maps reads through --------------------------------------------------------------------


def test_district_search_and_names(town):
    assert district_names() == [
        ("R1", "منطقه مرکزی", "Central Region"),
        ("R2", "منطقه شمالی", "Northern Region"),
    ]
    (match,) = district_search(text="شمالي")  # Arabic ي for Persian ی, part of the name
    assert (match.code, match.rank, match.level) == ("R2", 2, 1)
    assert 50.02 < match.lon < 50.04 and 36.26 < match.lat < 36.28  # a point inside the district
    assert [m.code for m in district_search(text="r1")] == ["R1"]  # the code, any case
    assert district_search(text="Region", limit=1)[0].code in {"R1", "R2"}
    assert district_search(text="  ") == [] and district_search(text="Airport") == []
    # The page's name for it is the same search.
    assert district_search(text="شمالي") == [match]


def test_private_token_check_and_tracking_url(client, town, settings):
    _, report = submit(client)
    token = _private_token(client, report)
    assert report_private_token_valid(report=report, token=token)
    assert not report_private_token_valid(report=report, token=token + "x")
    assert not report_private_token_valid(report=report, token="")
    assert not report_private_token_valid(report=report, token=None)
    code = report.tracking_code
    assert report_tracking_url(code=code) == f"/track/{code}/"
    settings.OPEN137_PUBLIC_URL = "https://137.example.ir"
    assert report_tracking_url(code=code, absolute=True) == f"https://137.example.ir/track/{code}/"


def test_tracking_code_normalize_keeps_only_ascii_letters_and_digits():
    assert tracking_code_normalize(" acde-fg ۳۴ ") == "ACDEFG34"
    assert tracking_code_normalize("ACDE-FGHپ") == "ACDEFGH"  # a Persian letter typed by mistake
    assert tracking_code_normalize("") == ""


def test_home_page_uses_the_shared_map_script(client, town):
    page = html(client.get("/"))
    assert page.index("maps/mapbase.js") < page.index("maps/home.js")
    assert 'data-center-lat="36.269' in page

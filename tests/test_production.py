"""Behind reverse proxies, each citizen is still one client: the write limits and the "me too" count
go by the address the outermost proxy saw (the N-th from the right of X-Forwarded-For, with
OPEN137_NUM_PROXIES=N), never by the proxy's own address and never by what the client wrote in the
header itself. The production settings that require N are tested in tests/test_settings.py.

Each request here is built as the proxies would pass it on: the client may send its own
X-Forwarded-For; every proxy appends the address it was reached from; the app sees the last proxy
as REMOTE_ADDR.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from issues.models import Report

CITIZEN_A, CITIZEN_B = "203.0.113.10", "198.51.100.20"
# The proxies, outermost first (a load balancer, then nginx on the app's machine).
PROXIES = ["10.0.0.1", "127.0.0.1"]
SPOOFS = ["192.0.2.1", "192.0.2.2, 192.0.2.3", "unknown"]


def through_proxies(n: int, client_address: str, spoofed: str | None = None) -> dict[str, str]:
    """The request's META as the app receives it behind `n` proxies."""
    chain = [client_address, *PROXIES[len(PROXIES) - n :]]  # who opened each connection, in order
    forwarded = [spoofed] if spoofed else []
    for hop in chain[:-1]:  # each proxy appends the address it was reached from
        forwarded.append(hop)
    meta = {"REMOTE_ADDR": chain[-1]}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = ", ".join(forwarded)
    return meta


@pytest.fixture
def proxies(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPEN137_RATE_REPORTS = ""
    settings.OPEN137_RATE_SUPPORT = ""

    def configure(n: int) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": n}

    return configure


def test_the_request_builder_models_the_chain():
    assert through_proxies(0, CITIZEN_A) == {"REMOTE_ADDR": CITIZEN_A}
    assert through_proxies(1, CITIZEN_A, "192.0.2.1") == {
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": f"192.0.2.1, {CITIZEN_A}",
    }
    assert through_proxies(2, CITIZEN_A) == {
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": f"{CITIZEN_A}, 10.0.0.1",
    }


def _report(client: Client, **meta: Any):
    return client.post(
        "/api/reports/",
        json.dumps({"category": "suggestion", "description": "پیشنهاد: نیمکت بیشتر در پارک"}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        **meta,
    )


@pytest.mark.parametrize("n", [0, 1, 2])
def test_each_citizen_has_its_own_write_limit_behind_n_proxies(city, proxies, settings, n):
    proxies(n)
    settings.OPEN137_RATE_REPORTS = "2/hour"
    client = Client()
    assert [_report(client, **through_proxies(n, CITIZEN_A)).status_code for _ in range(2)] == [201, 201]
    refused = _report(client, **through_proxies(n, CITIZEN_A))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # Writing another address in X-Forwarded-For does not make a new client ...
    for spoofed in SPOOFS:
        assert _report(client, **through_proxies(n, CITIZEN_A, spoofed)).status_code == 429, spoofed
    # ... while another citizen behind the same proxies is not held by the first one's limit.
    assert _report(client, **through_proxies(n, CITIZEN_B)).status_code == 201
    assert _report(client, **through_proxies(n, CITIZEN_B, CITIZEN_A)).status_code == 201
    assert _report(client, **through_proxies(n, CITIZEN_B)).status_code == 429
    assert Report.objects.count() == 4


def _created(city) -> str:
    response = _report(Client(), REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 201, response.content
    return json.loads(response.content)["code"]


@pytest.mark.parametrize("n", [0, 1, 2])
def test_me_too_counts_each_citizen_once_behind_n_proxies(city, proxies, n):
    proxies(n)
    code = _created(city)
    api, page = f"/api/reports/{code}/support/", f"/track/{code}/support/"
    client = Client()

    first = client.post(api, **through_proxies(n, CITIZEN_A))
    assert first.status_code == 200 and json.loads(first.content)["added"] is True
    # The same citizen again, by the page or claiming other addresses: still one supporter.
    again = client.post(page, HTTP_ACCEPT="application/json", **through_proxies(n, CITIZEN_A))
    assert again.status_code == 200 and json.loads(again.content)["added"] is False
    for spoofed in SPOOFS:
        response = client.post(api, **through_proxies(n, CITIZEN_A, spoofed))
        assert json.loads(response.content)["added"] is False, spoofed
    # Another citizen behind the same proxies is a second supporter, even sending A's address.
    other = client.post(page, HTTP_ACCEPT="application/json", **through_proxies(n, CITIZEN_B, CITIZEN_A))
    assert json.loads(other.content) == {"code": code, "support_count": 2, "added": True}
    assert Report.objects.get(tracking_code=code).support_count == 2


def test_too_few_proxies_configured_makes_the_whole_city_one_client(city, proxies, settings):
    # What the production default used to do behind nginx: every citizen is nginx's address. This
    # is why OPEN137_NUM_PROXIES is now required in production.
    proxies(0)
    settings.OPEN137_RATE_REPORTS = "1/hour"
    client = Client()
    assert _report(client, **through_proxies(1, CITIZEN_A)).status_code == 201
    assert _report(client, **through_proxies(1, CITIZEN_B)).status_code == 429

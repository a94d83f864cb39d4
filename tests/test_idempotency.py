"""Idempotency keys and the private token: the token is random, not derived from the key, and a
replay of the same submission gets the first answer's token back while the key lives (kept sealed
on the report, emptied after); each entrance (web form, report API, Open311 per client) has its own
key namespace, so no client can claim another entrance's key. Real PostGIS, the conftest's `city`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from issues.formats import token_hash
from issues.models import Report
from issues.open311.services import api_key_create
from issues.services.submission import (
    private_token_seal,
    private_token_unseal,
    report_submit,
    submission_tokens_forget,
)
from tests.conftest import pt

LAT, LON = 36.2675, 50.0075  # inside S11 (and R1)


@pytest.fixture(autouse=True)
def _no_limits(settings, tmp_path):
    settings.OPEN137_RATE_REPORTS = ""
    settings.OPEN137_RATE_OPEN311 = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPEN137_SMS_LOG_FILE = tmp_path / "sms.log"
    settings.OPEN137_SMS_BACKEND = "log"


@pytest.fixture
def client_key(city) -> tuple[int, str]:
    """An Open311 client: (its API key's id, the key it sends)."""
    api_key, key = api_key_create(name="Idempotency test app")
    return api_key.pk, key


def derived(secret: str, key: str) -> str:
    """The token as it used to be derived from the key (HMAC-SHA256 of SECRET_KEY)."""
    digest = hmac.new(secret.encode(), f"private-token:{key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:24]


def submit(city, key: str | None, description: str = "چاله عمیق", **kwargs: Any):
    return report_submit(
        category=city.pothole, location=pt(LON, LAT), description=description, idempotency_key=key, **kwargs
    )


def api_post(key: str, description: str = "چاله جلوی مدرسه"):
    data = {"category": "pothole", "lat": LAT, "lon": LON, "description": description}
    response = APIClient(HTTP_ACCEPT_LANGUAGE="en").post(
        "/api/reports/", data, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    return response.status_code, json.loads(response.content)


def open311_post(api_key: str, key: str, description: str = "چاله کنار پارک"):
    data = {
        "api_key": api_key,
        "service_code": "pothole",
        "lat": LAT,
        "long": LON,
        "description": description,
    }
    response = Client().post(
        "/open311/v2/requests.json",
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT_LANGUAGE="en",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    return response.status_code, json.loads(response.content)


# --- The token ---------------------------------------------------------------------------------------


def test_the_token_cannot_be_derived_from_the_key(city, settings):
    key = "f6a1e1c2-0c1b-4d7e-9a51-5a2f7d7b0e11"
    first = submit(city, key)
    token = first.private_token
    assert token and len(token) == 24
    # Whoever knows the key (a log) and SECRET_KEY cannot compute it, under any namespace.
    for candidate in (key, f"web:{key}", f"api:{key}"):
        assert token != derived(settings.SECRET_KEY, candidate)
    # Another submission with another key: unrelated tokens (nothing in common but randomness).
    assert submit(city, str(uuid.uuid4()), description="چاله دیگر").private_token != token
    # Not in the database in clear: only its hash, and the sealed copy for replays.
    report = Report.objects.get(pk=first.report.pk)
    assert report.private_token_hash == token_hash(token)
    assert report.private_token_sealed and token not in report.private_token_sealed
    stored = json.dumps(list(Report.objects.filter(pk=report.pk).values()), default=str)
    assert token not in stored


def test_a_replay_returns_the_same_token(city):
    key = str(uuid.uuid4())
    first = submit(city, key)
    again = submit(city, key)
    assert (first.created, again.created) == (True, False)
    assert again.report.pk == first.report.pk and again.private_token == first.private_token


def test_an_api_replay_returns_the_same_token(city):
    status, body = api_post("replay-1")
    status_again, again = api_post("replay-1")
    assert (status, status_again) == (201, 200)
    assert again["code"] == body["code"] and again["private_token"] == body["private_token"]
    assert Report.objects.get().private_token_hash == token_hash(body["private_token"])


def test_a_replay_after_the_keys_lifetime_gets_the_report_without_the_token(city, settings):
    key = str(uuid.uuid4())
    first = submit(city, key)
    late = timezone.now() - timedelta(seconds=settings.OPEN137_IDEMPOTENCY_REPLAY_SECONDS + 60)
    Report.objects.filter(pk=first.report.pk).update(created_at=late)
    newer = submit(city, str(uuid.uuid4()), description="چاله تازه")
    # Still the same report (no duplicate), but the first answer is no longer kept.
    again = submit(city, key)
    assert again.report.pk == first.report.pk and not again.created and again.private_token is None
    # The hourly job empties the sealed copies whose window has closed, and only those.
    assert submission_tokens_forget() == 1
    assert Report.objects.get(pk=first.report.pk).private_token_sealed is None
    assert Report.objects.get(pk=newer.report.pk).private_token_sealed
    assert submit(city, key).private_token is None


def test_the_sealed_token_survives_a_secret_key_rotation_and_nothing_else(city, settings):
    token = "a" * 24
    sealed = private_token_seal(token)
    assert private_token_unseal(sealed, token_hash_stored=token_hash(token)) == token
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    assert private_token_unseal(sealed, token_hash_stored=token_hash(token)) is None
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert private_token_unseal(sealed, token_hash_stored=token_hash(token)) == token
    # An altered row gives no token, nor a stored hash of another token.
    assert private_token_unseal(sealed[:-4] + "AAAA", token_hash_stored=token_hash(token)) is None
    assert private_token_unseal(sealed, token_hash_stored=token_hash("b" * 24)) is None
    assert private_token_unseal("not sealed", token_hash_stored=token_hash(token)) is None


# --- One namespace per entrance ------------------------------------------------------------------------


def test_an_api_key_shaped_like_open311s_does_not_touch_an_open311_report(city, client_key):
    key_id, api_key = client_key
    status, body = open311_post(api_key, "abc")
    assert status == 200, body
    open311_code = body[0]["service_request_id"]
    # An API client sends the key Open311's report is stored under, with the very same submission
    # (all of it public for an anonymous report): a report of its own, not Open311's (nor its token).
    status, reply = api_post(f"open311:{key_id}:abc", description="چاله کنار پارک")
    assert status == 201, reply
    assert reply["code"] != open311_code
    assert Report.objects.get(tracking_code=open311_code).idempotency_key == f"open311:{key_id}:abc"
    assert Report.objects.get(tracking_code=reply["code"]).idempotency_key == f"api:open311:{key_id}:abc"


def test_an_open311_key_does_not_touch_an_api_report_shaped_like_it(city, client_key):
    key_id, api_key = client_key
    status, reply = api_post(f"open311:{key_id}:xyz")
    assert status == 201, reply
    # Open311's client then uses "xyz": a report of its own, not a conflict with the API's.
    status, body = open311_post(api_key, "xyz")
    assert status == 200, body
    assert body[0]["service_request_id"] != reply["code"]
    assert {r.idempotency_key for r in Report.objects.all()} == {
        f"api:open311:{key_id}:xyz",
        f"open311:{key_id}:xyz",
    }


def test_the_web_form_and_the_api_have_their_own_keys(city):
    key = str(uuid.uuid4())
    web = report_submit(category=city.pothole, location=pt(LON, LAT), description="x", idempotency_key=key)
    status, reply = api_post(key, description="x")
    assert status == 201 and reply["code"] != web.report.tracking_code
    assert web.report.idempotency_key == f"web:{key}"
    assert Report.objects.get(tracking_code=reply["code"]).idempotency_key == f"api:{key}"


def test_the_api_accepts_any_visible_ascii_key(city):
    key = "x" * 128  # the longest, with its namespace still within the column
    status, _ = api_post(key)
    assert status == 201
    assert Report.objects.get().idempotency_key == f"api:{key}"
    status, body = api_post("has space")
    assert status == 400 and "Idempotency-Key" in json.dumps(body)

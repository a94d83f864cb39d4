"""The database away for a moment (a restart, a fail-over): the API answers 503 with Retry-After, not
a 500, and writes nothing; the client's retry with the same Idempotency-Key files the report once.
`make stress` restarts a real PostgreSQL under load; here the outage is a query that fails."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from django.db import InterfaceError, OperationalError, connection
from rest_framework.test import APIClient

from issues.models import OutboxMessage, Report, ReportEvent

pytestmark = pytest.mark.django_db

LAT, LON = 36.2675, 50.0075  # inside S11 (and R1)


@pytest.fixture(autouse=True)
def _no_limits(settings, tmp_path):
    settings.OPEN137_RATE_REPORTS = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPEN137_SMS_LOG_FILE = tmp_path / "sms.log"
    settings.OPEN137_SMS_BACKEND = "log"


@contextlib.contextmanager
def database_down(error: type[Exception], *, when: str = "") -> Iterator[None]:
    """Every statement (or the first one containing `when`) fails as a lost connection does."""

    def fail(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if when in sql:
            raise error("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        yield


def post(client: APIClient, key: str):
    body = {"category": "pothole", "lat": LAT, "lon": LON, "description": "چاله عمیق", "phone": "09121234567"}
    return client.post(
        "/api/reports/", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_lost_database_is_a_503_with_retry_after_and_the_retry_files_once(city, error):
    client = APIClient()
    with database_down(error, when="INSERT"):
        answer = post(client, "outage-1")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "2"
    assert answer["Content-Type"].startswith("application/json") and answer.json()["error"]
    assert Report.objects.count() == 0 and OutboxMessage.objects.count() == 0

    again = post(client, "outage-1")
    assert again.status_code == 201
    replay = post(client, "outage-1")
    assert replay.status_code == 200 and replay.json()["code"] == again.json()["code"]
    report = Report.objects.get()
    assert report.idempotency_key == "api:outage-1"
    assert ReportEvent.objects.filter(report=report, kind="created").count() == 1
    assert OutboxMessage.objects.filter(report=report).count() == 1


def test_reads_answer_503_too(city):
    with database_down(OperationalError):
        answer = APIClient().get("/api/reports/")
    assert answer.status_code == 503 and answer["Retry-After"] == "2"

"""Messages to citizens: the outbox rows and their jobs are written with the report or not at all;
sending marks them sent once, a failing gateway is retried and finally gives up. Real PostGIS, real
procrastinate tables; the mail goes to Django's test outbox or the console, SMS to the log backend,
a broken test backend, or a real local HTTP server."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.db import transaction
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.jobs import Job

from districts.services import department_create
from issues.models import Category, OutboxMessage, Report
from issues.notifications import phone_normalise
from issues.outbox import outbox_message_send
from issues.services.submission import report_submit
from issues.tasks import OutboxRetry, outbox_send

PUBLIC = "https://137.qazvin.example"


@pytest.fixture(autouse=True)
def outbox_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.OPEN137_SMS_LOG_FILE = tmp_path / "sms.log"
    settings.OPEN137_SMS_BACKEND = "log"
    settings.OPEN137_PUBLIC_URL = PUBLIC
    settings.OPEN137_OUTBOX_MAX_ATTEMPTS = 5
    return settings


@pytest.fixture
def category(db) -> Category:
    department = department_create(code="urban", name_fa="خدمات شهری", name_en="Urban services")
    return Category.objects.create(
        code="streetlight",
        name_fa="چراغ خاموش",
        name_en="Streetlight out",
        department=department,
        location_required=False,
    )


def submit(category: Category, **kwargs: object):
    kwargs.setdefault("reporter_phone", "۰۹۱۲ ۱۲۳-۴۵۶۷")  # typed on a Persian keyboard
    kwargs.setdefault("reporter_email", "citizen@example.ir")
    return report_submit(category=category, location=None, description="چراغ کوچه خاموش است", **kwargs)  # type: ignore[arg-type]


def jobs_for(messages) -> list[ProcrastinateJob]:
    ids = {m.pk for m in messages}
    return [
        j
        for j in ProcrastinateJob.objects.filter(task_name="issues.outbox_send")
        if j.args["message_id"] in ids
    ]


class BrokenSms:
    """An SMS gateway that is down."""

    calls = 0

    def send(self, *, to: str, text: str) -> None:
        BrokenSms.calls += 1
        raise ConnectionError("gateway unreachable")


class CountingSms:
    sent: list[tuple[str, str]] = []

    def send(self, *, to: str, text: str) -> None:
        CountingSms.sent.append((to, text))


def test_a_report_with_phone_and_email_writes_two_messages_and_two_jobs(category):
    submission = submit(category)
    report, code, token = submission.report, submission.report.tracking_code, submission.private_token
    messages = list(OutboxMessage.objects.filter(report=report).order_by("channel"))
    assert [(m.channel, m.recipient, m.status, m.attempts) for m in messages] == [
        ("email", "citizen@example.ir", "pending", 0),
        ("sms", "09121234567", "pending", 0),
    ]
    for message in messages:
        # The code on a line of its own, the tracking page, the private link; Persian first, then English.
        assert f"\n{code}\n" in message.body
        assert f"{PUBLIC}/track/{code}/\n" in message.body
        assert f"{PUBLIC}/track/{code}/?t={token}" in message.body
        assert message.body.startswith(("سامانه ۱۳۷", "شهروند گرامی"))
        assert f"Tracking code: {code}" in message.body.splitlines()[-1 if message.channel == "sms" else -2]
    assert code in messages[0].subject
    jobs = jobs_for(messages)
    assert sorted(j.args["message_id"] for j in jobs) == sorted(m.pk for m in messages)
    assert {(j.queue_name, j.status, j.attempts) for j in jobs} == {("outbox", "todo", 0)}


def test_no_contact_no_message(category):
    submit(category, reporter_phone="", reporter_email="")
    assert not OutboxMessage.objects.exists()
    assert not ProcrastinateJob.objects.filter(task_name="issues.outbox_send").exists()


def test_messages_and_jobs_roll_back_with_the_report(category):
    jobs_before = ProcrastinateJob.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        submit(category)
        assert OutboxMessage.objects.count() == 2 and ProcrastinateJob.objects.count() == jobs_before + 2
        raise RuntimeError("something later in the same transaction failed")
    assert not Report.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert ProcrastinateJob.objects.count() == jobs_before

    # A bad photo refuses the whole report: no message either.
    with pytest.raises(ValidationError):
        submit(category, photos=[SimpleUploadedFile("photo.jpg", b"not a photo", content_type="image/jpeg")])
    assert not Report.objects.exists() and not OutboxMessage.objects.exists()
    assert ProcrastinateJob.objects.count() == jobs_before


def test_sending_marks_sent_and_the_backends_receive_the_code(category, outbox_settings, caplog):
    submission = submit(category)
    code, token = submission.report.tracking_code, submission.private_token
    caplog.set_level("INFO", logger="open137.sms")
    out = io.StringIO()
    call_command("outbox_send", stdout=out)
    assert "2 pending message(s): 2 sent" in out.getvalue()

    assert [m.status for m in OutboxMessage.objects.all()] == ["sent", "sent"]
    assert all(m.sent_at and m.attempts == 1 and not m.last_error for m in OutboxMessage.objects.all())
    # E-mail: plain text and an HTML part in which the code is big.
    (email,) = mail.outbox
    assert email.to == ["citizen@example.ir"] and code in email.subject and f"?t={token}" in email.body
    assert isinstance(email, EmailMultiAlternatives)
    html, mimetype = email.alternatives[0]
    assert isinstance(html, str)
    assert mimetype == "text/html" and 'dir="rtl"' in html and "font-size:32px" in html and code in html
    # SMS: the log backend wrote it to the logger and the file, the private link's token hidden.
    assert code in caplog.text and f"/track/{code}/?t=…" in caplog.text and token not in caplog.text
    log = outbox_settings.OPEN137_SMS_LOG_FILE.read_text(encoding="utf-8")
    assert "to 09121234567" in log and f"\n{code}\n" in log and "سامانه ۱۳۷" in log
    assert f"{PUBLIC}/track/{code}/\n" in log and f"/track/{code}/?t=…" in log and token not in log
    # Once sent, the stored copy no longer holds a working private link.
    for message in OutboxMessage.objects.all():
        assert token not in message.body and f"/track/{code}/?t=…" in message.body and code in message.body


def test_the_console_email_backend_prints_the_code(category, settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    code = submit(category, reporter_phone="").report.tracking_code
    capsys.readouterr()
    (message,) = OutboxMessage.objects.all()
    outbox_send(message.pk)  # the procrastinate task itself, as the worker calls it
    printed = capsys.readouterr().out
    assert "To: citizen@example.ir" in printed and f"\n{code}\n" in printed
    message.refresh_from_db()
    assert message.status == "sent"


def test_sending_twice_sends_once(category, settings):
    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.CountingSms"
    CountingSms.sent.clear()
    submit(category)
    first = call_command("outbox_send", stdout=io.StringIO())
    ids = list(OutboxMessage.objects.values_list("pk", flat=True))
    for pk in ids:  # the worker's jobs arrive after the command already sent them
        outbox_send(pk)
        result = outbox_message_send(message_id=pk)
        assert result.status == "sent" and not result.sent_now
    call_command("outbox_send", stdout=io.StringIO())
    assert first is None
    assert len(CountingSms.sent) == 1 and len(mail.outbox) == 1
    assert [m.attempts for m in OutboxMessage.objects.all()] == [1, 1]
    assert outbox_message_send(message_id=10**9).status is None  # gone (report deleted): nothing to do


def test_a_failing_gateway_is_retried_then_gives_up(category, settings):
    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.BrokenSms"
    BrokenSms.calls = 0
    submit(category, reporter_email="")
    (message,) = OutboxMessage.objects.all()

    for attempt in range(1, 5):
        with pytest.raises(OutboxRetry, match="gateway unreachable"):
            outbox_send(message.pk)  # the job fails, so procrastinate schedules it again
        message.refresh_from_db()
        assert (message.status, message.attempts) == ("pending", attempt)
        assert message.last_error == "ConnectionError: gateway unreachable"
    outbox_send(message.pk)  # the fifth and last attempt: the job ends, the message is failed
    message.refresh_from_db()
    assert (message.status, message.attempts, BrokenSms.calls) == ("failed", 5, 5)
    # A failed message is not tried again by anyone.
    outbox_send(message.pk)
    call_command("outbox_send", stdout=io.StringIO())
    assert BrokenSms.calls == 5


def test_the_job_retry_strategy_matches_the_outbox_attempts():
    strategy = app.tasks["issues.outbox_send"].retry_strategy
    assert strategy is not None

    def decision(attempts: int):
        job = Job(
            queue="outbox", lock=None, queueing_lock=None, task_name="issues.outbox_send", attempts=attempts
        )
        return strategy.get_retry_decision(exception=OutboxRetry("down"), job=job)

    # Runs 1-4 fail and are retried after 8, 64, 512, 4096 s; run 5 is the last.
    waits = [decision(n) for n in range(5)]
    assert all(w is not None for w in waits[:4]) and waits[4] is None
    gaps = [w.retry_at for w in waits[:4]]  # type: ignore[union-attr]
    assert all(b > a for a, b in zip(gaps, gaps[1:], strict=False))


def test_the_command_records_failures_and_keeps_them_pending(category, settings):
    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.BrokenSms"
    submit(category)
    out, err = io.StringIO(), io.StringIO()
    call_command("outbox_send", stdout=out, stderr=err)
    assert "2 pending message(s): 1 sent, 1 failed this time (to be retried)" in out.getvalue()
    assert "gateway unreachable" in err.getvalue()
    sms = OutboxMessage.objects.get(channel="sms")
    assert (sms.status, sms.attempts) == ("pending", 1)


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[dict, str | None]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Gateway.received.append((json.loads(body), self.headers.get("Authorization")))
        self.send_response(_Gateway.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def gateway():
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Gateway.received.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    server.shutdown()
    server.server_close()


def test_the_http_sms_backend_posts_to_the_gateway(category, settings, gateway):
    settings.OPEN137_SMS_BACKEND = "http"
    settings.OPEN137_SMS_URL = gateway
    settings.OPEN137_SMS_API_KEY = "k-123"
    code = submit(category, reporter_email="").report.tracking_code
    (message,) = OutboxMessage.objects.all()

    _Gateway.status = 503  # the gateway is overloaded
    result = outbox_message_send(message_id=message.pk)
    assert result.retry and "503" in result.error
    _Gateway.status = 200
    assert outbox_message_send(message_id=message.pk).sent_now
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    payload, auth = _Gateway.received[-1]
    assert payload["to"] == "09121234567" and code in payload["text"] and auth == "Bearer k-123"


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("۰۹۱۲ ۱۲۳ ۴۵۶۷", "09121234567"),
        ("+98 (912) 123-4567", "+989121234567"),
        ("٠٩١٢١٢٣٤٥٦٧", "09121234567"),
        (" ", ""),
    ],
)
def test_phone_numbers_are_normalised(typed, normalised):
    assert phone_normalise(typed) == normalised


@pytest.fixture
def worker(monkeypatch):
    """Runs procrastinate's real worker, as `manage.py procrastinate worker` does (its own psycopg
    connection, the task in a thread with its own Django connection), until the queue is empty."""
    from django.db import connections

    # The task thread's Django connection is closed after each job, so the test database can be
    # dropped at the end of the session.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)

    def run() -> None:
        connector = app.connector
        assert isinstance(connector, DjangoConnector)
        with_worker_connector = app.with_connector(connector.get_worker_connector())
        with_worker_connector.run_worker(
            wait=False,
            queues=["outbox"],
            listen_notify=False,
            install_signal_handlers=False,
            delete_jobs="never",
        )

    yield run
    with connections["default"].cursor() as cursor:  # job rows are not flushed with Django's tables
        cursor.execute("DELETE FROM procrastinate_jobs")


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_and_schedules_retries(category, settings, worker):
    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.BrokenSms"
    BrokenSms.calls = 0
    code = submit(category).report.tracking_code  # committed: the worker sees it
    worker()
    email = OutboxMessage.objects.get(channel="email")
    sms = OutboxMessage.objects.get(channel="sms")
    assert (email.status, email.attempts) == ("sent", 1) and code in mail.outbox[0].body
    assert (sms.status, sms.attempts, BrokenSms.calls) == ("pending", 1, 1)
    (email_job,) = jobs_for([email])
    (sms_job,) = jobs_for([sms])
    assert email_job.status == "succeeded"
    # The failed job waits for its retry (8 s later): not run again by this pass of the worker.
    assert (sms_job.status, sms_job.attempts) == ("todo", 1) and sms_job.scheduled_at is not None

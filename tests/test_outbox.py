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
from procrastinate.periodic import PeriodicRegistry

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

    idempotency_keys: list[str | None] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Gateway.received.append((json.loads(body), self.headers.get("Authorization")))
        _Gateway.idempotency_keys.append(self.headers.get("Idempotency-Key"))
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
    _Gateway.idempotency_keys.clear()
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
    # The retry carried the first attempt's idempotency key: a gateway that keeps keys sends it once
    # even if it had accepted the first attempt and only its answer was lost.
    assert _Gateway.idempotency_keys == [str(message.idempotency_key)] * 2


def test_each_message_has_its_own_idempotency_key(category):
    submit(category)
    submit(category)
    keys = list(OutboxMessage.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == 4 and len(set(keys)) == 4 and all(k is not None for k in keys)


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
        # The periodic tasks (the outbox's requeue among them) are deferred only when a test runs them.
        with_worker_connector.periodic_registry = PeriodicRegistry()
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


# --- Sending under a lease: no lock held while the gateway works, no sender stuck, none lost ------


class HangingSms:
    """An SMS gateway that takes the message and never answers (until the test lets it go)."""

    release = threading.Event()
    delivered: list[str] = []

    def send(self, *, to: str, text: str) -> None:
        HangingSms.release.wait(5)
        HangingSms.delivered.append(to)


class SlowSms:
    """A gateway that answers when the test says so; `entered` is set while it works."""

    entered = threading.Event()
    release = threading.Event()
    calls = 0

    def send(self, *, to: str, text: str) -> None:
        SlowSms.calls += 1
        SlowSms.entered.set()
        assert SlowSms.release.wait(10), "the test never released the gateway"


@pytest.fixture
def committed():
    """For tests whose rows are committed (a second connection must see them): the job rows are not
    flushed with Django's tables."""
    from django.db import connections

    yield
    with connections["default"].cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")


def in_thread(target, *args: object) -> tuple[threading.Thread, list]:
    """Run `target` in a thread of its own (its own database connection, closed at the end)."""
    from django.db import connections

    out: list = []

    def run() -> None:
        try:
            out.append(target(*args))
        except BaseException as exc:  # handed to the test
            out.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_every_gateway_call_has_a_deadline(settings):
    from django.core.mail.backends.smtp import EmailBackend

    # Django's SMTP connection waits for ever unless EMAIL_TIMEOUT says otherwise.
    assert EmailBackend().timeout == settings.OPEN137_EMAIL_TIMEOUT > 0
    assert 0 < settings.OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS < settings.OPEN137_OUTBOX_LEASE_SECONDS


def test_a_hanging_gateway_is_cut_by_the_timeout_and_the_message_retried(category, settings):
    import time

    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.HangingSms"
    settings.OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS = 0.3
    HangingSms.release.clear()
    HangingSms.delivered.clear()
    submit(category, reporter_email="")
    (message,) = OutboxMessage.objects.all()

    started = time.monotonic()
    with pytest.raises(OutboxRetry, match="GatewayTimeout"):
        outbox_send(message.pk)  # the job gives up on the call and is retried later
    assert time.monotonic() - started < 3
    message.refresh_from_db()
    assert (message.status, message.attempts, message.lease_until) == ("pending", 1, None)
    assert "did not answer within 0.3 s" in message.last_error
    HangingSms.release.set()  # the stalled call ends some time later

    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.CountingSms"
    CountingSms.sent.clear()
    outbox_send(message.pk)  # the retry
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2) and len(CountingSms.sent) == 1


@pytest.mark.django_db(transaction=True)
def test_no_lock_is_held_while_the_gateway_works_and_a_second_sender_leaves_it(category, settings, committed):
    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.SlowSms"
    SlowSms.entered.clear()
    SlowSms.release.clear()
    SlowSms.calls = 0
    submit(category, reporter_email="")  # committed: the sender's own connection sees it
    (message,) = OutboxMessage.objects.all()

    sender, out = in_thread(lambda: outbox_message_send(message_id=message.pk))
    try:
        assert SlowSms.entered.wait(5)
        # While the gateway works, another connection reads and updates the row without waiting.
        with transaction.atomic():
            row = OutboxMessage.objects.select_for_update(nowait=True).get(pk=message.pk)
            assert (row.status, row.attempts) == ("sending", 1) and row.lease_until and row.sending_since
            OutboxMessage.objects.filter(pk=message.pk).update(subject="read during the send")
        # A second sender (another worker, the command) finds it leased and leaves it.
        second = outbox_message_send(message_id=message.pk)
        assert second.busy and second.status == "sending" and not second.sent_now and not second.retry
        assert SlowSms.calls == 1
    finally:
        SlowSms.release.set()
        sender.join(10)
    (result,) = out
    assert result.sent_now and result.status == "sent"
    message.refresh_from_db()
    assert (message.status, message.attempts, message.lease_until) == ("sent", 1, None)
    assert SlowSms.calls == 1


@pytest.mark.django_db(transaction=True)
def test_a_sender_skips_a_message_another_is_taking_rather_than_wait(category, settings, committed):
    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.CountingSms"
    CountingSms.sent.clear()
    submit(category, reporter_email="")
    (message,) = OutboxMessage.objects.all()
    locked, unlock = threading.Event(), threading.Event()

    def hold_the_row() -> None:  # another sender, in the middle of taking the message
        with transaction.atomic():
            OutboxMessage.objects.select_for_update().get(pk=message.pk)
            locked.set()
            unlock.wait(8)

    holder, _ = in_thread(hold_the_row)
    try:
        assert locked.wait(5)
        sender, out = in_thread(lambda: outbox_message_send(message_id=message.pk))
        sender.join(4)
        assert not sender.is_alive(), "the second sender waited for the lock (no SKIP LOCKED)"
        (result,) = out
        assert result.busy and not result.sent_now and not result.retry and CountingSms.sent == []
    finally:
        unlock.set()
        holder.join(10)
    # Once the other one is done (here: it let go without sending), the message is sent.
    assert outbox_message_send(message_id=message.pk).sent_now and len(CountingSms.sent) == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_whose_worker_died_mid_send_is_sent_by_the_periodic_requeue(category, settings, worker):
    from datetime import timedelta

    from asgiref.sync import async_to_sync
    from django.db import connection
    from django.utils import timezone

    from issues.tasks import outbox_requeue

    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.CountingSms"
    CountingSms.sent.clear()
    code = submit(category).report.tracking_code
    email = OutboxMessage.objects.get(channel="email")
    sms = OutboxMessage.objects.get(channel="sms")
    (email_job,) = jobs_for([email])
    (sms_job,) = jobs_for([sms])
    # The e-mail's worker was killed during the SMTP call: the row is `sending`, its lease ran out,
    # and its job stays `doing` with no live worker.
    before = timezone.now() - timedelta(minutes=5)
    OutboxMessage.objects.filter(pk=email.pk).update(
        status="sending", attempts=1, sending_since=before, lease_until=before + timedelta(seconds=120)
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", [email_job.id])
        # The SMS's job is gone (a sender that found it busy ended its job, then that sender died).
        cursor.execute("DELETE FROM procrastinate_jobs WHERE id = %s", [sms_job.id])

    worker()  # nothing to run: both messages are stranded
    assert len(mail.outbox) == 0 and CountingSms.sent == []

    assert (
        async_to_sync(outbox_requeue.func)(timestamp=0) == 1
    )  # one new job (the SMS's); the e-mail's retried
    email.refresh_from_db()
    assert email.status == "pending"
    worker()
    email.refresh_from_db()
    sms.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 2) and code in mail.outbox[0].body
    assert (sms.status, sms.attempts) == ("sent", 1) and len(CountingSms.sent) == 1
    # Nothing left to requeue, and a second run defers nothing.
    assert async_to_sync(outbox_requeue.func)(timestamp=0) == 0


def test_a_lease_that_ran_out_on_the_last_attempt_fails_the_message(category, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.OPEN137_SMS_BACKEND = "tests.test_outbox.CountingSms"
    CountingSms.sent.clear()
    submit(category, reporter_email="")
    (message,) = OutboxMessage.objects.all()
    OutboxMessage.objects.filter(pk=message.pk).update(
        status="sending", attempts=5, lease_until=timezone.now() - timedelta(seconds=1)
    )
    result = outbox_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert (result.status, message.status, message.attempts) == ("failed", "failed", 5)
    assert "may not have gone out" in message.last_error and CountingSms.sent == []

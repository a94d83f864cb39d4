"""Sending the outbox: the SMS and e-mail gateways, and one message sent with its outcome recorded.

The worker's job (issues/tasks.py) and `manage.py outbox_send` call `outbox_message_send`; the
messages themselves are composed and queued by issues/notifications.py, in the transaction of the
change they tell about. This module imports neither, so the job module can import it.
"""

from __future__ import annotations

import html
import inspect
import json
import logging
import re
import threading
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django import db
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from issues.models import OutboxMessage

logger = logging.getLogger("open137.outbox")
sms_logger = logging.getLogger("open137.sms")

SMS_HTTP_TIMEOUT_S = 10
# The worker's job that sends one message (issues/tasks.py; named here, as this module cannot import it).
OUTBOX_SEND_TASK = "issues.outbox_send"
# The most messages one run of the periodic requeue defers jobs for; the next run takes the rest.
OUTBOX_REQUEUE_BATCH = 1000
# The private link lets whoever holds it add to the report and confirm a fix; once the message has
# gone out, the stored copy no longer needs it (the report itself keeps only the token's hash).
_PRIVATE_TOKEN = re.compile(r"([?&]t=)[A-Za-z0-9_\-%.~]+")
REDACTED = "…"


def _redacted(body: str) -> str:
    return _PRIVATE_TOKEN.sub(rf"\g<1>{REDACTED}", body)


def _email_html(*, body: str, code: str) -> str:
    """The e-mail's HTML part: the same text, right to left, with the tracking code big."""
    lines = []
    for line in body.split("\n"):
        text = html.escape(line)
        if code and line == code:
            lines.append(
                '<p style="font-size:32px;font-weight:bold;letter-spacing:4px;direction:ltr;'
                f'text-align:center;font-family:monospace;margin:12px 0">{text}</p>'
            )
        elif line.startswith(("http://", "https://")):
            lines.append(f'<p style="direction:ltr;text-align:left"><a href="{text}">{text}</a></p>')
        elif line.isascii() and line:
            lines.append(f'<p dir="ltr" style="text-align:left">{text}</p>')
        else:
            lines.append(f"<p>{text}</p>" if line else "")
    return (
        '<!doctype html><html lang="fa" dir="rtl"><body style="font-family:Tahoma,sans-serif">'
        + "\n".join(lines)
        + "</body></html>"
    )


class SmsBackend(Protocol):
    """`send` may also take `idempotency_key` (a str, the same on every attempt at one message): a
    backend whose gateway deduplicates by it declares the argument, and receives it."""

    def send(self, *, to: str, text: str) -> None: ...


class LogSmsBackend:
    """The demo's SMS gateway: the message goes to the `open137.sms` logger and to a file, with the
    private link's token hidden (logs are read by more people than the citizen; the tracking code
    and the public link stay). Production refuses it: it sends nothing."""

    def send(self, *, to: str, text: str) -> None:
        text = _redacted(text)
        sms_logger.info("SMS to %s:\n%s", to, text)
        path = settings.OPEN137_SMS_LOG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"--- {timezone.now().isoformat()} to {to}\n{text}\n")


class HttpSmsBackend:
    """A gateway reached by an HTTP POST of JSON {"to", "text"} with a bearer key and an
    `Idempotency-Key` header, the same on every attempt at one message: a gateway that keeps keys
    sends a retried message once even when its first answer was lost. A provider with another API
    gets its own small class, named by its dotted path in OPEN137_SMS_BACKEND."""

    def send(self, *, to: str, text: str, idempotency_key: str = "") -> None:
        url = settings.OPEN137_SMS_URL
        if not url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("OPEN137_SMS_URL must be an http(s) URL for the http SMS backend.")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {settings.OPEN137_SMS_API_KEY}",
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        request = urllib.request.Request(
            url,
            data=json.dumps({"to": to, "text": text}, ensure_ascii=False).encode(),
            method="POST",
            headers=headers,
        )
        # A non-2xx answer raises HTTPError: recorded on the row, and retried.
        with urllib.request.urlopen(request, timeout=SMS_HTTP_TIMEOUT_S) as response:  # noqa: S310
            response.read()


SMS_BACKENDS: dict[str, type] = {"log": LogSmsBackend, "http": HttpSmsBackend}


def sms_backend_get() -> SmsBackend:
    name: str = settings.OPEN137_SMS_BACKEND
    backend_class = SMS_BACKENDS.get(name) or import_string(name)
    backend: SmsBackend = backend_class()
    return backend


def _takes_idempotency_key(backend: SmsBackend) -> bool:
    parameters = inspect.signature(backend.send).parameters.values()
    return any(p.name == "idempotency_key" or p.kind is p.VAR_KEYWORD for p in parameters)


def _deliver(message: OutboxMessage) -> None:
    if message.channel == OutboxMessage.Channel.SMS:
        backend = sms_backend_get()
        if _takes_idempotency_key(backend):
            backend.send(  # type: ignore[call-arg]
                to=message.recipient, text=message.body, idempotency_key=str(message.idempotency_key)
            )
        else:
            backend.send(to=message.recipient, text=message.body)
    elif message.channel == OutboxMessage.Channel.EMAIL:
        code = message.report.tracking_code if message.report else ""
        send_mail(
            message.subject,
            message.body,
            settings.DEFAULT_FROM_EMAIL,
            [message.recipient],
            html_message=_email_html(body=message.body, code=code),
            fail_silently=False,
        )
    else:
        raise ValueError(f"Unknown outbox channel {message.channel!r}")


class GatewayTimeout(Exception):
    """A gateway call did not return within OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS."""


def _deliver_within(message: OutboxMessage, *, seconds: float) -> None:
    """Deliver, or raise GatewayTimeout after `seconds`. The SMTP and HTTP backends have socket
    timeouts of their own (EMAIL_TIMEOUT, SMS_HTTP_TIMEOUT_S); this deadline also holds for a gateway
    class that has none. A call cut off this way may still complete later, in its abandoned thread:
    the message is retried, so it is sent at least once (exactly once where the gateway keeps the
    idempotency key)."""
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            _deliver(message)
            outcome.append(None)
        except BaseException as exc:  # handed to the sender's thread, which records it
            outcome.append(exc)
        finally:
            db.connections.close_all()  # this thread's own, if a gateway class used the database

    thread = threading.Thread(target=call, name=f"outbox-send-{message.pk}", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise GatewayTimeout(f"the gateway did not answer within {seconds:g} s")
    if outcome[0] is not None:
        raise outcome[0]


@dataclass(frozen=True)
class OutboxSendResult:
    message_id: int
    status: str | None  # None: the message no longer exists (its report was deleted)
    sent_now: bool = False
    error: str = ""
    # Another sender has the message (its lease runs, or it is taking it right now): left to it.
    busy: bool = False

    @property
    def retry(self) -> bool:
        """Failed this time, with attempts left: the caller (the job) should try again later."""
        return self.status == OutboxMessage.Status.PENDING and bool(self.error)


def _stalled(now: datetime) -> Q:
    """Taken by a sender whose lease ran out: it died mid-send."""
    return Q(status=OutboxMessage.Status.SENDING) & (Q(lease_until__lt=now) | Q(lease_until__isnull=True))


def _sendable(now: datetime) -> Q:
    return Q(status=OutboxMessage.Status.PENDING) | _stalled(now)


def _message_take(message_id: int) -> OutboxMessage | OutboxSendResult:
    """Mark the message `sending` under a lease, in a short transaction of its own, and return it;
    or say why it is not to be sent by this caller. SKIP LOCKED: a row another sender is taking at
    this instant is left to it rather than waited for."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("report")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            status = OutboxMessage.objects.filter(pk=message_id).values_list("status", flat=True).first()
            return OutboxSendResult(message_id=message_id, status=status, busy=status is not None)
        leased = message.status == OutboxMessage.Status.SENDING and (
            message.lease_until is not None and message.lease_until >= now
        )
        if leased or message.status not in (OutboxMessage.Status.PENDING, OutboxMessage.Status.SENDING):
            return OutboxSendResult(message_id=message_id, status=message.status, busy=leased)
        if message.attempts >= settings.OPEN137_OUTBOX_MAX_ATTEMPTS:
            # Its last attempt's sender died mid-send: whether that one went out is unknown.
            message.status = OutboxMessage.Status.FAILED
            message.last_error = (
                "The sender stopped during the last attempt; the message may not have gone out."
            )
            message.body = _redacted(message.body)
            message.lease_until = None
            message.save(update_fields=["status", "last_error", "body", "lease_until"])
            logger.error("Outbox message %s: %s", message.pk, message.last_error)
            return OutboxSendResult(message_id=message_id, status=message.status, error=message.last_error)
        message.status = OutboxMessage.Status.SENDING
        message.attempts += 1
        message.sending_since = now
        message.lease_until = now + timedelta(seconds=settings.OPEN137_OUTBOX_LEASE_SECONDS)
        message.save(update_fields=["status", "attempts", "sending_since", "lease_until"])
    return message


def outbox_message_send(*, message_id: int) -> OutboxSendResult:
    """Send one message unless it is no longer pending; record the outcome on its row.

    Three steps, and no transaction or row lock is held while the gateway is called: take the message
    (`sending`, with a lease of OPEN137_OUTBOX_LEASE_SECONDS; another sender leaves it alone while the
    lease runs), call the gateway with a deadline, record the outcome if the lease is still this
    sender's (the attempt number fences it). A sender that dies mid-send leaves the lease to run out;
    the periodic requeue (issues/tasks.py) then sends the message again: at least once, never lost,
    and exactly once where the gateway keeps the message's idempotency key."""
    taken = _message_take(message_id)
    if isinstance(taken, OutboxSendResult):
        return taken
    message = taken
    error = ""
    try:
        _deliver_within(message, seconds=settings.OPEN137_OUTBOX_SEND_TIMEOUT_SECONDS)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    # The lease is still ours if nobody took the message since: same status, same attempt.
    ours = OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxMessage.Status.SENDING, attempts=message.attempts
    )
    status: str | None
    if not error:
        status = OutboxMessage.Status.SENT
        recorded = ours.update(
            status=status,
            sent_at=timezone.now(),
            last_error="",
            body=_redacted(message.body),
            lease_until=None,
        )
    else:
        failed = message.attempts >= settings.OPEN137_OUTBOX_MAX_ATTEMPTS
        status = OutboxMessage.Status.FAILED if failed else OutboxMessage.Status.PENDING
        # Never sent and never to be: the stored copy no longer needs the private link either.
        body = _redacted(message.body) if failed else message.body
        recorded = ours.update(status=status, last_error=error, body=body, lease_until=None)
        if failed:
            logger.error(
                "Outbox message %s failed after %s attempts: %s", message.pk, message.attempts, error
            )
        else:
            logger.warning("Outbox message %s attempt %s failed: %s", message.pk, message.attempts, error)
    if not recorded:
        # Our lease ran out during the call and another sender took the message (or its report was
        # deleted): the row is theirs to record.
        logger.warning("Outbox message %s: lease lost during attempt %s", message.pk, message.attempts)
        status = OutboxMessage.objects.filter(pk=message.pk).values_list("status", flat=True).first()
    return OutboxSendResult(message_id=message_id, status=status, sent_now=not error, error=error)


def outbox_pending_send() -> list[OutboxSendResult]:
    """Send every pending message once, now, oldest first (operations: after a gateway outage, or
    where no worker runs), with those whose sender died mid-send. Messages failing again keep their
    remaining attempts; a message another sender has is left to it."""
    ids = list(
        OutboxMessage.objects.filter(_sendable(timezone.now())).order_by("pk").values_list("pk", flat=True)
    )
    return [outbox_message_send(message_id=pk) for pk in ids]


# The outbox's own jobs that are still to run, or running; any other state (succeeded and deleted,
# failed, cancelled) leaves a pending message without a sender.
_UNQUEUED_PENDING = """
    SELECT m.id FROM issues_outboxmessage m
     WHERE m.status = 'pending'
       AND NOT EXISTS (
           SELECT 1 FROM procrastinate_jobs j
            WHERE j.task_name = %s AND j.status IN ('todo', 'doing')
              AND j.args @> jsonb_build_object('message_id', m.id))
     ORDER BY m.id
     LIMIT %s"""


def outbox_stalled_release() -> list[int]:
    """Put back to `pending` the messages whose sender died mid-send (lease run out), and return the
    pending messages that no job of `issues.outbox_send` will send: the caller (the periodic
    requeue) defers one for each, in the same transaction. Messages whose job is waiting for its
    retry are left to it."""
    with transaction.atomic(savepoint=False):
        expired = OutboxMessage.objects.filter(_stalled(timezone.now())).update(
            status=OutboxMessage.Status.PENDING, lease_until=None
        )
        if expired:
            logger.warning("Outbox: %s message(s) whose sender stopped mid-send put back to pending", expired)
        with db.connection.cursor() as cursor:
            cursor.execute(_UNQUEUED_PENDING, [OUTBOX_SEND_TASK, OUTBOX_REQUEUE_BATCH])
            return [row[0] for row in cursor.fetchall()]

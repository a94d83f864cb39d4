"""Sending the outbox: the SMS and e-mail gateways, and one message sent with its outcome recorded.

The worker's job (issues/tasks.py) and `manage.py outbox_send` call `outbox_message_send`; the
messages themselves are composed and queued by issues/notifications.py, in the transaction of the
change they tell about. This module imports neither, so the job module can import it.
"""

from __future__ import annotations

import html
import json
import logging
import re
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from issues.models import OutboxMessage

logger = logging.getLogger("open137.outbox")
sms_logger = logging.getLogger("open137.sms")

SMS_HTTP_TIMEOUT_S = 10
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
    """A gateway reached by an HTTP POST of JSON {"to", "text"} with a bearer key. A provider with
    another API gets its own small class, named by its dotted path in OPEN137_SMS_BACKEND."""

    def send(self, *, to: str, text: str) -> None:
        url = settings.OPEN137_SMS_URL
        if not url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("OPEN137_SMS_URL must be an http(s) URL for the http SMS backend.")
        request = urllib.request.Request(
            url,
            data=json.dumps({"to": to, "text": text}, ensure_ascii=False).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {settings.OPEN137_SMS_API_KEY}",
            },
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


def _deliver(message: OutboxMessage) -> None:
    if message.channel == OutboxMessage.Channel.SMS:
        sms_backend_get().send(to=message.recipient, text=message.body)
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


@dataclass(frozen=True)
class OutboxSendResult:
    message_id: int
    status: str | None  # None: the message no longer exists (its report was deleted)
    sent_now: bool = False
    error: str = ""

    @property
    def retry(self) -> bool:
        """Failed this time, with attempts left: the caller (the job) should try again later."""
        return self.status == OutboxMessage.Status.PENDING and bool(self.error)


def outbox_message_send(*, message_id: int) -> OutboxSendResult:
    """Send one message unless it is no longer pending; record the outcome on its row.

    The row is locked while sending, so two senders (two workers, a worker and the command) cannot
    both send it: the second waits, then finds it sent. A crash between the gateway accepting the
    message and the commit can still send it twice (at least once, never lost)."""
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(of=("self",))
            .select_related("report")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return OutboxSendResult(message_id=message_id, status=None)
        if message.status != OutboxMessage.Status.PENDING:
            return OutboxSendResult(message_id=message_id, status=message.status)
        message.attempts += 1
        try:
            _deliver(message)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            message.last_error = error
            if message.attempts >= settings.OPEN137_OUTBOX_MAX_ATTEMPTS:
                message.status = OutboxMessage.Status.FAILED
                # Never sent and never to be: the stored copy no longer needs the private link either.
                message.body = _redacted(message.body)
                logger.error(
                    "Outbox message %s failed after %s attempts: %s", message.pk, message.attempts, error
                )
            else:
                logger.warning("Outbox message %s attempt %s failed: %s", message.pk, message.attempts, error)
            message.save(update_fields=["attempts", "last_error", "status", "body"])
            return OutboxSendResult(message_id=message_id, status=message.status, error=error)
        message.status = OutboxMessage.Status.SENT
        message.sent_at = timezone.now()
        message.last_error = ""
        message.body = _redacted(message.body)
        message.save(update_fields=["attempts", "last_error", "status", "sent_at", "body"])
        return OutboxSendResult(message_id=message_id, status=message.status, sent_now=True)


def outbox_pending_send() -> list[OutboxSendResult]:
    """Send every pending message once, now, oldest first (operations: after a gateway outage, or
    where no worker runs). Messages failing again keep their remaining attempts."""
    ids = list(
        OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [outbox_message_send(message_id=pk) for pk in ids]

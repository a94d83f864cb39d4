"""Messages to citizens through the transactional outbox.

Telling citizens what happened to their message is one of the 137 centre's duties; the first thing
they are told is the tracking code, by SMS and/or e-mail, in Persian with an English line.

The message is an `OutboxMessage` row written in the same transaction as the report, together with a
procrastinate job (a row in PostgreSQL, deferred through Django's connection): either the report,
the message and the job all exist, or none does. A report is never lost because the SMS gateway was
down, and no citizen gets a tracking code for a report that was rolled back. The worker
(`manage.py procrastinate worker`) then sends each message; a failure is recorded on the row and
retried with exponential backoff, and after the last attempt the row is `failed`. The row, not the
job, is the truth: a row already sent is never sent again, whoever tries (worker or
`manage.py outbox_send`).
"""

from __future__ import annotations

import html
import json
import logging
import re
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from geo.text import normalize_digits
from issues.models import OutboxMessage, Report
from issues.selectors import report_tracking_url

logger = logging.getLogger("open137.outbox")
sms_logger = logging.getLogger("open137.sms")

SMS_HTTP_TIMEOUT_S = 10
# The private link lets whoever holds it add to the report and confirm a fix; once the message has
# gone out, the stored copy no longer needs it (the report itself keeps only the token's hash).
_PRIVATE_TOKEN = re.compile(r"([?&]t=)[A-Za-z0-9_\-%.~]+")
REDACTED = "…"


def _redacted(body: str) -> str:
    return _PRIVATE_TOKEN.sub(rf"\g<1>{REDACTED}", body)


# --- Composing ---------------------------------------------------------------------------------


def private_url(*, code: str, token: str) -> str:
    return f"{report_tracking_url(code=code, absolute=True)}?t={quote(token, safe='')}"


def _sms_body(*, code: str, token: str) -> str:
    # SMS in Persian is billed per 70 characters: short lines, the code alone on its line so it is
    # easy to read out to the 137 operator, the links last (phones make them tappable).
    url = report_tracking_url(code=code, absolute=True)
    return "\n".join(
        [
            "سامانه ۱۳۷: گزارش شما ثبت شد.",
            "کد پیگیری:",
            code,
            f"پیگیری: {url}",
            "پیوند خصوصی شما (به کسی ندهید):",
            private_url(code=code, token=token),
            f"137: report received. Tracking code: {code}",
        ]
    )


def _email_subject(*, code: str) -> str:
    return f"سامانه ۱۳۷ - کد پیگیری {code} / 137 tracking code {code}"


def _email_body(*, code: str, token: str) -> str:
    url = report_tracking_url(code=code, absolute=True)
    return "\n".join(
        [
            "شهروند گرامی، گزارش شما در سامانه ۱۳۷ شهرداری ثبت شد و به واحد مسئول فرستاده می‌شود.",
            "",
            "کد پیگیری شما:",
            code,
            "",
            "وضعیت گزارش را در این نشانی ببینید:",
            url,
            "",
            "پیوند خصوصی شما، برای افزودن توضیح یا تأیید رفع مشکل. آن را به کسی ندهید:",
            private_url(code=code, token=token),
            "",
            f"Your report to the 137 city service was received. Tracking code: {code}",
            f"Follow it at {url} (your private link is above; do not share it).",
        ]
    )


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


def phone_normalise(phone: str) -> str:
    """Digits (Persian and Arabic digits made ASCII) and a leading +; spaces and dashes dropped."""
    phone = normalize_digits(phone).strip()
    digits = re.sub(r"\D", "", phone)
    return f"+{digits}" if phone.startswith("+") and digits else digits


# --- Writing the outbox (in the caller's transaction) --------------------------------------------


def report_created_has_recipient(*, phone: str, email: str) -> bool:
    """Whether `report_created_notify` will queue a message for a reporter with this phone and e-mail."""
    return bool(phone_normalise(phone) or email.strip())


def report_created_notify(*, report: Report, private_token: str) -> list[OutboxMessage]:
    """Queue the tracking code by SMS and/or e-mail, in the caller's transaction.

    Sent whether or not the citizen agreed to be contacted: the code is the answer to their own
    submission, the only way to follow it; `consent_contact` is about staff calling them back."""
    code = report.tracking_code
    messages: list[OutboxMessage] = []
    phone = phone_normalise(report.reporter_phone)
    if phone:  # the same tests as report_created_has_recipient
        messages.append(
            OutboxMessage(
                report=report,
                channel=OutboxMessage.Channel.SMS,
                recipient=phone,
                body=_sms_body(code=code, token=private_token),
            )
        )
    if report.reporter_email.strip():
        messages.append(
            OutboxMessage(
                report=report,
                channel=OutboxMessage.Channel.EMAIL,
                recipient=report.reporter_email.strip(),
                subject=_email_subject(code=code),
                body=_email_body(code=code, token=private_token),
            )
        )
    outbox_queue(messages=messages)
    return messages


def outbox_queue(*, messages: Iterable[OutboxMessage]) -> None:
    """Write the messages and one job each, atomically with whatever the caller is writing."""
    from issues.tasks import outbox_send

    messages = list(messages)
    if not messages:  # most reports leave no contact: nothing to queue, no transaction to open
        return
    with transaction.atomic(savepoint=False):  # part of the caller's transaction, no savepoint of its own
        for message in messages:
            message.save()
            # The Django connector writes the job row through this same connection and transaction.
            outbox_send.defer(message_id=message.pk)


# --- Sending -------------------------------------------------------------------------------------


class SmsBackend(Protocol):
    def send(self, *, to: str, text: str) -> None: ...


class LogSmsBackend:
    """The demo's SMS gateway: the message goes to the `open137.sms` logger and to a file."""

    def send(self, *, to: str, text: str) -> None:
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

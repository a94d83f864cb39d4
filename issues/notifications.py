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

This module composes and queues; issues/outbox.py sends.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from django.db import transaction

from geo.text import normalize_digits
from issues.models import OutboxMessage, Report
from issues.selectors import report_tracking_url
from issues.tasks import outbox_send  # which imports the sender (issues.outbox), not this module

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


# What the reporter is told at each public step of the workflow, Persian first and an English line.
# Steps the reporter took themselves (confirming the work) are not echoed back to them.
STATUS_MESSAGES: dict[str, tuple[str, str]] = {
    "acknowledged": ("واحد مسئول گزارش شما را دریافت کرد.", "The responsible unit has your report."),
    "in_progress": ("کار روی گزارش شما آغاز شد.", "Work on your report has started."),
    "done": (
        "واحد مسئول می‌گوید کار انجام شد. لطفاً با پیوند زیر بگویید مشکل برطرف شده یا نه.",
        "The unit says the work is done. Please tell us whether it is fixed, with the link below.",
    ),
    "closed": (
        "گزارش شما بسته شد. با پیوند زیر به خدمت ما امتیاز دهید.",
        "Your report is closed. Rate our service with the link below.",
    ),
    "reopened": (
        "گزارش شما دوباره باز شد و به واحد مسئول برگشت.",
        "Your report was reopened and sent back to the unit.",
    ),
    "transferred": ("گزارش شما به واحد دیگری فرستاده شد.", "Your report was transferred to another unit."),
    "not_responsible": (
        "این مورد در حوزه شهرداری نیست و به دستگاه مسئول ارجاع شد.",
        "This is not the municipality's to fix; it was referred to the responsible body.",
    ),
    "duplicate": (
        "گزارش شما با گزارش دیگری از همین مشکل یکی شد.",
        "Your report was merged with another report of the same problem.",
    ),
    "resolved_by_citizens": ("این مشکل به همت شهروندان برطرف شد.", "Citizens fixed this problem."),
}
_SILENT_ACTIONS = frozenset({"forward", "verify"})


def status_step_notifies(transition: Any) -> bool:
    """Whether a step of the workflow is one the reporter is told of (if they left a contact and
    did not stop messages): a public step with a message of its own, not a silent one."""
    return bool(
        transition.public
        and transition.target in STATUS_MESSAGES
        and transition.action not in _SILENT_ACTIONS
    )


def report_status_notify(
    *, report: Report, transition: Any, feedback_token: str | None = None
) -> list[OutboxMessage]:
    """Tell the reporter of a public step, by the channels they gave, unless they asked for no more
    messages. In the caller's transaction: no message for a step that rolled back."""
    texts = STATUS_MESSAGES.get(transition.target)
    if texts is None or not status_step_notifies(transition) or report.messages_stopped:
        return []
    phone = phone_normalise(report.reporter_phone)
    email = report.reporter_email.strip()
    if not phone and not email:
        return []
    code = report.tracking_code
    token = feedback_token
    if token is None and transition.target == "closed":
        # A link to rate the service: a new private token, its hash kept like the others.
        from issues.formats import token_hash
        from issues.models import ReportAccessToken

        token = secrets.token_urlsafe(18)
        ReportAccessToken.objects.create(report=report, token_hash=token_hash(token), purpose="rating")
    fa, en = texts
    lines = [f"سامانه ۱۳۷ - گزارش {code}:", fa]
    lines.append(
        private_url(code=code, token=token) if token else report_tracking_url(code=code, absolute=True)
    )
    lines.append(f"137 report {code}: {en}")
    body = "\n".join(lines)
    messages = []
    if phone:
        messages.append(
            OutboxMessage(report=report, channel=OutboxMessage.Channel.SMS, recipient=phone, body=body)
        )
    if email:
        messages.append(
            OutboxMessage(
                report=report,
                channel=OutboxMessage.Channel.EMAIL,
                recipient=email,
                subject=f"سامانه ۱۳۷ - گزارش {code} / 137 report {code}",
                body=body,
            )
        )
    outbox_queue(messages=messages)
    return messages


def outbox_queue(*, messages: Iterable[OutboxMessage]) -> None:
    """Write the messages and one job each, atomically with whatever the caller is writing."""
    messages = list(messages)
    if not messages:  # most reports leave no contact: nothing to queue, no transaction to open
        return
    with transaction.atomic(savepoint=False):  # part of the caller's transaction, no savepoint of its own
        for message in messages:
            message.save()
            # The Django connector writes the job row through this same connection and transaction.
            outbox_send.defer(message_id=message.pk)


# --- Messages to staff ---------------------------------------------------------------------------

ESCALATION_TEXTS: dict[int, tuple[str, str]] = {
    1: (
        "واحد مسئول دریافت این گزارش را تا مهلت آن تأیید نکرده است. به مدیر منطقه ارجاع شد.",
        "The unit has not acknowledged this report by its deadline: escalated to the district manager.",
    ),
    2: (
        "این گزارش پس از ارجاع به مدیر منطقه هنوز تأیید نشده است. به ناظر ۱۳۷ ارجاع شد.",
        "Still not acknowledged after the escalation to the district manager: escalated to the 137 "
        "supervisors.",
    ),
}


def report_escalation_notify(
    *, report: Report, level: int, due_at: Any, recipients: Iterable[str]
) -> list[OutboxMessage]:
    """An e-mail to each manager or supervisor a report escalates to (the SLA job), in Persian with
    an English line, in the caller's transaction. Staff messages carry no reporter contact details:
    the report's code, category, unit and the deadline missed; the rest is in the console."""
    from issues.workflow.sla import jalali_format

    fa, en = ESCALATION_TEXTS[level]
    code = report.tracking_code
    unit = report.service_area
    lines = [
        f"سامانه ۱۳۷ - گزارش {code}",
        fa,
        f"موضوع: {report.category.name_fa}",
        f"واحد: {unit.unit_name_fa if unit else 'صف بررسی ۱۳۷'}",
        f"مهلت: {jalali_format(due_at, lang='fa')}",
        report_tracking_url(code=code, absolute=True),
        "",
        f"137 report {code}: {en}",
        f"Category: {report.category.name_en or report.category.name_fa}; "
        f"unit: {(unit.unit_name_en or unit.unit_name_fa) if unit else '137 triage queue'}; "
        f"deadline: {jalali_format(due_at, lang='en')}.",
    ]
    body = "\n".join(lines)
    messages = [
        OutboxMessage(
            report=report,
            channel=OutboxMessage.Channel.EMAIL,
            recipient=email,
            subject=f"سامانه ۱۳۷ - ارجاع گزارش {code} / 137 escalation: report {code}",
            body=body,
        )
        for email in dict.fromkeys(e.strip() for e in recipients if e and e.strip())
    ]
    outbox_queue(messages=messages)
    return messages

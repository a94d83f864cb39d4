"""`manage.py outbox_send`: send every pending message to citizens once, now, in this process.

The worker (`manage.py procrastinate worker`) normally sends them, with retries; this command is for
operations (flush the outbox after a gateway outage, a machine with no worker) and for tests. It uses
the same send function: a message a worker is sending (its lease runs) is left to it, one whose
sender died mid-send is sent again, and every failure counts as an attempt.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from issues.models import OutboxMessage
from issues.outbox import outbox_pending_send


class Command(BaseCommand):
    help = "Send all pending outbox messages (SMS, e-mail) once, synchronously."

    def handle(self, *args: Any, **options: Any) -> None:
        results = outbox_pending_send()
        for result in results:
            if result.error:
                self.stderr.write(f"message {result.message_id}: {result.status}: {result.error}")
        sent = sum(r.sent_now for r in results)
        retry = sum(r.retry for r in results)
        failed = sum(r.status == OutboxMessage.Status.FAILED and bool(r.error) for r in results)
        busy = sum(r.busy for r in results)
        self.stdout.write(
            f"{len(results)} pending message(s): {sent} sent, "
            f"{retry} failed this time (to be retried), {failed} failed for good"
            + (f", {busy} left to the sender that has them." if busy else ".")
        )

"""`manage.py alerts_send [--commit]`: match the reports created since the last run to the
confirmed alert subscriptions and queue one message per report to each subscriber (a digest when
there are many), each pair once. Without --commit it is a dry run that prints what it would send
and writes nothing. The worker runs the same every minute (alerts.tasks); cron can call this
command where no worker runs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from alerts.sending import alerts_send, contact_masked


class Command(BaseCommand):
    help = "Queue alert messages for new reports (dry run unless --commit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--commit", action="store_true", help="Queue the messages (otherwise a dry run).")

    def handle(self, *args: Any, commit: bool = False, **options: Any) -> None:
        run = alerts_send(commit=commit)
        self.stdout.write(
            f"Reports created from {run.since.isoformat(timespec='seconds')} "
            f"to {run.until.isoformat(timespec='seconds')}."
        )
        if not run.messages:
            self.stdout.write("No new report matches a confirmed subscription.")
        for message in run.messages:
            # The contact masked: an operator's terminal and cron's mail are not the subscriber's.
            self.stdout.write(
                f"--- subscription #{message.subscription_id} by {message.channel} to "
                f"{contact_masked(message.recipient)}: {', '.join(message.report_codes)}"
            )
            self.stdout.write(message.body)
        if commit:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{len(run.messages)} message(s) queued in the outbox for {run.pairs} report(s)."
                )
            )
        else:
            self.stdout.write(
                f"Dry run: {len(run.messages)} message(s) would be queued; nothing written. "
                "Add --commit to queue them."
            )

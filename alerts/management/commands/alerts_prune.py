"""`manage.py alerts_prune [--commit]`: delete the alerts' link tokens and delivery rows that can no
longer do anything (alerts/pruning.py): expired confirmation links, stop links older than
OPEN137_ALERT_LINK_DAYS except each active subscription's newest, and old deliveries. Without
--commit it is a dry run that counts them and writes nothing. The worker runs the same every night
(alerts.tasks); cron can call this command where no worker runs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from alerts.pruning import alerts_prune


class Command(BaseCommand):
    help = "Delete expired alert link tokens and old delivery rows (dry run unless --commit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--commit", action="store_true", help="Delete them (otherwise a dry run).")

    def handle(self, *args: Any, commit: bool = False, **options: Any) -> None:
        run = alerts_prune(commit=commit)
        counts = (
            f"{run.stop_tokens} stop link token(s) sent before {run.links_before.isoformat(timespec='seconds')}, "
            f"{run.confirm_tokens} expired confirmation token(s), {run.deliveries} delivery row(s)"
        )
        if commit:
            self.stdout.write(self.style.SUCCESS(f"Deleted {counts}."))
        else:
            self.stdout.write(
                f"Dry run: would delete {counts}; nothing written. Add --commit to delete them."
            )

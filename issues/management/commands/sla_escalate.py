"""`manage.py sla_escalate [--commit]`: escalate the reports their unit has not acknowledged in time
(to the district manager, then to the 137 supervisors), each rung once. Without --commit it is a dry
run that prints what would escalate and writes nothing. The worker runs the same service every five
minutes (issues.tasks.sla_escalate); cron can call this command where no worker runs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from issues.workflow.escalation import LEVEL_MANAGER, reports_escalate

_TO = {LEVEL_MANAGER: "district manager"}


class Command(BaseCommand):
    help = "Escalate reports not acknowledged by their deadline (dry run unless --commit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--commit", action="store_true", help="Write the escalations (otherwise a dry run)."
        )

    def handle(self, *args: Any, commit: bool = False, **options: Any) -> None:
        rungs = reports_escalate(commit=commit)
        if not rungs:
            self.stdout.write("No report has reached a new rung of the escalation ladder.")
        else:
            self.stdout.write(f"{'report':<10} {'to':<18} deadline missed")
            for rung in rungs:
                to = _TO.get(rung.level, "137 supervisors")
                self.stdout.write(
                    f"{rung.tracking_code:<10} {to:<18} {rung.due_at.isoformat(timespec='minutes')}"
                )
        if commit:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{len(rungs)} escalation(s) written; each is recorded in its report's history."
                )
            )
        else:
            self.stdout.write(
                f"Dry run: {len(rungs)} escalation(s) would be written; nothing written. Add --commit to write."
            )

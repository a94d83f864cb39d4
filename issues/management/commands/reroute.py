"""`manage.py reroute [--commit]`: after a boundary change, move the open reports whose district or
service area changes. Without --commit it is a dry run that prints the moves and writes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from issues.services.reroute import reports_reroute


class Command(BaseCommand):
    help = "Re-route open reports in the area whose boundaries changed (dry run unless --commit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--commit", action="store_true", help="Write the moves (otherwise a dry run).")

    def handle(self, *args: Any, commit: bool = False, **options: Any) -> None:
        moves = reports_reroute(commit=commit, actor_label="manage.py reroute")
        if not moves:
            self.stdout.write("No open report changes district or service area.")
        else:
            self.stdout.write(f"{'report':<10} {'district':<25} {'service area':<45} rule")
            for m in moves:
                self.stdout.write(
                    f"{m.tracking_code:<10} {(m.from_district or '-') + ' -> ' + (m.to_district or '-'):<25} "
                    f"{(m.from_service_area or '-') + ' -> ' + (m.to_service_area or '-'):<45} {m.rule}"
                )
        if commit:
            self.stdout.write(
                self.style.SUCCESS(f"{len(moves)} report(s) re-routed; each move is recorded in its history.")
            )
        else:
            self.stdout.write(
                f"Dry run: {len(moves)} report(s) would move; nothing written. Add --commit to write."
            )

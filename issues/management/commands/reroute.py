"""`manage.py reroute [--commit] [--lock-timeout S]`: after a boundary change, move the open reports whose
district or service area changes. Without --commit it is a dry run that prints the moves and writes
nothing. With it, the moves are written in batches, each in a transaction of its own; a report that
another write holds longer than the lock timeout is skipped, listed, and moved by the next run."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from issues.services.reroute import REROUTE_LOCK_TIMEOUT_MS, reroute_run


class Command(BaseCommand):
    help = "Re-route open reports in the area whose boundaries changed (dry run unless --commit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--commit", action="store_true", help="Write the moves (otherwise a dry run).")
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=REROUTE_LOCK_TIMEOUT_MS / 1000,
            help="Seconds to wait for a report another write holds before leaving it for the next run "
            f"(default {REROUTE_LOCK_TIMEOUT_MS / 1000:g}).",
        )

    def handle(self, *args: Any, commit: bool = False, lock_timeout: float = 2.0, **options: Any) -> None:
        if not lock_timeout > 0:
            raise CommandError("--lock-timeout must be a positive number of seconds.")
        run = reroute_run(
            commit=commit, actor_label="manage.py reroute", lock_timeout_ms=max(1, round(lock_timeout * 1000))
        )
        moves = run.moves
        if not moves:
            self.stdout.write("No open report changes district or service area.")
        else:
            self.stdout.write(f"{'report':<10} {'district':<25} {'service area':<45} rule")
            for m in moves:
                self.stdout.write(
                    f"{m.tracking_code:<10} {(m.from_district or '-') + ' -> ' + (m.to_district or '-'):<25} "
                    f"{(m.from_service_area or '-') + ' -> ' + (m.to_service_area or '-'):<45} {m.rule}"
                )
        self.stdout.write(f"{run.candidates} report(s) in the changed area routed again.")
        if run.skipped:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(run.skipped)} report(s) skipped: another write held them longer than "
                    f"{lock_timeout:g} s. Run again to move them: {', '.join(run.skipped)}"
                )
            )
        if commit:
            self.stdout.write(
                self.style.SUCCESS(f"{len(moves)} report(s) re-routed; each move is recorded in its history.")
            )
        else:
            self.stdout.write(
                f"Dry run: {len(moves)} report(s) would move; nothing written. Add --commit to write."
            )

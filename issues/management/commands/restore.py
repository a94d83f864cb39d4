"""`manage.py restore --from DIR --database-url URL [--media-root PATH] [--commit]`: a backup made by
`manage.py backup` into an EMPTY database. Without --commit it is a dry run: it checks the files
against the manifest, the dump, the target (reachable, empty) and the photos' folder, and writes
nothing. With it, the database is restored in one transaction, the photos are unpacked (never over a
different file), and the restored database is checked against the manifest (issues/backups.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from issues.backups import BackupError, Database, restore_check, restore_run


class Command(BaseCommand):
    help = "Restore a backup into an empty database (dry run unless --commit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="source", required=True, help="The backup's folder.")
        parser.add_argument(
            "--database-url",
            required=True,
            help="The EMPTY target database, e.g. postgis://open137@db:5432/open137_restored "
            "(the password may come from PGPASSWORD or ~/.pgpass instead).",
        )
        parser.add_argument(
            "--media-root", help="Where to unpack the photos (default: MEDIA_ROOT, OPEN137_MEDIA_ROOT)."
        )
        parser.add_argument("--commit", action="store_true", help="Restore (otherwise a dry run).")

    def handle(
        self,
        *args: Any,
        source: str,
        database_url: str,
        media_root: str | None = None,
        commit: bool = False,
        **options: Any,
    ) -> None:
        try:
            plan = restore_check(
                source=Path(source),
                db=Database.from_url(database_url),
                media_root=Path(media_root or settings.MEDIA_ROOT),
            )
            m = plan.manifest
            c = m["counts"]
            self.stdout.write(
                f"Backup of {m['database']['name']} made {m['created_at']}: {c['reports']} reports, "
                f"{c['events']} events, {c['photos']} photos; schema at {m['last_migration']}. "
                "Files match the manifest."
            )
            self.stdout.write(
                f"Target {plan.db.label()} is empty; photos into {plan.media_root}: {plan.media_new} to write, "
                f"{plan.media_same} already there."
            )
            if not commit:
                self.stdout.write("Dry run: nothing written. Add --commit to restore.")
                return
            result = restore_run(plan)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        c = result.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored and checked: {c['reports']} reports, {c['events']} events, {c['photos']} photos "
                f"({result.media_written} files written)."
            )
        )

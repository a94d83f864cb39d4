"""`manage.py backup --out DIR`: the database (pg_dump, custom format) and the photos under
MEDIA_ROOT into a new folder, with a manifest of what they hold and their SHA-256 (issues/backups.py).
Restore with `manage.py restore --from DIR --database-url URL`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from issues.backups import MANIFEST_NAME, BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and the photos into a new folder, with a manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="A new (or empty) folder for the backup.")
        parser.add_argument(
            "--media-root", help="The photos' folder (default: MEDIA_ROOT, OPEN137_MEDIA_ROOT)."
        )

    def handle(self, *args: Any, out: str, media_root: str | None = None, **options: Any) -> None:
        try:
            result = backup_create(out=Path(out), media_root=Path(media_root or settings.MEDIA_ROOT))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        m = result.manifest
        c = m["counts"]
        self.stdout.write(
            f"{c['reports']} reports, {c['events']} events, {c['photos']} photos "
            f"({m['media_files']} files under the media folder); schema at {m['last_migration']}."
        )
        for name, info in m["files"].items():
            self.stdout.write(f"  {name}: {info['bytes']} bytes, sha256 {info['sha256']}")
        if m["photos_missing_at_backup"]:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(m['photos_missing_at_backup'])} photo(s) named in the database were not on disk "
                    f"(listed in {MANIFEST_NAME})."
                )
            )
        self.stdout.write(self.style.SUCCESS(f"Backup written to {result.folder}."))

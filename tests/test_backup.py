"""Backup and restore (manage.py backup / restore): a backup restored into a fresh PostGIS database
holds every report, event and photo (the same bytes); a target that is not empty, a damaged backup
and an archive with a path outside the photos' folder are refused, and a dry run writes nothing."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from psycopg import sql

from issues.backups import MANIFEST_NAME, MEDIA_NAME, Database, file_sha256
from issues.models import Report, ReportEvent, ReportPhoto
from issues.services.submission import report_submit
from issues.workflow.services import report_transition
from tests.conftest import jpeg_upload, pt

# pg_dump reads committed data from its own connection: the reports must really be committed.
committed = pytest.mark.django_db(transaction=True)
# Refusals that come before any connection to the target: it need not exist.
NO_SUCH_TARGET = "postgis://postgres@127.0.0.1:1/never_created"


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def fresh_db() -> Iterator[Database]:
    """An empty PostGIS database next to the test database (its name + `_restore`), dropped after."""
    here = Database.from_settings()
    target = Database(
        name=f"{here.name}_restore", host=here.host, port=here.port, user=here.user, password=here.password
    )
    admin = Database(name="postgres", host=here.host, port=here.port, user=here.user, password=here.password)
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.name))
    with admin.connect(autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))
    with target.connect(autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    yield target
    with admin.connect(autocommit=True) as conn:
        conn.execute(drop)


def _url(db: Database) -> str:
    auth = f"{db.user}:{db.password}@" if db.password else (f"{db.user}@" if db.user else "")
    return f"postgis://{auth}{db.host or 'localhost'}:{db.port or 5432}/{db.name}"


def _reports_with_events_and_photos(city, staff) -> list[Report]:
    reports = []
    for i, where in enumerate(("r1", "r2", "s11")):
        submission = report_submit(
            category=city.pothole,
            location=pt(*getattr(city.points, where)),
            description=f"چاله شماره {i + 1} در خیابان",
            reporter_phone="09121234567",
            photos=[jpeg_upload(f"p{i}.jpg", size=(80 + i, 60))],
            idempotency_key=f"backup-{i}",
        )
        reports.append(submission.report)
    report_transition(report=reports[0], action="acknowledge", actor=staff.unit_r1)
    report_transition(
        report=reports[0],
        action="start",
        actor=staff.unit_r1,
    )
    return reports


def _backup(out: Path) -> dict:
    call_command("backup", out=str(out), stdout=io.StringIO())
    return json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))


@committed
def test_a_backup_restored_into_a_fresh_database_has_every_report_event_and_photo(
    city, staff, media, fresh_db, tmp_path
):
    _reports_with_events_and_photos(city, staff)
    reports = dict(Report.objects.values_list("tracking_code", "status"))
    events = sorted(ReportEvent.objects.values_list("id", "report__tracking_code", "kind", "to_status"))
    photos = {p.image.name: Path(p.image.path).read_bytes() for p in ReportPhoto.objects.all()}
    assert len(reports) == 3 and len(events) >= 5 and len(photos) == 3

    manifest = _backup(tmp_path / "backup")
    assert manifest["counts"] == {"reports": 3, "events": len(events), "photos": 3}
    assert manifest["last_migration"].startswith("issues.")
    assert manifest["photos_missing_at_backup"] == []
    for name, info in manifest["files"].items():
        assert file_sha256(tmp_path / "backup" / name) == info["sha256"]

    restored_media = tmp_path / "restored-media"
    # A dry run checks and writes nothing.
    call_command(
        "restore", source=str(tmp_path / "backup"), database_url=_url(fresh_db),
        media_root=str(restored_media), stdout=io.StringIO(),
    )  # fmt: skip
    with fresh_db.connect() as conn:
        assert conn.execute("SELECT to_regclass('issues_report')").fetchone() == (None,)
    assert not restored_media.exists()

    call_command(
        "restore", source=str(tmp_path / "backup"), database_url=_url(fresh_db),
        media_root=str(restored_media), commit=True, stdout=io.StringIO(),
    )  # fmt: skip
    with fresh_db.connect() as conn:
        assert dict(conn.execute("SELECT tracking_code, status FROM issues_report").fetchall()) == reports
        restored_events = conn.execute(
            "SELECT e.id, r.tracking_code, e.kind, e.to_status FROM issues_reportevent e "
            "JOIN issues_report r ON r.id = e.report_id ORDER BY 1, 2, 3, 4"
        ).fetchall()
        assert restored_events == events
        names = [name for (name,) in conn.execute("SELECT image FROM issues_reportphoto").fetchall()]
        # The report's location survives as a PostGIS point.
        assert conn.execute(
            "SELECT count(*) FROM issues_report WHERE ST_SRID(location) = 4326"
        ).fetchone() == (3,)
    assert sorted(names) == sorted(photos)
    for name, data in photos.items():
        assert (restored_media / name).read_bytes() == data


@committed
def test_a_target_that_is_not_empty_is_refused(city, staff, media, fresh_db, tmp_path):
    _reports_with_events_and_photos(city, staff)
    _backup(tmp_path / "backup")
    with fresh_db.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE something_of_value (id int)")
    for commit in (False, True):
        with pytest.raises(CommandError, match="not empty"):
            call_command(
                "restore", source=str(tmp_path / "backup"), database_url=_url(fresh_db),
                media_root=str(tmp_path / "m"), commit=commit, stdout=io.StringIO(),
            )  # fmt: skip
    with fresh_db.connect() as conn:
        assert conn.execute("SELECT to_regclass('issues_report')").fetchone() == (None,)

    # Nor into the database the backup came from (it holds the reports).
    here = Database.from_settings()
    with pytest.raises(CommandError, match="not empty"):
        call_command(
            "restore", source=str(tmp_path / "backup"), database_url=_url(here),
            media_root=str(tmp_path / "m"), commit=True, stdout=io.StringIO(),
        )  # fmt: skip


@committed
def test_a_damaged_backup_is_refused_before_anything_is_written(city, staff, media, tmp_path):
    _reports_with_events_and_photos(city, staff)
    _backup(tmp_path / "backup")
    for damaged in ("database.dump", "media.tar"):
        copy = tmp_path / f"damaged-{damaged}"
        shutil.copytree(tmp_path / "backup", copy)
        path = copy / damaged
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(CommandError, match="does not match the manifest"):
            call_command(
                "restore", source=str(copy), database_url=NO_SUCH_TARGET,
                media_root=str(tmp_path / "m"), commit=True, stdout=io.StringIO(),
            )  # fmt: skip
        assert not (tmp_path / "m").exists()


def test_an_unfinished_backup_and_a_used_folder_are_refused(media, tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(CommandError, match="no manifest.json"):
        call_command(
            "restore", source=str(tmp_path / "half"), database_url=NO_SUCH_TARGET, stdout=io.StringIO()
        )
    (tmp_path / "half" / "x").write_text("something")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("backup", out=str(tmp_path / "half"), stdout=io.StringIO())


@pytest.mark.django_db
def test_an_archive_entry_outside_the_photos_folder_is_refused(media, tmp_path):
    manifest = _backup(tmp_path / "backup")
    archive = tmp_path / "backup" / MEDIA_NAME
    outside = tmp_path / "payload.bin"
    outside.write_bytes(b"not a photo")
    with tarfile.open(archive, "w") as tar:
        tar.add(outside, arcname="../../evil.jpg")
    # Even with the manifest rewritten to match (someone who could alter the files).
    manifest["files"][MEDIA_NAME] = {"sha256": file_sha256(archive), "bytes": archive.stat().st_size}
    (tmp_path / "backup" / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(CommandError, match="never writes"):
        call_command(
            "restore", source=str(tmp_path / "backup"), database_url=NO_SUCH_TARGET,
            media_root=str(tmp_path / "m" / "media"), commit=True, stdout=io.StringIO(),
        )  # fmt: skip
    assert not (tmp_path / "m").exists() and not (tmp_path / "evil.jpg").exists()


def test_database_urls_are_read_for_the_tools_without_the_password_on_the_command_line():
    db = Database.from_url("postgis://open137:s%40cret@db.example:5433/open137_restored?sslmode=require")
    assert (db.name, db.host, db.port, db.user, db.password) == (
        "open137_restored", "db.example", "5433", "open137", "s@cret",
    )  # fmt: skip
    env = db.env()
    assert env["PGPASSWORD"] == "s@cret" and env["PGSSLMODE"] == "require" and env["PGDATABASE"] == db.name
    assert "s@cret" not in db.label()


def test_no_database_in_the_url_is_refused():
    from issues.backups import BackupError

    with pytest.raises(BackupError, match="names no database"):
        Database.from_url("postgres://u@h:5432")

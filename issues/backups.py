"""Backups: the database and the photos together, and their restore into an empty database.

A backup is a folder of three files:
- `database.dump`: `pg_dump --format=custom` of the whole database (every app, the task queue),
- `media.tar`: every file under MEDIA_ROOT (the reports' photos), uncompressed (JPEGs do not shrink),
- `manifest.json`: what the backup must hold once restored (reports, events, photos, the last
  migration of each app) and the SHA-256 of the other two files.

The counts are read in the very snapshot pg_dump writes (an exported snapshot), so they are the
dump's own, even while citizens keep filing reports. The photos are copied after the dump: a photo
of a report filed meanwhile is in the archive without its row, which is harmless; a photo a row names
that is missing on disk is listed in the manifest (a restore cannot bring back what was not there).

A restore goes into an empty database only (a restore over live data would mix two cities' states),
after the files have been checked against the manifest, and checks afterwards that every report,
event and photo is there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import dj_database_url
import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql
from psycopg.conninfo import make_conninfo

from issues.models import Report, ReportEvent, ReportPhoto

BACKUP_FORMAT = "open137-backup"
BACKUP_VERSION = 1
DUMP_NAME = "database.dump"
MEDIA_NAME = "media.tar"
MANIFEST_NAME = "manifest.json"
# pg_dump must be at least as new as the server; the project's server is PostgreSQL 15 (Debian's
# packages put its tools here, not on PATH). OPEN137_PG_BIN names another folder.
PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin",)
# What a backup counts and a restore must find again: name -> model (its table).
COUNTED = {"reports": Report, "events": ReportEvent, "photos": ReportPhoto}
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup that cannot be made, or a backup or target a restore refuses; the message says why."""


@dataclass(frozen=True)
class Database:
    """Where to connect: libpq's parameters (given to the tools through the environment, so a
    password never shows in a process list)."""

    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, alias: str = DEFAULT_DB_ALIAS) -> Database:
        s = connections[alias].settings_dict  # the test database's name under pytest
        return cls._from_dict(dict(s))

    @classmethod
    def from_url(cls, url: str) -> Database:
        try:
            s = dict(dj_database_url.parse(url))
        except ValueError as exc:
            raise BackupError(f"Not a database URL: {exc}") from None
        if not s.get("NAME"):
            raise BackupError("The database URL names no database (postgres://user@host:port/NAME).")
        return cls._from_dict(s)

    @classmethod
    def _from_dict(cls, s: dict[str, Any]) -> Database:
        options = {k: str(v) for k, v in (s.get("OPTIONS") or {}).items() if k in _LIBPQ_OPTIONS}
        return cls(
            name=str(s["NAME"]),
            host=str(s.get("HOST") or ""),
            port=str(s.get("PORT") or ""),
            user=str(s.get("USER") or ""),
            password=str(s.get("PASSWORD") or ""),
            options=options,
        )

    def label(self) -> str:
        where = f"{self.host or 'localhost'}:{self.port or 5432}"
        return f"{self.user + '@' if self.user else ''}{where}/{self.name}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var, value in (
            ("PGHOST", self.host),
            ("PGPORT", self.port),
            ("PGUSER", self.user),
            ("PGPASSWORD", self.password),
            ("PGDATABASE", self.name),
        ):
            if value:
                env[var] = value
            else:
                env.pop(var, None)
        for key, value in self.options.items():
            env[_LIBPQ_OPTIONS[key]] = value
        return env

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        params: dict[str, Any] = {
            "dbname": self.name,
            "host": self.host,
            "port": self.port,
            "user": self.user,
        }
        params = {k: v for k, v in params.items() if v}
        if self.password:
            params["password"] = self.password
        conninfo = make_conninfo(**params, **self.options, connect_timeout=10)
        return psycopg.connect(conninfo, **kwargs)


# The libpq options a DATABASES entry may carry that the command-line tools must use too.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "options": "PGOPTIONS",
}


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client tool (pg_dump, pg_restore)."""
    dirs = [os.environ["OPEN137_PG_BIN"]] if os.environ.get("OPEN137_PG_BIN") else list(PG_BIN_DIRS)
    for folder in dirs:
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found in {', '.join(dirs)} nor on PATH: install postgresql-client-15 "
            "(or set OPEN137_PG_BIN to the folder of a PostgreSQL 15 or newer client)."
        )
    return found


def _run(command: list[str], *, db: Database, what: str) -> str:
    done = subprocess.run(command, env=db.env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- What a database holds -------------------------------------------------------------------------


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    counts = {}
    for name, model in COUNTED.items():
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(model._meta.db_table))
        row = conn.execute(query).fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def _migrations(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The last migration applied of each app (by the order they were applied)."""
    rows = conn.execute(
        "SELECT DISTINCT ON (app) app, name FROM django_migrations ORDER BY app, applied DESC, id DESC"
    ).fetchall()
    return {app: name for app, name in rows}


def _photo_names(conn: psycopg.Connection[Any]) -> Iterator[str]:
    table = sql.Identifier(ReportPhoto._meta.db_table)
    column = sql.Identifier(str(ReportPhoto._meta.get_field("image").column))
    # A server-side cursor (a city has many photos), which lives in a transaction.
    with conn.transaction(), conn.cursor(name="open137_backup_photos") as cursor:
        cursor.execute(sql.SQL("SELECT {} FROM {} ORDER BY id").format(column, table))
        for (name,) in cursor:
            if name:
                yield str(name)


def _table_names(conn: psycopg.Connection[Any], limit: int = 5) -> list[str]:
    """Tables, views and sequences in the database that no extension owns (PostGIS's
    spatial_ref_sys is the extension's): none in an empty database."""
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
          AND NOT EXISTS (
              SELECT 1 FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
          )
        ORDER BY 1 LIMIT %s
        """,
        [limit],
    ).fetchall()
    return [r[0] for r in rows]


# --- Backup --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    manifest: dict[str, Any]


def backup_create(*, out: Path, media_root: Path, db: Database | None = None) -> BackupResult:
    """Dump the database and copy the photos into the folder `out` (new or empty), with a manifest."""
    db = db or Database.from_settings()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty folder: give a new folder for each backup.")
    pg_dump = pg_tool("pg_dump")
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    try:
        conn = db.connect(autocommit=False)
    except psycopg.Error as exc:
        raise BackupError(f"Cannot connect to {db.label()}: {exc}") from None
    with conn:
        # pg_dump reads the snapshot this transaction exports: the counts below and the dump see
        # the same committed reports.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot(), current_setting('server_version')").fetchone()
        assert row is not None
        snapshot, server_version = row
        counts = _counts(conn)
        migrations = _migrations(conn)
        referenced = list(_photo_names(conn))
        _run(
            [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot}",
                f"--file={out / DUMP_NAME}",
                "--no-password",
            ],
            db=db,
            what="pg_dump",
        )
        conn.rollback()
    photo_files = _media_tar(media_root, out / MEDIA_NAME)
    missing = sorted(name for name in set(referenced) if not (media_root / name).is_file())
    manifest: dict[str, Any] = {
        "format": BACKUP_FORMAT,
        "version": BACKUP_VERSION,
        "created_at": started.isoformat(),
        "database": {"name": db.name, "server_version": server_version},
        "counts": counts,
        "migrations": migrations,
        "last_migration": _last_migration(migrations),
        "media_files": photo_files,
        "photos_missing_at_backup": missing,
        "files": {
            name: {"sha256": file_sha256(out / name), "bytes": (out / name).stat().st_size}
            for name in (DUMP_NAME, MEDIA_NAME)
        },
    }
    tmp = out / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / MANIFEST_NAME)  # the manifest appears last, whole: its presence means done
    return BackupResult(folder=out, manifest=manifest)


def _last_migration(migrations: dict[str, str]) -> str:
    return f"issues.{migrations['issues']}" if "issues" in migrations else ""


def _media_tar(media_root: Path, path: Path) -> int:
    """Every regular file under `media_root` into the tar `path` (names relative to it); returns how
    many. A missing media folder (no photo ever uploaded) gives an empty archive."""
    count = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        if media_root.is_dir():
            for folder, dirs, files in os.walk(media_root):
                dirs.sort()
                for name in sorted(files):
                    full = Path(folder) / name
                    if full.is_symlink() or not full.is_file():
                        continue
                    tar.add(full, arcname=full.relative_to(media_root).as_posix(), recursive=False)
                    count += 1
    return count


# --- Restore -----------------------------------------------------------------------------------------


def backup_check(*, source: Path) -> dict[str, Any]:
    """The backup's manifest, once every file it names has the size and SHA-256 it records."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST_NAME}: not a backup, or an unfinished one.") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST_NAME} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise BackupError(f"{source / MANIFEST_NAME} is not an open137 backup manifest.")
    if manifest.get("version") != BACKUP_VERSION:
        raise BackupError(
            f"Backup format version {manifest.get('version')!r}; this code reads {BACKUP_VERSION}."
        )
    files = manifest.get("files") or {}
    for name in (DUMP_NAME, MEDIA_NAME):
        expected = files.get(name) or {}
        path = source / name
        if not path.is_file():
            raise BackupError(f"{path} is missing.")
        if path.stat().st_size != expected.get("bytes") or file_sha256(path) != expected.get("sha256"):
            raise BackupError(
                f"{path} does not match the manifest (size or SHA-256 differs): the backup is damaged "
                "or was altered; nothing restored."
            )
    return manifest


@dataclass
class RestorePlan:
    source: Path
    manifest: dict[str, Any]
    db: Database
    media_root: Path
    media_new: int = 0  # files to write
    media_same: int = 0  # already there with the same bytes
    postgis_installed: bool = False


@dataclass(frozen=True)
class RestoreResult:
    counts: dict[str, int]
    migrations: dict[str, str]
    media_written: int
    photos_missing: list[str]


def restore_check(*, source: Path, db: Database, media_root: Path) -> RestorePlan:
    """Everything a restore needs, checked without writing: the files against the manifest, the dump
    readable, the target reachable and empty, the photos' folder without conflicting files."""
    manifest = backup_check(source=source)
    plan = RestorePlan(source=Path(source), manifest=manifest, db=db, media_root=Path(media_root))
    _run([pg_tool("pg_restore"), "--list", str(plan.source / DUMP_NAME)], db=db, what="pg_restore --list")
    plan.media_new, plan.media_same = _media_plan(plan.source / MEDIA_NAME, plan.media_root)
    try:
        with db.connect(autocommit=True) as conn:
            tables = _table_names(conn)
            plan.postgis_installed = bool(
                conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
            )
    except psycopg.OperationalError as exc:
        raise BackupError(
            f"Cannot connect to the target {db.label()}: {exc}".strip()
            + "\nCreate it first (createdb NAME; psql -d NAME -c 'CREATE EXTENSION postgis')."
        ) from None
    if tables:
        raise BackupError(
            f"The target {db.label()} is not empty (it has {', '.join(tables)}"
            f"{', ...' if len(tables) >= 5 else ''}): a backup is only restored into an empty database."
        )
    plan.media_new, plan.media_same = _media_plan(plan.source / MEDIA_NAME, plan.media_root)
    return plan


def _media_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise BackupError(f"{MEDIA_NAME} holds an entry a backup never writes: {member.name!r}.")
        yield member


def _media_plan(archive: Path, media_root: Path) -> tuple[int, int]:
    """(files to write, files already there with the same bytes); a file there with other bytes is
    refused: a restore never overwrites a photo."""
    new = same = 0
    conflicts: list[str] = []
    with tarfile.open(archive, "r:") as tar:
        for member in _media_members(tar):
            if not member.isfile():
                continue
            there = media_root / member.name
            if not there.exists():
                new += 1
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            if there.is_file() and there.stat().st_size == member.size and _same_bytes(handle, there):
                same += 1
            else:
                conflicts.append(member.name)
    if conflicts:
        raise BackupError(
            f"{len(conflicts)} file(s) in {media_root} differ from the backup's (first: {conflicts[0]}): "
            "restore the photos into an empty folder (--media-root)."
        )
    return new, same


def _same_bytes(handle: Any, path: Path) -> bool:
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest() == file_sha256(path)


# pg_restore --list lines for the extension itself and its comment, e.g.
# "2; 3079 16385 EXTENSION - postgis " and "4681; 0 0 COMMENT - EXTENSION postgis ".
_EXTENSION_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(\S+)")


def restore_run(plan: RestorePlan) -> RestoreResult:
    """Restore the database (one transaction: all or nothing), then the photos, then check that the
    target holds what the manifest says. Raises BackupError on any difference."""
    db = plan.db
    pg_restore = pg_tool("pg_restore")
    dump = str(plan.source / DUMP_NAME)
    with tempfile.TemporaryDirectory(prefix="open137-restore-") as tmp:
        command = [
            pg_restore,
            "--no-owner",  # the target's own role owns what it restores
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={db.name}",
        ]
        if plan.postgis_installed:
            # The DBA created the target with PostGIS (as a role that may create it): restoring the
            # extension's own entry again would need that role's rights. Only the extensions the
            # target already has are skipped; the others (pg_trgm, for the text search's index) are
            # created by the restore, as migrate created them.
            with db.connect(autocommit=True) as conn:
                installed = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
            entries = _run([pg_restore, "--list", dump], db=db, what="pg_restore --list").splitlines()
            kept = [
                line
                for line in entries
                if not ((match := _EXTENSION_ENTRY.match(line)) and match[1] in installed)
            ]
            listing = Path(tmp) / "restore.list"
            listing.write_text("\n".join(kept) + "\n", encoding="utf-8")
            command.append(f"--use-list={listing}")
        _run([*command, dump], db=db, what="pg_restore")
    written = 0
    plan.media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(plan.source / MEDIA_NAME, "r:") as tar:
        for member in _media_members(tar):
            if member.isfile() and not (plan.media_root / member.name).exists():
                tar.extract(member, path=plan.media_root, filter="data")
                written += 1
    with db.connect(autocommit=True) as conn:
        conn.execute("ANALYZE")  # pg_restore leaves the planner without statistics
        counts = _counts(conn)
        migrations = _migrations(conn)
        missing = sorted({name for name in _photo_names(conn) if not (plan.media_root / name).is_file()})
    manifest = plan.manifest
    problems = []
    if counts != manifest["counts"]:
        problems.append(f"counts {counts} where the backup holds {manifest['counts']}")
    if migrations != manifest["migrations"]:
        problems.append("the migrations applied differ from the backup's")
    lost = sorted(set(missing) - set(manifest.get("photos_missing_at_backup") or ()))
    if lost:
        problems.append(f"{len(lost)} photo file(s) missing after the restore (first: {lost[0]})")
    if problems:
        raise BackupError("The restored database does not match the backup: " + "; ".join(problems) + ".")
    return RestoreResult(counts=counts, migrations=migrations, media_written=written, photos_missing=missing)

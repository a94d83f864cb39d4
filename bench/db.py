"""The benchmark's own database: `<db>_bench` next to the configured one, never the demo data.

Measures write (boundary sets, districts, later reports) and a benchmark must not leave its data in
the database people browse with `make demo`, nor find theirs: it runs on a sibling database on the
same server, created with PostGIS and migrated here. This has to happen before Django reads its
settings, which is why `configure()` is called by `bench.run` before `django.setup()`.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

BENCH_SUFFIX = "_bench"
# The archive the measures at scale run on (bench/archive.py); `make bench ARCHIVE=n` asks for another.
DEFAULT_ARCHIVE = 1_000_000


def archive_size() -> int:
    """The number of reports in the archive this run measures (OPEN137_BENCH_ARCHIVE)."""
    return int(os.environ.get("OPEN137_BENCH_ARCHIVE") or DEFAULT_ARCHIVE)


def run_suffix() -> str:
    """ "" for the default archive; "_<n>" for another size, whose run keeps a database and results
    of its own: a run at ten million reports neither replaces the million-report archive (made
    again, it would cost the next run minutes) nor the figures measured on it."""
    n = archive_size()
    return "" if n == DEFAULT_ARCHIVE else f"_{n}"


def _default_url() -> str:
    # The same default as open137/settings.py: the project-local cluster that scripts/setup.sh starts.
    return f"postgis://postgres@127.0.0.1:{os.environ.get('OPEN137_PGPORT', '54137')}/open137"


def bench_database_url(base_url: str) -> str:
    """The URL of the bench database: the same server and credentials, the database name + `_bench`
    (+ `_<n>` for an archive of another size than the default)."""
    parts = urlsplit(base_url)
    name = parts.path.lstrip("/") or "open137"
    if not name.endswith(BENCH_SUFFIX):
        name += BENCH_SUFFIX
    return urlunsplit(parts._replace(path="/" + name + run_suffix()))


def _libpq_url(url: str, dbname: str | None = None) -> str:
    # psycopg speaks postgresql://; Django's URL may say postgis://.
    parts = urlsplit(url)
    parts = parts._replace(scheme="postgresql")
    if dbname is not None:
        parts = parts._replace(path="/" + dbname)
    return urlunsplit(parts)


def configure() -> str:
    """Point DATABASE_URL at the bench database and make sure it exists with PostGIS. Returns the URL."""
    url = bench_database_url(os.environ.get("DATABASE_URL") or _default_url())
    name = urlsplit(url).path.lstrip("/")
    # CREATE DATABASE cannot run in a transaction, hence autocommit; the maintenance database
    # `postgres` is there on every server.
    with psycopg.connect(_libpq_url(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            print(f"[bench] creating database {name}", flush=True)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    os.environ["DATABASE_URL"] = url
    return url


def migrate() -> None:
    """Bring the bench database to the current schema (after django.setup())."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def libpq_url() -> str:
    """The bench database for a plain psycopg connection (the bare-SQL references)."""
    return _libpq_url(os.environ["DATABASE_URL"])

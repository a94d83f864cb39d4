"""Public reads at two archive sizes: the same list and search requests against 10,000 and against
1,000,000 reports, in one run (the set-up is described in `public_reads_scaling`'s docstring)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.db import archive_size
from bench.registry import Result, measure, ratio_result, say
from bench.server import ServerConfig, gunicorn

SMALL_SUFFIX = "_small"
SMALL_TOTAL = 10_000
SEEDED = 2_000  # bench/datasets.py reports_seed: the API measures' reports, in both databases
SMALL_ARCHIVE = SMALL_TOTAL - SEEDED
SERVER = ServerConfig(workers=1)
WARMUP = 15
REPEATS = 200
PAGE_SIZE = 100
MAX_RATIO = 1.5
# Open311's updates feed: this many public updates (notes) on archive reports, spread over the
# measured window, made on each side by `_updates_ensure` (marked by UPDATES_LABEL).
UPDATES_N = 300
UPDATES_LABEL = "bench:public_reads"
ROOT = Path(__file__).resolve().parents[2]


def _small_url(bench_url: str) -> str:
    parts = urlsplit(bench_url)
    return urlunsplit(parts._replace(path=parts.path + SMALL_SUFFIX))


def _libpq(url: str, dbname: str | None = None) -> str:
    parts = urlsplit(url)._replace(scheme="postgresql")
    if dbname is not None:
        parts = parts._replace(path="/" + dbname)
    return urlunsplit(parts)


def small_database_main() -> None:
    """Run in a process of its own, with DATABASE_URL naming the small database: create it (with
    PostGIS) if missing, migrate it, and make its reports as the 1,000,000 are made, once."""
    import psycopg
    from psycopg import sql

    url = os.environ["DATABASE_URL"]
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_libpq(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"[bench] creating database {name}", flush=True)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    _reports_ensure(archive_n=SMALL_ARCHIVE)


def _reports_ensure(*, archive_n: int) -> dict[str, int]:
    """The archive of `archive_n` reports (bench/archive.py) and the API measures' 2,000 seeded
    reports (bench/datasets.py), both made by their own idempotent functions; the seeded ones are
    made again only when another measure left them otherwise (its POSTs are deleted after it)."""
    from bench.archive import archive_ensure
    from bench.datasets import bench_city_ensure, reports_seed
    from issues.models import Report

    city = bench_city_ensure()
    archive = archive_ensure(n=archive_n)
    if Report.objects.filter(category_id=city.category_id).count() != SEEDED:
        reports_seed(city, SEEDED)
    _updates_ensure(archive_category_id=archive.category_id)
    return {"archive_category_id": archive.category_id, "total": Report.objects.count()}


def _window() -> tuple[datetime, datetime]:
    """A quarter of the last year's spring, in both archives (ten years of reports at their spread)."""
    end = (datetime.now().astimezone() - timedelta(days=270)).replace(microsecond=0)
    return end - timedelta(days=90), end


def _updates_ensure(*, archive_category_id: int) -> None:
    """UPDATES_N public notes on archive reports received before the window, spread evenly over it
    (the window moves a day a day: they are made again when they no longer all fall in it). The
    archive has no events of its own; these are the only ones the measure adds, marked by their
    actor label, and its reports are not touched."""
    from issues.events import note_event
    from issues.models import Report, ReportEvent

    start, end = _window()
    # A day inside the window at both ends: the request computes its window a little later.
    first, last = start + timedelta(days=1), end - timedelta(days=1)
    mine = ReportEvent.objects.filter(actor_label=UPDATES_LABEL)
    if mine.count() == UPDATES_N and mine.filter(at__gte=first, at__lte=last).count() == UPDATES_N:
        return
    mine.delete()
    reports = Report.objects.filter(category_id=archive_category_id, created_at__lt=start).order_by("id")
    step = (last - first) / UPDATES_N
    for index, report in enumerate(reports[:UPDATES_N]):
        event = note_event(report=report, note="bench update", public=True, actor_label=UPDATES_LABEL)
        ReportEvent.objects.filter(pk=event.pk).update(at=first + step * index)


@contextmanager
def _server_on(database_url: str) -> Iterator[str]:
    # gunicorn takes the bench process's environment (bench/server.py): for the small side the
    # database is swapped in for the moment the server starts.
    saved = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = database_url
    try:
        manager = gunicorn(SERVER)
        base = manager.__enter__()
    finally:
        os.environ["DATABASE_URL"] = saved
    try:
        yield base
    finally:
        manager.__exit__(*sys.exc_info())


@dataclass(frozen=True)
class Side:
    name: str
    database_url: str
    total: int
    middle_cursor: str  # the cursor of the report halfway down the newest-first list


def _vacuum(database_url: str) -> None:
    """What autovacuum does for a live database: the visibility map set and the statistics fresh.
    reports_seed's VACUUM FULL (bench/datasets.py) rewrites the table and leaves the map empty, and
    without it every capped count reads the rows themselves instead of the index alone. Rewrites
    nothing: a few seconds on the million when the map is empty, a moment when it is set."""
    import psycopg

    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) issues_report, issues_reportevent")


def _middle_cursor(database_url: str) -> tuple[int, str]:
    import psycopg

    from issues.cursor import PageCursor, cursor_encode

    with psycopg.connect(_libpq(database_url)) as conn:
        (total,) = conn.execute("SELECT count(*) FROM issues_report").fetchone()  # type: ignore[misc]
        row = conn.execute(
            "SELECT created_at, id FROM issues_report ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
            [total // 2],
        ).fetchone()
    assert row is not None
    return total, cursor_encode(PageCursor(created_at=row[0], id=row[1]))


def _requests(side: Side) -> dict[str, str]:
    """The fixed set of public reads, as paths; the same on both sides but for the deep page's
    cursor (halfway down each side's list)."""
    from bench.archive import ARCHIVE_CATEGORY

    start, end = _window()
    window = urllib.parse.urlencode(
        {"start_date": start.isoformat(), "end_date": end.isoformat(), "page_size": PAGE_SIZE}
    )
    page = f"page_size={PAGE_SIZE}"
    return {
        "first page": f"/api/reports/?{page}",
        "open reports": f"/api/reports/?status=open&{page}",
        "deep page (cursor)": f"/api/reports/?{page}&cursor={side.middle_cursor}",
        "text search": f"/api/reports/?q={urllib.parse.quote('فاضلاب')}&{page}",
        "text search (common word)": f"/api/reports/?q={urllib.parse.quote('چاله')}&{page}",
        "category and status": f"/api/reports/?category={ARCHIVE_CATEGORY}&status=open&{page}",
        "Open311 date range": f"/open311/v2/requests.json?{window}",
        "Open311 updates date range": f"/open311/v2/servicerequestupdates.json?{window}",
    }


def _get(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - 127.0.0.1 only
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status}")
    return time.perf_counter() - started, body


def _items(body: bytes) -> int:
    data = json.loads(body)
    return len(data["features"]) if isinstance(data, dict) else len(data)


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


@measure("public_reads_scaling")
def public_reads_scaling() -> list[Result]:
    """The public list and search requests, each timed against an archive of 10,000 reports and one
    of 1,002,000, in the same run: the first page of `GET /api/reports/` (100 reports), the city's
    open reports, a deep page (the cursor of the report halfway down the list: the 5,001st on one
    side, the 501,001st on the other), a text search (`q=فاضلاب`, the 333 seeded reports that hold
    the word), a text search for a word in nearly every report (`q=چاله`), a category with a status
    (the archive's category, open), an Open311 date range (a 90-day window of last year, 100 a
    page), and Open311's updates feed over the same window (the first 100 of the 300 public notes
    the measure puts in it on each side: the archive has no events; the feed's cost against the
    reports it joins, not against a larger events table). Each page holds 100 reports on both sides: the same answer, from a hundred times the
    archive. Figure: the worst ratio of the p95 latencies (1,000,000 / 10,000) over the requests;
    target at most 1.5, a page costing the same whatever the archive's size.

    Data: the bench database (`open137_bench`) holds the archive of bench/archive.py (1,000,000
    reports over ten years, statuses by age) and the API measures' 2,000 seeded reports
    (bench/datasets.py). The small side is a database of its own, `open137_bench_small` next to it,
    made once (kept between runs, checked each time) by the same two functions: an archive of 8,000
    with the same spread (seeded points in the counties, ten years, statuses by age) and the same
    2,000 seeded reports, 10,000 in all. On each side the measure adds 300 public notes on archive
    reports, spread over the Open311 window (`_updates_ensure`, actor label `bench:public_reads`;
    made again only when the window has moved past them). Both tables are vacuumed (plain `VACUUM (ANALYZE)`, as
    autovacuum keeps a live database: the other API measures' VACUUM FULL leaves the visibility map
    empty, and the capped counts would read rows instead of index entries). Servers: one gunicorn per database (1 sync worker each,
    bench/server.py), both up at once; one client sends each request to both sides in turn (which
    side goes first alternates), 15 times to warm up and then 200 times timed, from sending the
    request to reading the whole answer. Before timing, every request is checked to answer 200 with
    the same number of items on both sides."""
    from django.db import connection

    name = "public_reads_scaling"
    big_url = os.environ["DATABASE_URL"]
    small_url = _small_url(big_url)
    # The archive's size: a million by default, ten million with `make bench ARCHIVE=10000000`.
    archive_n = archive_size()
    big_label = f"{archive_n / 1_000_000:g}M"
    say(name, f"the {archive_n:,}-report side: archive and seeded reports")
    made = _reports_ensure(archive_n=archive_n)
    connection.close()
    say(name, f"{made['total']:,} reports; the 10,000-report side: {small_url.rsplit('/', 1)[-1]}")
    env = {**os.environ, "DATABASE_URL": small_url, "DJANGO_SETTINGS_MODULE": "open137.settings"}
    subprocess.run(
        [sys.executable, "-c", "from bench.measures.public_reads import small_database_main as m; m()"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    for url in (small_url, big_url):
        _vacuum(url)
    sides = []
    for side_name, url in (("10k", small_url), (big_label, big_url)):
        total, cursor = _middle_cursor(url)
        sides.append(Side(side_name, url, total, cursor))
    small, big = sides
    say(name, f"{small.total:,} and {big.total:,} reports; starting {SERVER.describe()} on each")
    with _server_on(small.database_url) as small_base, _server_on(big.database_url) as big_base:
        bases = {small.name: small_base, big.name: big_base}
        paths = {side.name: _requests(side) for side in sides}
        labels = list(paths[small.name])
        for label in labels:
            counts = {s.name: _items(_get(bases[s.name] + paths[s.name][label])[1]) for s in sides}
            if len(set(counts.values())) != 1:
                raise RuntimeError(f"{label}: {counts} items; the pages must hold as many on both sides")
            say(name, f"{label}: {counts[small.name]} items on each side")
        samples: dict[tuple[str, str], list[float]] = {(label, s.name): [] for label in labels for s in sides}
        for index in range(WARMUP + REPEATS):
            for label in labels:
                order = sides if index % 2 == 0 else sides[::-1]
                for side in order:
                    seconds, _body = _get(bases[side.name] + paths[side.name][label])
                    if index >= WARMUP:
                        samples[(label, side.name)].append(seconds * 1000)
    ratios = {}
    for label in labels:
        p95_small, p95_big = _p95(samples[(label, small.name)]), _p95(samples[(label, big.name)])
        ratios[label] = (p95_big / p95_small, p95_big, p95_small)
        say(
            name,
            f"{label}: p95 {p95_big:.1f} ms at {big_label}, {p95_small:.1f} ms at 10k: {p95_big / p95_small:.2f}×",
        )
    worst = max(ratios, key=lambda label: ratios[label][0])
    _ratio, p95_big, p95_small = ratios[worst]
    return [
        ratio_result(
            name=name,
            value=p95_big,
            unit="ms",
            reference=f"p95 of the same request at {small.total:,} reports (worst of {len(labels)}: {worst})",
            reference_value=p95_small,
            max_ratio=MAX_RATIO,
            digits=2,
        )
    ]

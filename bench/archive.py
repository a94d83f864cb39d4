"""A city's archive for the measures that must hold at scale: `n` reports (1,000,000 by default,
about ten years of a city of Qazvin's size) at seeded random points inside the counties, routed by
the project's bulk routing (districts.selectors.district_codes_for_points) to their county and its
unit, spread over ten years with the statuses a live city has (most old reports closed, recent ones
open), written with COPY in a minute or so and kept between runs (a marker row says what was made).

The archive's reports belong to a category of their own, so the API measures' small seeded sets
(bench/datasets.py reports_seed) never touch it. They have no events or photos: the reads measured
on it (inboxes, lists) read neither.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.datasets import BENCH_DEPARTMENT, SEED, BenchCity, bench_city_ensure, counties

ARCHIVE_CATEGORY = "bench-archive"
ARCHIVE_YEARS = 10
MARKER_TABLE = "bench_archive_marker"
_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
# Statuses by age: reports of the last months are mostly open, older ones mostly closed.
_RECENT = (
    ("forwarded", 30),
    ("acknowledged", 20),
    ("in_progress", 15),
    ("done", 10),
    ("closed", 20),
    ("received", 5),
)
_OLD = (("closed", 85), ("duplicate", 5), ("not_responsible", 5), ("done", 3), ("in_progress", 2))


@dataclass(frozen=True)
class Archive:
    city: BenchCity
    category_id: int
    n: int
    # The county with the most reports, and its district row id: a district manager's scope.
    busiest_county: str
    busiest_district_id: int


def _code(i: int) -> str:
    # A permutation of the code space (an odd multiplier modulo 25**8): distinct, random-looking
    # codes that cannot clash with each other; prefixed by "Z"-free letters like any other code.
    number = (i * 48_271_193 + 7_919) % (25**8)
    letters = []
    for _ in range(8):
        number, index = divmod(number, 25)
        letters.append(_ALPHABET[index])
    return "".join(letters)


def archive_ensure(n: int = 1_000_000) -> Archive:
    """The archive of `n` reports, made once (or again when `n` changed)."""
    from django.contrib.gis.geos import Point  # noqa: F401  (GeoDjango set up)
    from django.db import connection, transaction

    from districts.models import District, ServiceArea
    from issues.models import Category, MessageKind

    city = bench_city_ensure()
    category, _created = Category.objects.update_or_create(
        code=ARCHIVE_CATEGORY,
        defaults={
            "name_fa": "بایگانی آزمون سرعت",
            "name_en": "Bench archive",
            "department_id": city.department_id,
            "kind": MessageKind.SERVICE_REQUEST,
            "active": False,
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (category_id bigint, n bigint, seed bigint)"
        )
        cursor.execute(f"SELECT n, seed FROM {MARKER_TABLE} WHERE category_id = %s", [category.pk])
        marker = cursor.fetchone()
    districts = dict(
        District.objects.filter(boundary_set__active=True, level__gt=0).values_list("code", "id")
    )
    if marker != (n, SEED):
        _generate(n=n, category_id=category.pk, districts=districts)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {MARKER_TABLE} WHERE category_id = %s", [category.pk])
            cursor.execute(f"INSERT INTO {MARKER_TABLE} VALUES (%s, %s, %s)", [category.pk, n, SEED])
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT d.code, r.district_id, count(*) FROM issues_report r JOIN districts_district d ON d.id = r.district_id
                WHERE r.category_id = %s GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1""",
            [category.pk],
        )
        busiest_code, busiest_id, _count = cursor.fetchone()
    assert ServiceArea.objects.filter(code__startswith=BENCH_DEPARTMENT).exists()
    _vacuumed(connection)
    return Archive(city, category.pk, n, busiest_code, busiest_id)


def _vacuumed(connection: Any) -> None:
    """Vacuum the reports' table when much of it is not marked all-visible.

    A city's table is kept so by autovacuum, which runs after enough rows are written: its map of
    the pages that every transaction can see lets an index-only scan skip the table. A table filled
    at once and not yet vacuumed (or whose statistics a restart of the database dropped, so that
    autovacuum does not know of the rows) would be measured in a state a running city never is in,
    both sides alike."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'issues_report'")
        pages, visible = cursor.fetchone()
        if pages and visible < 0.9 * pages:
            print(f"[bench] vacuuming issues_report ({visible:,} of {pages:,} pages all-visible)", flush=True)
            cursor.execute("VACUUM (ANALYZE) issues_report")


def _generate(*, n: int, category_id: int, districts: dict[str, int]) -> None:
    import time

    from django.db import connection

    from districts.models import ServiceArea
    from districts.selectors import district_codes_for_points

    started = time.monotonic()
    print(f"[bench] making an archive of {n:,} reports (once; kept between runs)", flush=True)
    rng = np.random.default_rng(SEED + 10)
    import shapely
    from shapely.geometry import shape

    union = shapely.union_all([shape(c.geometry) for c in counties()])
    shapely.prepare(union)
    min_x, min_y, max_x, max_y = union.bounds
    lons = np.empty(0)
    lats = np.empty(0)
    while len(lons) < n:
        x = rng.uniform(min_x, max_x, n)
        y = rng.uniform(min_y, max_y, n)
        inside = shapely.contains_xy(union, x, y)
        lons = np.concatenate([lons, x[inside]])
        lats = np.concatenate([lats, y[inside]])
    lons, lats = lons[:n], lats[:n]
    codes = district_codes_for_points(lons=lons.tolist(), lats=lats.tolist())
    units = dict(
        ServiceArea.objects.filter(department__code=BENCH_DEPARTMENT, active=True)
        .exclude(district_code="")
        .values_list("district_code", "id")
    )
    central = ServiceArea.objects.get(code=f"{BENCH_DEPARTMENT}-central").pk
    # Ages from 0 to ten years, newest last in id order (as reports arrive).
    ages_days = np.sort(rng.uniform(0, 365.25 * ARCHIVE_YEARS, n))[::-1]
    recent = [s for s, w in _RECENT for _ in range(w)]
    old = [s for s, w in _OLD for _ in range(w)]
    pick_recent = rng.integers(0, len(recent), n)
    pick_old = rng.integers(0, len(old), n)
    supports = rng.choice([0, 0, 0, 0, 1, 2, 5], n)
    buffer = io.StringIO()
    for i in range(n):
        code = codes[i]
        district_id = districts.get(code) if code else None
        unit = (units.get(code, central) if code else None) or ""
        status = recent[pick_recent[i]] if ages_days[i] < 120 else old[pick_old[i]]
        age = float(ages_days[i])
        buffer.write(
            f"{_code(i)}\t{category_id}\tSRID=4326;POINT({lons[i]:.6f} {lats[i]:.6f})\t{status}\t"
            f"{district_id if district_id else chr(92) + 'N'}\t{unit if unit else chr(92) + 'N'}\t"
            f"{'covers' if district_id else 'triage'}\t{int(supports[i])}\t{age:.5f}\n"
        )
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM issues_report WHERE category_id = %s", [category_id])
        cursor.execute(
            """CREATE TEMP TABLE archive_in (code text, category_id bigint, location text, status text,
                 district_id bigint, service_area_id bigint, rule text, supports int, age_days float8)"""
        )
        with cursor.connection.cursor().copy("COPY archive_in FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        cursor.execute(
            """INSERT INTO issues_report (tracking_code, city, kind, description, description_search, location,
                   address, status, channel, routing_rule, routing_distance_m, routed_at, reporter_name,
                   reporter_phone, reporter_email, created_at, updated_at, category_id, district_id,
                   service_area_id, attributes, consent_contact, support_count, idempotency_fingerprint,
                   acknowledge_due_at, expected_at, messages_stopped, referred_to, version)
               SELECT code, 'qazvin', 'service_request', 'چاله در مسیر (بایگانی)', 'چاله در مسیر (بایگانی)',
                   location::geometry, '', status, 'web', rule, 0, t, '', '', '', t, t, category_id,
                   district_id, service_area_id, '{}'::jsonb, false, supports, '',
                   t + interval '1 day', t + interval '5 days', false, '', 1
                 FROM (SELECT *, now() - age_days * interval '1 day' AS t FROM archive_in) a"""
        )
        cursor.execute("DROP TABLE archive_in")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE issues_report")
    print(f"[bench] archive of {n:,} reports made in {time.monotonic() - started:.0f} s", flush=True)

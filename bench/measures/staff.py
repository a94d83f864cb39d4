"""The staff side at a city's scale: a district manager's inbox over an archive of a million reports,
and the acknowledge transition under 16 clients (the set-up of each is in its docstring)."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.archive import archive_ensure
from bench.db import archive_size
from bench.registry import Result, measure, min_ratio_result, ratio_result, say
from bench.server import ServerConfig, Target, gunicorn, load_alternating, median_round, wrk_available
from bench.timing import gc_paused

ARCHIVE_SIZE = archive_size()
INBOX_PAGE = 50
INBOX_ROUNDS = 300
INBOX_P95_TARGET_MS = 100.0
MANAGER = "bench-manager"
MANAGER_PASSWORD = "bench-manager-pass"  # noqa: S105 (the bench database only)

# The bare SQL of the manager's first page: the same rows, columns, order and limit as the inbox
# (issues.workflow.inbox.staff_report_page) reads for a district manager, on a prepared statement.
BARE_INBOX_SQL = """
SELECT r.id, r.tracking_code, r.version, r.status, r.kind, r.channel, r.description, r.address,
       c.code, c.name_fa, c.name_en, d.code, d.name_fa, d.name_en, sa.code, sa.unit_name_fa, sa.unit_name_en,
       u.username, r.support_count, r.created_at, r.updated_at, r.acknowledge_due_at, r.expected_at,
       ST_X(r.location), ST_Y(r.location),
       (r.status = ANY(%(open)s) AND (r.expected_at < now()
          OR (r.status = ANY(%(awaiting)s) AND r.acknowledge_due_at < now()))) AS overdue
  FROM issues_report r
  JOIN issues_category c ON c.id = r.category_id
  LEFT JOIN districts_district d ON d.id = r.district_id
  LEFT JOIN districts_servicearea sa ON sa.id = r.service_area_id
  LEFT JOIN auth_user u ON u.id = r.assigned_to_id
 WHERE r.district_id = ANY(%(districts)s) AND NOT (r.kind = ANY(%(supervisor_only)s))
 ORDER BY r.created_at DESC, r.id DESC
 LIMIT %(limit)s"""


def _manager(district_code: str) -> Any:
    from django.contrib.auth import get_user_model

    from issues.models import StaffProfile
    from issues.workflow.staff import staff_user_create

    users = get_user_model()
    user = users.objects.filter(username=MANAGER).first()
    if user is None:
        return staff_user_create(
            username=MANAGER,
            password=MANAGER_PASSWORD,
            role="district_manager",
            district_codes=[district_code],
        )
    StaffProfile.objects.filter(user=user).update(district_codes=[district_code])
    return user


def _p(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(percent / 100 * (len(ordered) - 1))))]


@measure("staff_inbox_page")
def staff_inbox_page() -> list[Result]:
    """A district manager's inbox: `GET /api/staff/reports/?page_size=50`, the first page of 50 with
    its map data (a GeoJSON FeatureCollection: points, state, overdue, deadlines), over an archive of
    1,000,000 reports (bench/archive.py; ten years of a city, one county's share in the manager's
    scope), timed in the server process (Django's test client: middleware, authentication by
    the manager's API token, scope, the query, the GeoJSON) against the bare SQL of the same scoped page on a prepared psycopg
    statement (same rows, columns, order and limit; no Python beyond fetching the rows). The two take
    turns, 300 requests each after a warm-up; p95 of each.

    Rows: `staff_inbox_page`, the project's p95 against the bare SQL's (target: within 2×), and
    `staff_inbox_page_p95`, the project's p95 against 100 ms (target: under it). `OPEN137_BENCH_ARCHIVE`
    sets another archive size (the archive is made once and kept)."""
    import psycopg
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from bench.db import libpq_url
    from issues.models import OPEN_STATUSES
    from issues.workflow.inbox import AWAITING_ACKNOWLEDGEMENT
    from issues.workflow.scope import staff_scope
    from issues.workflow.transitions import SUPERVISOR_ONLY_KINDS

    name = "staff_inbox_page"
    archive = archive_ensure(ARCHIVE_SIZE)
    manager = _manager(archive.busiest_county)
    token, _created = Token.objects.get_or_create(user=manager)
    # As the mobile app and a city's back-end call it: with the manager's API token.
    client = Client(headers={"Authorization": f"Token {token.key}"})
    url = f"/api/staff/reports/?page_size={INBOX_PAGE}"
    first = client.get(url)
    if first.status_code != 200:
        raise RuntimeError(f"GET {url}: {first.status_code} {first.content[:300]!r}")
    features = json.loads(first.content)["features"]
    manager_scope = staff_scope(user=manager)
    assert manager_scope is not None
    params = {
        "open": sorted(OPEN_STATUSES),
        "awaiting": list(AWAITING_ACKNOWLEDGEMENT),
        "districts": sorted(manager_scope.district_ids or ()),
        "supervisor_only": sorted(SUPERVISOR_ONLY_KINDS),
        "limit": INBOX_PAGE + 1,
    }
    with psycopg.connect(libpq_url()) as conn:
        bare_rows = conn.execute(BARE_INBOX_SQL, params, prepare=True).fetchall()
        if [f["id"] for f in features] != [row[1] for row in bare_rows[:INBOX_PAGE]]:
            raise RuntimeError("the project's page and the bare SQL's hold different reports")
        say(name, f"{archive.n:,} reports; county {archive.busiest_county}; both pages agree; timing")
        ours: list[float] = []
        bare: list[float] = []
        for _ in range(30):
            client.get(url)
            conn.execute(BARE_INBOX_SQL, params, prepare=True).fetchall()
        with gc_paused():
            for i in range(INBOX_ROUNDS):
                for side in ("ours", "bare") if i % 2 == 0 else ("bare", "ours"):
                    started = time.perf_counter()
                    if side == "ours":
                        response = client.get(url)
                        if response.status_code != 200:
                            raise RuntimeError(f"GET {url}: {response.status_code}")
                        ours.append(time.perf_counter() - started)
                    else:
                        conn.execute(BARE_INBOX_SQL, params, prepare=True).fetchall()
                        bare.append(time.perf_counter() - started)
    p95, bare_p95 = _p(ours, 95) * 1000, _p(bare, 95) * 1000
    say(
        name,
        f"median {statistics.median(ours) * 1000:.1f} ms vs {statistics.median(bare) * 1000:.2f} ms; "
        f"p95 {p95:.1f} ms vs {bare_p95:.2f} ms",
    )
    return [
        ratio_result(
            name=name,
            value=p95,
            unit="ms p95",
            reference=f"bare SQL of the same scoped page (prepared psycopg), {archive.n:,} reports",
            reference_value=bare_p95,
            max_ratio=2.0,
            digits=2,
        ),
        ratio_result(
            name=f"{name}_p95",
            value=p95,
            unit="ms",
            reference=f"target {INBOX_P95_TARGET_MS:g} ms",
            reference_value=INBOX_P95_TARGET_MS,
            max_ratio=1.0,
            digits=1,
        ),
    ]


SERVER = ServerConfig(workers=3)
CONNECTIONS = 16
POOL = 40_000


def _transition_lua(codes: list[str], *, token: str | None, path: str, counter: str) -> str:
    """A wrk script acknowledging the next report per request. wrk runs several times (warm-up,
    rounds): the position in the list is kept in a file, so no report is acknowledged twice."""
    table = ",".join(f'"{code}"' for code in codes)
    auth = f', ["Authorization"] = "Token {token}"' if token else ""
    return f"""
local codes = {{{table}}}
local counter = "{counter}"
local f = io.open(counter, "r")
local sent = f and tonumber(f:read("*a")) or 0
if f then f:close() end
local headers = {{["Content-Type"] = "application/json"{auth}}}
function request()
  sent = sent + 1
  local out = io.open(counter, "w")
  out:write(tostring(sent))
  out:close()
  local code = codes[((sent - 1) % #codes) + 1]
  return wrk.format("POST", string.format("{path}", code), headers, '{{"action": "acknowledge"}}')
end
"""


@measure("report_transition_post")
def report_transition_post() -> list[Result]:
    """`POST /api/staff/reports/<code>/actions/` with `{"action": "acknowledge"}` and a district
    manager's token, each request on the next of up to 40,000 forwarded reports of the manager's county
    in the archive (bench/archive.py), so every one is a real transition: token authentication, the
    manager's scope, the report locked, the transition table checked, the status, version and
    acknowledgement time written with a public event, the reporter's message composed (the archive's
    reporters left no contact, so none is queued), the answer with the new state. The reference, in
    the same gunicorn server (3 sync workers) and wrk run (16 connections, alternating rounds as in
    `report_list_geojson`), is a bare Django view that reads the same JSON body and changes one row's
    status by its code with one UPDATE in autocommit (bench/views.py `bare_update`). Target: the
    project at least 40 % of the bare view's requests per second (median round)."""
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from bench.views import BARE_UPDATE_TABLE, BARE_UPDATE_TABLE_SQL
    from issues.models import Report

    name = "report_transition_post"
    wrk_available()
    archive = archive_ensure(ARCHIVE_SIZE)
    manager = _manager(archive.busiest_county)
    token, _created = Token.objects.get_or_create(user=manager)
    codes = list(
        Report.objects.filter(category_id=archive.category_id, district_id=archive.busiest_district_id)
        .order_by("-id")
        .values_list("tracking_code", flat=True)[:POOL]
    )
    # Every measured report starts forwarded; the bare view's table holds the same codes.
    Report.objects.filter(tracking_code__in=codes).update(status="forwarded", acknowledged_at=None, version=1)
    with connection.cursor() as cursor:
        cursor.execute(BARE_UPDATE_TABLE_SQL)
        cursor.execute(f"TRUNCATE {BARE_UPDATE_TABLE}")
        cursor.execute(
            f"INSERT INTO {BARE_UPDATE_TABLE} (code, status) SELECT unnest(%s::text[]), 'forwarded'", [codes]
        )
    say(
        name,
        f"{len(codes):,} forwarded reports in county {archive.busiest_county}; starting {SERVER.describe()}",
    )
    with gunicorn(SERVER) as base:
        probe = urllib.request.Request(
            f"{base}/api/staff/reports/{codes[-1]}/actions/",
            data=b'{"action": "acknowledge"}',
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {token.key}"},
        )
        with urllib.request.urlopen(probe, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
            if response.status != 200:
                raise RuntimeError(f"a first acknowledge answered {response.status}")
        counters = Path(tempfile.mkdtemp(prefix="open137-bench-"))
        targets = {
            "project": Target(
                base + "/",
                _transition_lua(
                    codes[:-1],
                    token=token.key,
                    path="/api/staff/reports/%s/actions/",
                    counter=str(counters / "project"),
                ),
            ),
            "bare view": Target(
                base + "/",
                _transition_lua(
                    codes, token=None, path="/bench/bare/update/%s/", counter=str(counters / "bare")
                ),
            ),
        }
        results = load_alternating(
            targets,
            connections=CONNECTIONS,
            warmup_s=2.0,
            rounds=5,
            round_s=4.0,
            drain_url=base + "/api/categories/",
            say=lambda message: say(name, message),
        )
    project_rps, bare_rps = median_round(results["project"], results["bare view"])
    acknowledged = Report.objects.filter(tracking_code__in=codes, status="acknowledged").count()
    answered = sum(r.requests for r in results["project"])
    say(name, f"{answered:,} acknowledged by the load ({acknowledged:,} reports now acknowledged)")
    return [
        min_ratio_result(
            name=name,
            value=project_rps,
            unit="req/s",
            reference=f"bare Django view, one UPDATE ({SERVER.describe()}, {CONNECTIONS} clients)",
            reference_value=bare_rps,
            min_ratio=0.4,
            digits=1,
        )
    ]

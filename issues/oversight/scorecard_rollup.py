"""The scorecards' maintained aggregate (migration issues 0016): the numbers of the reports received
each local day, per district, unit and category, with histograms of the working hours to acknowledge
and to resolve, so that a city's year is a sum over a few thousand rows instead of a read of a few
hundred thousand reports.

Never stale when read: triggers note the days whose reports changed (a report written, a reopen
event, a rating: `issues_scorecard_dirty`), and each row says when its numbers change without any
write (`valid_until`: an open report's deadline passing). `scorecard_rollup_refresh`, called before
every read, recomputes those days from the reports, under an advisory lock, with the same fact
expressions as the exact statement (scorecard_sql.FACT_COLUMNS_SQL); another working calendar (office
hours, holidays) rebuilds it all.

What the aggregate cannot give exactly, and how it is approximated:
- the medians of working hours come from the histograms (BOUNDS_HOURS): linear within the bucket
  where the median falls, so at most that bucket's width off (a quarter of an hour under two hours,
  about a tenth of the value above);
- the backlog's median age counts each report from the middle of its day of receipt (at most half a
  day off).
Everything else (counts, shares, averages, the oldest open report) is exact.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from issues.oversight.scorecard_sql import FACT_JOINS_SQL, fact_columns_sql
from issues.workflow.sla import WorkingCalendar

BUCKETS = 40  # the histogram columns a0..a39, r0..r39 of migration 0016
# Lower bounds of the buckets, in working hours (the last is open-ended). A working day is 7 hours.
BOUNDS_HOURS: tuple[float, ...] = (
    0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 14, 17.5,
    21, 24.5, 28, 35, 42, 49, 56, 70, 84, 105, 126, 154, 175, 210, 280, 350, 490, 700, 1050, 1400,
)  # fmt: skip
assert len(BOUNDS_HOURS) == BUCKETS

_LOCK = 137_009  # pg_advisory_xact_lock key: one refresh at a time

_HIST_SELECT = ",\n".join(
    [f"       count(*) FILTER (WHERE ack_b = {i}) AS a{i}" for i in range(BUCKETS)]
    + [f"       count(*) FILTER (WHERE res_b = {i}) AS r{i}" for i in range(BUCKETS)]
)
_HIST_NAMES = ", ".join([f"a{i}" for i in range(BUCKETS)] + [f"r{i}" for i in range(BUCKETS)])

# One row per (local day, district, unit, category) of the reports received on the days asked.
REFRESH_SQL = f"""
INSERT INTO issues_scorecard_day (day, district_id, service_area_id, category_id, received, generated,
    backlog, backlog_oldest_at, acknowledged, resolved, by_citizens, sla_decided, sla_met,
    work_reported, reopened, ratings, rating_sum, valid_until, {_HIST_NAMES})
SELECT day, district_id, service_area_id, category_id,
       count(*), count(*) FILTER (WHERE generated),
       count(*) FILTER (WHERE is_open), min(created_at) FILTER (WHERE is_open),
       count(ack_s), count(resolve_s), count(*) FILTER (WHERE by_citizens),
       count(sla_met), count(*) FILTER (WHERE sla_met),
       count(*) FILTER (WHERE done OR reopened), count(*) FILTER (WHERE reopened),
       count(score), coalesce(sum(score), 0),
       min(expected_at) FILTER (WHERE is_open AND sla_met IS NULL AND NOT by_citizens
                                AND expected_at >= %(now)s AND NOT excluded),
{_HIST_SELECT}
  FROM (
    SELECT f.*, width_bucket(f.ack_s / 3600.0, %(bounds)s::float8[]) AS ack_b,
           width_bucket(f.resolve_s / 3600.0, %(bounds)s::float8[]) AS res_b
      FROM (
        SELECT (r.created_at AT TIME ZONE %(tz)s)::date AS day, r.district_id, r.service_area_id,
               r.category_id, r.generated, r.created_at, r.expected_at,
               r.status = ANY(%(not_unit_work)s::text[]) AS excluded,{{facts}}
          FROM issues_report r{{joins}}
          JOIN unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[]) AS b(lo, hi)
            ON r.created_at >= b.lo AND r.created_at < b.hi
      ) f
  ) g
 GROUP BY day, district_id, service_area_id, category_id
 -- Stored in day order: a period is then a run of neighbouring pages.
 ORDER BY day"""

_SUMS = (
    "received", "generated", "acknowledged", "resolved", "by_citizens", "sla_decided",
    "sla_met", "work_reported", "reopened", "ratings", "rating_sum",
)  # fmt: skip
_PERIOD_SUMS = ",\n".join(f"       sum({c}) AS {c}" for c in _SUMS)
_HIST_SUMS = ",\n".join(
    [f"       sum(a{i}) AS a{i}" for i in range(BUCKETS)]
    + [f"       sum(r{i}) AS r{i}" for i in range(BUCKETS)]
)
_GROUP_COLUMNS = """CASE WHEN GROUPING(district) = 0 THEN 'district' WHEN GROUPING(unit) = 0 THEN 'unit'
              WHEN GROUPING(week) = 0 THEN 'week' WHEN GROUPING(month) = 0 THEN 'month'
              ELSE 'city' END AS dimension,
         district, unit, week, month"""
# The aggregate's row is `r`, so the filters' SQL pieces (category, district, a manager's
# districts) apply unchanged.
_ROWS = """
    FROM issues_scorecard_day r
    LEFT JOIN districts_district d ON d.id = r.district_id
    LEFT JOIN districts_servicearea sa ON sa.id = r.service_area_id"""

# The period's numbers: the same groups as scorecard_sql.SCORECARD_SQL.
READ_PERIOD_SQL = f"""
SELECT {_GROUP_COLUMNS},
{_PERIOD_SUMS},
{_HIST_SUMS}
  FROM (
  SELECT r.*, d.code AS district, sa.code AS unit,
         floor((r.day - %(week_base)s::date) / 7.0)::int AS week,
         width_bucket(r.day, %(month_starts)s::date[]) AS month{_ROWS}
   WHERE r.day >= %(since_day)s AND r.day < %(until_day)s {{filters}}
  ) rows
 GROUP BY GROUPING SETS ((district), (unit), (week), (month), ())"""

# The open backlog, of every age (the weeks' and months' of their own reports only): per group and
# age in days since the day of receipt (AGE_BOUNDS_DAYS), its count and oldest report.
READ_BACKLOG_SQL = f"""
SELECT {_GROUP_COLUMNS}, age, sum(backlog) AS n, min(backlog_oldest_at) AS oldest
  FROM (
  SELECT d.code AS district, sa.code AS unit, r.backlog, r.backlog_oldest_at,
         CASE WHEN r.day >= %(since_day)s THEN floor((r.day - %(week_base)s::date) / 7.0)::int END AS week,
         CASE WHEN r.day >= %(since_day)s THEN width_bucket(r.day, %(month_starts)s::date[]) END AS month,
         width_bucket(%(today)s::date - r.day, %(age_bounds)s::int[]) AS age{_ROWS}
   WHERE r.backlog > 0 AND r.day < %(until_day)s {{filters}}
  ) rows
 GROUP BY GROUPING SETS ((district, age), (unit, age), (week, age), (month, age), (age))"""

# Lower bounds of the backlog's age buckets, in days since the day of receipt: one a day for a
# month, one a week to half a year, then one a month (30 days) to ten years, one beyond.
AGE_BOUNDS_DAYS: tuple[int, ...] = (
    *range(0, 31), *range(35, 183, 7), *range(210, 3660, 30),
)  # fmt: skip


def calendar_key(calendar: WorkingCalendar) -> str:
    """What the aggregate's working hours depend on: another key, and it is rebuilt."""
    text = repr(
        (calendar.day_start, calendar.day_end, calendar.thursday, calendar.thursday_end,
         sorted(calendar.holidays), str(calendar.timezone), BOUNDS_HOURS)
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


def _day_bounds(days: list[date], tz: Any) -> tuple[list[datetime], list[datetime]]:
    """Each local day as [start, next start), merged where days follow each other."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for day in sorted(set(days)):
        lo = datetime.combine(day, datetime.min.time(), tzinfo=tz)
        hi = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        if ends and ends[-1] == lo:
            ends[-1] = hi
        else:
            starts.append(lo)
            ends.append(hi)
    return starts, ends


def scorecard_rollup_refresh(*, calendar: WorkingCalendar, now: datetime, base_params: dict[str, Any]) -> int:
    """Bring the aggregate up to date: the days noted dirty, the rows whose `valid_until` passed, or
    everything under another calendar. `base_params` holds the fact expressions' parameters (the
    calendar arrays must reach from the oldest report to `now`). Returns the days recomputed."""
    from issues.oversight.scorecards import _run  # the JIT and sort memory settings

    tz = calendar.timezone
    key = calendar_key(calendar)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        cursor.execute("SELECT calendar_key FROM issues_scorecard_meta WHERE id = 1")
        found = cursor.fetchone()
        if found is None or found[0] != key:
            cursor.execute("DELETE FROM issues_scorecard_day")
            cursor.execute("DELETE FROM issues_scorecard_dirty")
            cursor.execute("SELECT min(created_at), max(created_at) FROM issues_report")
            first, last = cursor.fetchone()
            days: list[date] = []
            bounds: tuple[list[datetime], list[datetime]] = ([], [])
            if first is not None:
                bounds = ([first], [last + timedelta(microseconds=1)])
                days = [first.date()]
            cursor.execute(
                "INSERT INTO issues_scorecard_meta (id, calendar_key) VALUES (1, %s)"
                " ON CONFLICT (id) DO UPDATE SET calendar_key = EXCLUDED.calendar_key",
                [key],
            )
        else:
            cursor.execute("DELETE FROM issues_scorecard_dirty RETURNING day")
            utc_days = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT DISTINCT day FROM issues_scorecard_day WHERE valid_until < %s", [now])
            days = [row[0] for row in cursor.fetchall()]
            # A UTC date overlaps the local day before, itself and the one after.
            days += [d + timedelta(days=k) for d in utc_days for k in (-1, 0, 1)]
            if not days:
                return 0
            days = sorted(set(days))
            cursor.execute("DELETE FROM issues_scorecard_day WHERE day = ANY(%s)", [days])
            bounds = _day_bounds(days, tz)
        if not bounds[0]:
            return 0
        sql = REFRESH_SQL.format(facts=fact_columns_sql(), joins=FACT_JOINS_SQL)
        params = {
            **base_params,
            "lo": bounds[0],
            "hi": bounds[1],
            "bounds": [float(b) for b in BOUNDS_HOURS[1:]],
            "now": now,
        }
        _run(sql, params, fetch=False)
        return len(days)


def histogram_median(counts: list[int], bounds: tuple[float, ...] = BOUNDS_HOURS) -> float | None:
    """The median of a histogram over `bounds` (the buckets' lower bounds): linear within the
    bucket it falls in (the open-ended last bucket gives its lower bound)."""
    total = sum(counts)
    if not total:
        return None
    half = total / 2
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= half:
            lo = bounds[i]
            if i + 1 >= len(bounds):
                return float(lo)
            return lo + (bounds[i + 1] - lo) * (half - seen) / n
        seen += n
    return float(bounds[-1])

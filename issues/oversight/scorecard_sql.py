"""The scorecards' one SQL statement, in named pieces (as issues/oversight/sql.py names the map's).

One pass over the reports of the period (and the backlog, whatever its age) computes every number of
every group at once with GROUPING SETS: per district (by code, so a district redrawn in a new
boundary set stays one row), per unit (service area code), the whole city, per week and per Jalali
month. A report without a district or unit is its own row (code NULL), so the rows always sum to the
city's.

Working time in SQL, exactly as issues/workflow/sla.py counts it: the caller passes the calendar
as three arrays over the local days from `cal_base` on (the start and end of each day's work, in
seconds since local midnight, 0 and 0 for a day off, and the working seconds of all the days before
it). The working seconds from a fixed origin to a moment t are then

    cum[day(t)] + clamp(seconds_since_midnight(t) - start[day(t)], 0, end[day(t)] - start[day(t)])

and the working time between two moments is the difference: arithmetic per row, no loop and no
function call, so the medians are exact (percentile_cont over the exact durations).
"""

from __future__ import annotations

from issues.oversight.sql import CATEGORY_SQL, DISTRICT_SQL

# The local day of a timestamp column, as an index into the calendar arrays (1-based).
_DAY_INDEX = "((({col}) AT TIME ZONE %(tz)s)::date - %(cal_base)s::date + 1)"
# Seconds since local midnight.
_CLOCK = "EXTRACT(EPOCH FROM (({col}) AT TIME ZONE %(tz)s)::time)"


def working_clock_sql(col: str) -> str:
    """Working seconds from the calendar's origin to the moment in `col` (NULL if outside it)."""
    day = _DAY_INDEX.format(col=col)
    clock = _CLOCK.format(col=col)
    return (
        f"((%(cal_cum)s::float8[])[{day}] + LEAST(GREATEST({clock} - (%(cal_start)s::float8[])[{day}], 0),"
        f" (%(cal_end)s::float8[])[{day}] - (%(cal_start)s::float8[])[{day}]))"
    )


# A report's facts, on the report row `r` (with the joins below): open now, resolved by citizens,
# working seconds to acknowledge and to resolve, the resolve SLA's outcome (NULL while undecided),
# reopened at least once, a work report filed, the citizen's score.
FACT_COLUMNS_SQL = """
       r.status = ANY(%(open)s::text[]) AS is_open,
       r.status = %(by_citizens)s AS by_citizens,
       CASE WHEN r.acknowledged_at IS NOT NULL
            THEN {ack_clock} - {created_clock} END AS ack_s,
       CASE WHEN r.done_at IS NOT NULL AND r.status <> %(by_citizens)s
            THEN {done_clock} - {created_clock} END AS resolve_s,
       -- The resolve SLA is decided once the unit reported the work done, or once the deadline
       -- passed with the report still open; a report closed otherwise (duplicate, not responsible,
       -- resolved by citizens) is not the unit's to count.
       CASE WHEN r.expected_at IS NULL OR r.status = ANY(%(not_unit_work)s::text[]) THEN NULL
            WHEN r.done_at IS NOT NULL THEN r.done_at <= r.expected_at
            WHEN r.status = ANY(%(open)s::text[]) AND r.expected_at < %(now)s THEN false END AS sla_met,
       ro.report_id IS NOT NULL AS reopened,
       r.done_at IS NOT NULL AS done,
       s.score"""

FACT_JOINS_SQL = """
  LEFT JOIN issues_satisfactionrating s ON s.report_id = r.id
  -- Reopened at least once (by the reporter, or by 137 after a failed check): the unit's work
  -- report was not true. Read from the history (status events), hashed once.
  LEFT JOIN (SELECT DISTINCT e.report_id FROM issues_reportevent e
              WHERE e.kind = 'status' AND e.to_status = %(reopened)s) ro ON ro.report_id = r.id"""


def fact_columns_sql() -> str:
    return FACT_COLUMNS_SQL.format(
        ack_clock=working_clock_sql("r.acknowledged_at"),
        done_clock=working_clock_sql("r.done_at"),
        created_clock=working_clock_sql("r.created_at"),
    )


# What the scorecards read of a report, with its derived facts. `in_period`: received between since
# and until (the period's numbers); the open backlog counts whatever its age, so a report still open
# after years is on the scorecard too.
REPORT_FACTS_SQL = """
SELECT d.code AS district, sa.code AS unit, r.generated, r.created_at,
       r.created_at >= %(since)s AS in_period,{facts},
       CASE WHEN r.created_at >= %(since)s
            THEN floor(((r.created_at AT TIME ZONE %(tz)s)::date - %(week_base)s::date) / 7.0)::int END AS week,
       CASE WHEN r.created_at >= %(since)s
            THEN width_bucket((r.created_at AT TIME ZONE %(tz)s)::date, %(month_starts)s::date[]) END AS month
  FROM issues_report r
  LEFT JOIN districts_district d ON d.id = r.district_id
  LEFT JOIN districts_servicearea sa ON sa.id = r.service_area_id{joins}
 WHERE r.created_at < %(until_before)s
   AND (r.created_at >= %(since)s OR r.status = ANY(%(open)s::text[]))
   {filters}"""

# A district manager sees their own districts' reports (the district row ids of their scope).
SCOPE_DISTRICTS_SQL = "r.district_id = ANY(%(district_ids)s::bigint[])"

# Every number of a group. Durations in seconds; the caller turns them into hours and days.
GROUP_NUMBERS_SQL = """
       count(*) FILTER (WHERE in_period) AS received,
       count(*) FILTER (WHERE in_period AND generated) AS generated,
       count(*) FILTER (WHERE is_open) AS backlog,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(now)s - created_at))
           FILTER (WHERE is_open) AS backlog_median_age_s,
       min(created_at) FILTER (WHERE is_open) AS backlog_oldest_at,
       count(ack_s) FILTER (WHERE in_period) AS acknowledged,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ack_s) FILTER (WHERE in_period) AS ack_median_s,
       count(resolve_s) FILTER (WHERE in_period) AS resolved,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_s) FILTER (WHERE in_period) AS resolve_median_s,
       count(*) FILTER (WHERE in_period AND by_citizens) AS resolved_by_citizens,
       count(sla_met) FILTER (WHERE in_period) AS sla_decided,
       count(*) FILTER (WHERE in_period AND sla_met) AS sla_met,
       count(*) FILTER (WHERE in_period AND (done OR reopened)) AS work_reported,
       count(*) FILTER (WHERE in_period AND reopened) AS reopened,
       count(score) FILTER (WHERE in_period) AS ratings,
       avg(score) FILTER (WHERE in_period) AS rating_average"""

SCORECARD_SQL = """
WITH facts AS ({facts})
SELECT CASE WHEN GROUPING(district) = 0 THEN 'district'
            WHEN GROUPING(unit) = 0 THEN 'unit'
            WHEN GROUPING(week) = 0 THEN 'week'
            WHEN GROUPING(month) = 0 THEN 'month'
            ELSE 'city' END AS dimension,
       district, unit, week, month,
{numbers}
  FROM facts
 GROUP BY GROUPING SETS ((district), (unit), (week), (month), ())"""


def scorecard_filters_sql(*, categories: bool, district: bool, scope_districts: bool) -> str:
    """The filters given, as `AND ...` on the row `r` (a report, or a row of the aggregate)."""
    pieces = []
    if categories:
        pieces.append(CATEGORY_SQL)
    if district:
        pieces.append(DISTRICT_SQL)
    if scope_districts:
        pieces.append(SCOPE_DISTRICTS_SQL)
    return "".join(f"\n   AND {piece}" for piece in pieces)


def scorecard_sql(*, categories: bool, district: bool, scope_districts: bool) -> str:
    """The statement for this combination of filters (each its own prepared statement)."""
    filters = scorecard_filters_sql(categories=categories, district=district, scope_districts=scope_districts)
    facts = REPORT_FACTS_SQL.format(facts=fact_columns_sql(), joins=FACT_JOINS_SQL, filters=filters)
    return SCORECARD_SQL.format(facts=facts, numbers=GROUP_NUMBERS_SQL)

"""Scorecards: how each district and each unit serves its citizens, against the whole city, and how
that moves week by week and Jalali month by month (issue 9, duties 8 and 10).

Public numbers only: counts, medians, shares and averages, never a report, a name or a contact. The
one statement is issues/oversight/scorecard_sql.py; the definitions (what counts as received,
resolved, within SLA, reopened) are in issues/oversight/SCORECARDS.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import jdatetime
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg.pq import TransactionStatus

from districts.models import District, ServiceArea
from geo.text import to_persian_digits
from issues.filters import (
    FilterError,
    _clean,
    parse_categories,
    parse_district,
    parse_when,
)
from issues.models import OPEN_STATUSES, ReportStatus
from issues.oversight.scorecard_sql import scorecard_filters_sql, scorecard_sql
from issues.workflow.selectors import working_calendar
from issues.workflow.sla import WorkingCalendar
from open137.db import fetchall_prepared

# Closed without being the unit's work to time: the SLA does not count them.
NOT_UNIT_WORK = (ReportStatus.DUPLICATE, ReportStatus.NOT_RESPONSIBLE, ReportStatus.RESOLVED_BY_CITIZENS)


def scorecard_default_days() -> int:
    """Without `since`, the period is this many days back from `until` (default a year)."""
    return int(getattr(settings, "OPEN137_SCORECARD_DEFAULT_DAYS", 365))


def satisfaction_min_answers() -> int:
    return int(settings.OPEN137_SATISFACTION_MIN_ANSWERS)


@dataclass(frozen=True)
class ScorecardFilters:
    categories: tuple[str, ...] = ()
    district: str | None = None
    since: datetime | None = None
    until_before: datetime | None = None


def scorecard_filters_parse(params: Mapping[str, str]) -> ScorecardFilters:
    """The filters from query parameters (`category`, `district`, `since`, `until`, as
    /api/reports/ reads them), or FilterError (a 400)."""
    values = {name: _clean(params.get(name), name) for name in ("category", "district", "since", "until")}
    since = parse_when(values["since"], "since") if values["since"] else None
    until_before = parse_when(values["until"], "until", end_of_day=True) if values["until"] else None
    if since is not None and until_before is not None and since >= until_before:
        raise FilterError("since", _("since must be before until."))
    return ScorecardFilters(
        categories=parse_categories(values["category"]) if values["category"] else (),
        district=parse_district(values["district"]) if values["district"] else None,
        since=since,
        until_before=until_before,
    )


# --- The calendar as arrays (see scorecard_sql's docstring) -----------------------------------------


@dataclass(frozen=True)
class CalendarArrays:
    base: date
    start: list[float]
    end: list[float]
    cum: list[float]


@lru_cache(maxsize=8)
def calendar_arrays(calendar: WorkingCalendar, first: date, last: date) -> CalendarArrays:
    """Each local day's working hours from `first` to `last` (inclusive), in seconds, and the working
    seconds before it. Built from the calendar's own day rule, so SQL counts as sla.py counts."""
    start: list[float] = []
    end: list[float] = []
    cum: list[float] = []
    total = 0.0
    day = first
    while day <= last:
        hours = calendar._hours_us(day)
        lo, hi = (hours[0] / 1e6, hours[1] / 1e6) if hours else (0.0, 0.0)
        start.append(lo)
        end.append(hi)
        cum.append(total)
        total += hi - lo
        day += timedelta(days=1)
    return CalendarArrays(base=first, start=start, end=end, cum=cum)


def _jalali_month_starts(first: date, last: date) -> list[date]:
    """The Gregorian dates on which each Jalali month from `first`'s to `last`'s begins."""
    month = jdatetime.date.fromgregorian(date=first).replace(day=1)
    starts = []
    while True:
        g = month.togregorian()
        if g > last:
            break
        starts.append(g)
        month = (month + timedelta(days=32)).replace(day=1)
    return starts


# --- The numbers -----------------------------------------------------------------------------------

NUMBER_COLUMNS = (
    "received",
    "generated",
    "per_10k",
    "backlog",
    "backlog_median_age_days",
    "backlog_oldest_at",
    "acknowledged",
    "ack_median_hours",
    "resolved",
    "resolve_median_hours",
    "resolved_by_citizens",
    "sla_decided",
    "sla_met",
    "sla_share",
    "work_reported",
    "reopened",
    "reopen_rate",
    "ratings",
    "satisfaction",
)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _numbers(row: Mapping[str, Any], *, min_ratings: int, population: int | None) -> dict[str, Any]:
    def hours(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / 3600, 2)

    oldest = row["backlog_oldest_at"]
    return {
        "received": row["received"],
        "generated": row["generated"],
        "per_10k": round(row["received"] * 10_000 / population, 2) if population else None,
        "backlog": row["backlog"],
        "backlog_median_age_days": None
        if row["backlog_median_age_s"] is None
        else round(row["backlog_median_age_s"] / 86_400, 2),
        "backlog_oldest_at": oldest.isoformat() if oldest else None,
        "acknowledged": row["acknowledged"],
        "ack_median_hours": hours(row["ack_median_s"]),
        "resolved": row["resolved"],
        "resolve_median_hours": hours(row["resolve_median_s"]),
        "resolved_by_citizens": row["resolved_by_citizens"],
        "sla_decided": row["sla_decided"],
        "sla_met": row["sla_met"],
        "sla_share": _share(row["sla_met"], row["sla_decided"]),
        "work_reported": row["work_reported"],
        "reopened": row["reopened"],
        "reopen_rate": _share(row["reopened"], row["work_reported"]),
        "ratings": row["ratings"],
        # Fewer ratings than the minimum: the count, no average (two or three answers say little,
        # and could point at a person).
        "satisfaction": round(float(row["rating_average"]), 2)
        if row["ratings"] >= min_ratings and row["rating_average"] is not None
        else None,
    }


def _period(filters: ScorecardFilters, now: datetime) -> tuple[datetime, datetime]:
    until_before = filters.until_before or now
    if filters.since is not None:
        return filters.since, until_before
    local = timezone.localtime(until_before)
    start = datetime.combine(local.date() - timedelta(days=scorecard_default_days()), time.min)
    return timezone.make_aware(start), until_before


def _district_info(codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Names, parent and population by code; the active boundary set's row first."""
    info: dict[str, dict[str, Any]] = {}
    rows = (
        District.objects.filter(code__in=codes)
        .order_by("boundary_set__active", "boundary_set_id")
        .values("code", "name_fa", "name_en", "population", "parent__code")
    )
    for row in rows:  # the active set's last, so it wins
        info[row["code"]] = dict(row)
    return info


def _city_population(*, district: str | None, district_ids: frozenset[int] | None) -> int | None:
    """The residents the city row speaks for: the top districts of the active set (within the filter
    or the manager's districts); None unless each of them has a population."""
    rows = District.objects.filter(boundary_set__active=True)
    if district_ids is not None:
        rows = rows.filter(id__in=district_ids)
    if district:
        rows = rows.filter(code=district) | rows.filter(parent__code=district)
    found: list[dict[str, Any]] = [dict(r) for r in rows.values("code", "population", "parent__code")]
    codes = {r["code"] for r in found}
    tops = [r for r in found if r["parent__code"] not in codes]
    if not tops or any(r["population"] is None for r in tops):
        return None
    return sum(r["population"] for r in tops)


def scorecards(
    *, filters: ScorecardFilters, district_ids: frozenset[int] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Every number of the scorecards: `city`, `districts`, `units`, `weeks`, `months` and the
    `period`. `district_ids` restricts to those district rows (a district manager's scope)."""
    now = now or timezone.now()
    since, until_before = _period(filters, now)
    calendar = working_calendar()
    tz = calendar.timezone
    first_local = min(since, _oldest_open(filters, until_before) or since).astimezone(tz).date() - timedelta(
        days=1
    )
    last_local = max(now, until_before).astimezone(tz).date() + timedelta(days=1)
    since_local = since.astimezone(tz).date()
    week_base = since_local - timedelta(days=(since_local.weekday() - 5) % 7)  # the Saturday before
    month_starts = _jalali_month_starts(since_local, last_local)
    params: dict[str, Any] = {
        "since": since,
        "until_before": until_before,
        **_fact_params(calendar, first_local, last_local, now=now),
        "week_base": week_base,
        "month_starts": month_starts,
    }
    if filters.categories:
        params["categories"] = list(filters.categories)
    if filters.district:
        params["district"] = filters.district
    if district_ids is not None:
        params["district_ids"] = sorted(district_ids)
    pieces = {
        "categories": bool(filters.categories),
        "district": bool(filters.district),
        "scope_districts": district_ids is not None,
    }
    if _rollup_suits(filters=filters, since=since, until_before=until_before, tz=tz):
        columns, rows = _rollup_rows(params=params, pieces=pieces, calendar=calendar, now=now, tz=tz)
    else:
        columns, rows = _run(scorecard_sql(**pieces), params)
    groups: dict[str, list[dict[str, Any]]] = {
        "district": [],
        "unit": [],
        "week": [],
        "month": [],
        "city": [],
    }
    for values in rows:
        row = dict(zip(columns, values, strict=True))
        groups[row["dimension"]].append(row)
    min_ratings = satisfaction_min_answers()
    districts = _district_info([r["district"] for r in groups["district"] if r["district"]])
    units = {
        u["code"]: u
        for u in ServiceArea.objects.filter(code__in=[r["unit"] for r in groups["unit"] if r["unit"]]).values(
            "code", "unit_name_fa", "unit_name_en"
        )
    }
    district_rows = []
    for row in sorted(groups["district"], key=lambda r: (r["district"] is None, r["district"] or "")):
        info = districts.get(row["district"] or "", {})
        district_rows.append(
            {
                "code": row["district"],
                "name_fa": info.get("name_fa") or _("no district"),
                "name_en": info.get("name_en") or "no district",
                "parent": info.get("parent__code"),
                "population": info.get("population"),
                **_numbers(row, min_ratings=min_ratings, population=info.get("population")),
            }
        )
    unit_rows = []
    for row in sorted(groups["unit"], key=lambda r: (r["unit"] is None, r["unit"] or "")):
        unit: dict[str, Any] = dict(units.get(row["unit"] or "", {}))
        unit_rows.append(
            {
                "code": row["unit"],
                "name_fa": unit.get("unit_name_fa") or _("no unit"),
                "name_en": unit.get("unit_name_en") or "no unit",
                **_numbers(row, min_ratings=min_ratings, population=None),
            }
        )
    population = _city_population(district=filters.district, district_ids=district_ids)
    empty = {name: 0 for name in _ZERO_ROW}
    city_row = groups["city"][0] if groups["city"] else {**empty}
    week_rows = []
    for row in sorted((r for r in groups["week"] if r["week"] is not None), key=lambda r: r["week"]):
        start = week_base + timedelta(days=7 * row["week"])
        week_rows.append(
            {
                "week_start": start.isoformat(),
                "label_fa": jalali_day(start, lang="fa"),
                "label_en": jalali_day(start, lang="en"),
                **_numbers(row, min_ratings=min_ratings, population=None),
            }
        )
    month_rows = []
    for row in sorted((r for r in groups["month"] if r["month"]), key=lambda r: r["month"]):
        start = month_starts[row["month"] - 1]
        jalali = jdatetime.date.fromgregorian(date=start)
        month_rows.append(
            {
                "month": f"{jalali.year:04d}-{jalali.month:02d}",
                "label_fa": to_persian_digits(
                    f"{jdatetime.date.j_months_fa[jalali.month - 1]} {jalali.year}"
                ),
                "label_en": f"{jdatetime.date.j_months_en[jalali.month - 1]} {jalali.year}",
                **_numbers(row, min_ratings=min_ratings, population=None),
            }
        )
    return {
        "period": {"since": since.isoformat(), "until": until_before.isoformat()},
        "min_ratings": min_ratings,
        "city": {
            "population": population,
            **_numbers(city_row, min_ratings=min_ratings, population=population),
        },
        "districts": district_rows,
        "units": unit_rows,
        "weeks": week_rows,
        "months": month_rows,
    }


_ZERO_ROW = (
    "received",
    "generated",
    "backlog",
    "acknowledged",
    "resolved",
    "resolved_by_citizens",
    "sla_decided",
    "sla_met",
    "work_reported",
    "reopened",
    "ratings",
    "backlog_median_age_s",
    "backlog_oldest_at",
    "ack_median_s",
    "resolve_median_s",
    "rating_average",
)


def _fact_params(calendar: WorkingCalendar, first: date, last: date, *, now: datetime) -> dict[str, Any]:
    """The parameters of a report's facts (scorecard_sql.FACT_COLUMNS_SQL): the statuses and the
    working calendar's arrays over the local days `first` to `last`."""
    arrays = calendar_arrays(calendar, first, last)
    return {
        "now": now,
        "tz": str(calendar.timezone),
        "open": sorted(str(s) for s in OPEN_STATUSES),
        "by_citizens": str(ReportStatus.RESOLVED_BY_CITIZENS),
        "reopened": str(ReportStatus.REOPENED),
        "not_unit_work": [str(s) for s in NOT_UNIT_WORK],
        "cal_base": arrays.base,
        "cal_start": arrays.start,
        "cal_end": arrays.end,
        "cal_cum": arrays.cum,
    }


def scorecard_rollup_keep(*, now: datetime | None = None) -> int:
    """Bring the maintained aggregate up to date outside any request: the worker every minute, and
    the demo's load after it generated its reports. Reads bring it up to date too (it is never
    stale), but a read that finds the whole of it to rebuild (a new calendar: a holiday added; a
    database just filled) would wait seconds, minutes at a million reports, and every other reader
    behind it; done here first, the read finds a few days at most. Returns the days recomputed."""
    from issues.oversight import scorecard_rollup as rollup

    now = now or timezone.now()
    calendar = working_calendar()
    tz = calendar.timezone
    oldest = _oldest_open(ScorecardFilters(), now)
    first = (oldest or now).astimezone(tz).date() - timedelta(days=1)
    params = _fact_params(calendar, first, now.astimezone(tz).date() + timedelta(days=1), now=now)
    return rollup.scorecard_rollup_refresh(calendar=calendar, now=now, base_params=params)


def scorecard_exact_max() -> int:
    """Up to this many reports received in the period, the numbers are computed from the reports
    themselves (exact); more, and from the maintained aggregate (scorecard_rollup.py)."""
    return int(getattr(settings, "OPEN137_SCORECARD_EXACT_MAX", 20_000))


def _midnight(moment: datetime, tz: Any) -> bool:
    local = moment.astimezone(tz)
    return local.time() == time.min


def _rollup_suits(*, filters: ScorecardFilters, since: datetime, until_before: datetime, tz: Any) -> bool:
    """The aggregate holds whole local days: it answers a period of whole days (dates, or up to now)
    with more reports than scorecard_exact_max()."""
    if not _midnight(since, tz) or (filters.until_before is not None and not _midnight(until_before, tz)):
        return False
    limit = scorecard_exact_max()
    _columns, rows = fetchall_prepared(
        "SELECT count(*) FROM (SELECT 1 FROM issues_report WHERE created_at >= %(since)s"
        " AND created_at < %(until_before)s LIMIT %(limit)s) x",
        {"since": since, "until_before": until_before, "limit": limit + 1},
    )
    return bool(rows[0][0] > limit)


def _rollup_rows(
    *, params: dict[str, Any], pieces: dict[str, bool], calendar: WorkingCalendar, now: datetime, tz: Any
) -> tuple[list[str], list[tuple]]:
    """The groups' numbers from the aggregate, in the exact statement's columns."""
    from issues.oversight import scorecard_rollup as rollup

    rollup.scorecard_rollup_refresh(calendar=calendar, now=now, base_params=params)
    since_day = params["since"].astimezone(tz).date()
    until_day = (params["until_before"] - timedelta(microseconds=1)).astimezone(tz).date() + timedelta(days=1)
    filters = scorecard_filters_sql(**pieces)
    today = now.astimezone(tz).date()
    read = {
        **params,
        "since_day": since_day,
        "until_day": until_day,
        "today": today,
        "age_bounds": list(rollup.AGE_BOUNDS_DAYS[1:]),
    }
    columns, rows = _run(rollup.READ_PERIOD_SQL.format(filters=filters), read)
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for values in rows:
        row = dict(zip(columns, values, strict=True))
        groups[(row["dimension"], row["district"], row["unit"], row["week"], row["month"])] = row
    # The backlog, of every age: its count, oldest report and an age histogram per group.
    ages: dict[tuple[Any, ...], list[int]] = {}
    oldest: dict[tuple[Any, ...], Any] = {}
    columns, rows = _run(rollup.READ_BACKLOG_SQL.format(filters=filters), read)
    for values in rows:
        row = dict(zip(columns, values, strict=True))
        key = (row["dimension"], row["district"], row["unit"], row["week"], row["month"])
        counts = ages.setdefault(key, [0] * len(rollup.AGE_BOUNDS_DAYS))
        counts[row["age"]] += int(row["n"])
        if oldest.get(key) is None or row["oldest"] < oldest[key]:
            oldest[key] = row["oldest"]
    # Each report aged from the middle of its day of receipt.
    shift = (datetime.combine(today, time(12), tzinfo=tz) - now).total_seconds()
    out_columns = [
        "dimension", "district", "unit", "week", "month", "received", "generated", "backlog",
        "backlog_median_age_s", "backlog_oldest_at", "acknowledged", "ack_median_s", "resolved",
        "resolve_median_s", "resolved_by_citizens", "sla_decided", "sla_met", "work_reported",
        "reopened", "ratings", "rating_average",
    ]  # fmt: skip
    out = []
    for key in sorted(set(groups) | set(ages), key=repr):
        row = groups.get(key, {})
        count = {k: int(row.get(k) or 0) for k in (
            "received", "generated", "acknowledged", "resolved", "by_citizens", "sla_decided",
            "sla_met", "work_reported", "reopened", "ratings", "rating_sum")}  # fmt: skip
        ack_h = rollup.histogram_median([int(row.get(f"a{i}") or 0) for i in range(rollup.BUCKETS)])
        res_h = rollup.histogram_median([int(row.get(f"r{i}") or 0) for i in range(rollup.BUCKETS)])
        age_days = rollup.histogram_median(ages[key], rollup.AGE_BOUNDS_DAYS) if key in ages else None
        out.append((
            *key, count["received"], count["generated"], sum(ages.get(key, [])),
            None if age_days is None else age_days * 86_400 - shift, oldest.get(key),
            count["acknowledged"], None if ack_h is None else ack_h * 3600, count["resolved"],
            None if res_h is None else res_h * 3600, count["by_citizens"], count["sla_decided"],
            count["sla_met"], count["work_reported"], count["reopened"], count["ratings"],
            count["rating_sum"] / count["ratings"] if count["ratings"] else None,
        ))  # fmt: skip
    return out_columns, out


def jalali_day(day: date, *, lang: str) -> str:
    jalali = jdatetime.date.fromgregorian(date=day)
    if lang == "fa":
        return to_persian_digits(f"{jalali.day} {jdatetime.date.j_months_fa[jalali.month - 1]} {jalali.year}")
    return f"{jalali.day} {jdatetime.date.j_months_en[jalali.month - 1]} {jalali.year}"


def _oldest_open(filters: ScorecardFilters, until_before: datetime) -> datetime | None:
    """The oldest open report's creation (the calendar arrays must reach back to it): one probe of
    the created_at index per open status would be exact; the oldest report of all is one probe and
    is never later, so the arrays start there."""
    columns, rows = fetchall_prepared(
        "SELECT min(created_at) FROM issues_report WHERE created_at < %(until_before)s",
        {"until_before": until_before},
    )
    return rows[0][0] if rows else None


# The medians sort the period's durations: in memory, not in temporary files (a year of a city is a
# few hundred thousand rows of a few dozen bytes).
SORT_MEMORY = "64MB"


def _run(sql: str, params: dict[str, Any], *, fetch: bool = True) -> tuple[list[str], list[tuple]]:
    """The statement, prepared, with PostgreSQL's JIT off around it: over a million rows the planner's
    cost passes jit_above_cost, and compiling the plan would take longer than running it (as
    issues.oversight.sql.map_query_row explains for the map)."""
    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('jit'), current_setting('work_mem'),"
            " set_config('jit', 'off', false), set_config('work_mem', %s, false)",
            [SORT_MEMORY],
        )
        saved, saved_mem = cursor.fetchone()[:2]
        try:
            if not fetch:
                # A write run once (the aggregate's refresh): not worth preparing.
                cursor.execute(sql, params)
                return [], []
            return fetchall_prepared(sql, params)
        finally:
            if db.connection.info.transaction_status != TransactionStatus.INERROR:
                cursor.execute(
                    "SELECT set_config('jit', %s, false), set_config('work_mem', %s, false)",
                    [saved, saved_mem],
                )

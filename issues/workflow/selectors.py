"""The working calendar as configured (settings + the Holiday table), and the deadlines it gives."""

from __future__ import annotations

import time as monotonic_clock
from datetime import date, datetime
from typing import cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from issues.models import Category, Holiday
from issues.workflow.sla import ThursdayMode, WorkingCalendar, deadline_add

# Every new report needs the calendar, and the holiday table changes a few times a year: each process
# keeps the calendar it built for this long instead of reading the table for every report. An edit in
# the admin clears this process's copy at once (`working_calendar_clear`); other processes and servers
# see it within this time. A copy is only a cache: nothing is written from it, it is never shared.
CALENDAR_CACHE_SECONDS = 60.0

_cache: tuple[float, tuple[object, ...], WorkingCalendar] | None = None


def _settings_key() -> tuple[object, ...]:
    return (
        tuple(settings.OPEN137_WORKDAY),
        settings.OPEN137_THURSDAY,
        settings.OPEN137_THURSDAY_END,
        settings.TIME_ZONE,
    )


def working_calendar_build(*, holidays: frozenset[date] | None = None) -> WorkingCalendar:
    """The calendar from the settings, with these holidays (default: the Holiday table, read now)."""
    start, end = settings.OPEN137_WORKDAY
    thursday = cast(ThursdayMode, settings.OPEN137_THURSDAY)  # the settings checked it: full, half, off
    if holidays is None:
        holidays = frozenset(Holiday.objects.values_list("date", flat=True))
    return WorkingCalendar(
        day_start=start,
        day_end=end,
        thursday=thursday,
        thursday_end=settings.OPEN137_THURSDAY_END,
        holidays=holidays,
        timezone=ZoneInfo(settings.TIME_ZONE),
    )


def working_calendar() -> WorkingCalendar:
    """The city's working calendar, read at most once per CALENDAR_CACHE_SECONDS per process."""
    global _cache
    now = monotonic_clock.monotonic()
    key = _settings_key()
    cached = _cache
    if cached is not None and cached[0] > now and cached[1] == key:
        return cached[2]
    calendar = working_calendar_build()
    _cache = (now + CALENDAR_CACHE_SECONDS, key, calendar)
    return calendar


def _forget() -> None:
    global _cache
    _cache = None


def working_calendar_clear() -> None:
    """Forget this process's copy: the next deadline reads the holiday table again. Once now, and
    once more when the caller's transaction commits (a copy built meanwhile would miss the edit)."""
    _forget()
    transaction.on_commit(_forget)


def report_expected_at(
    *, category: Category, start: datetime, calendar: WorkingCalendar | None = None
) -> datetime | None:
    """When a report in `category` received at `start` should be resolved by (the citizen's "expected
    by"): the category's resolve SLA counted in working time. None if the category promises none."""
    if not category.sla_resolve_hours:
        return None
    return deadline_add(
        calendar=calendar or working_calendar(), start=start, hours=category.sla_resolve_hours
    )


def report_acknowledge_due_at(
    *, category: Category, start: datetime, calendar: WorkingCalendar | None = None
) -> datetime | None:
    """When the unit should have acknowledged a report in `category` received at `start`."""
    if not category.sla_acknowledge_hours:
        return None
    return deadline_add(
        calendar=calendar or working_calendar(), start=start, hours=category.sla_acknowledge_hours
    )

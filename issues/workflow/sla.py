"""The SLA clock in working time on the Iranian calendar.

A category promises to acknowledge a report within N working hours and to resolve it within M. Working
time is the municipality's office hours in the city's time zone: Saturday to Wednesday, Thursday
according to the city's choice (a full day, a morning, or off), never Friday, and never a public
holiday. Most of Iran's public holidays follow the lunar Hijri calendar, whose months begin with the
sighting of the new moon, so no rule can compute them: they come from a table the admin edits
(`issues.models.Holiday`), filled from the official calendar each year.

Everything here is pure (no database, no settings): `issues.workflow.selectors` builds the calendar
from the settings and the holiday table. Durations are wall-clock: a working day of 07:30-14:30 counts
seven hours. Arithmetic runs on whole microseconds, so adding and then measuring gives the same time
back, and it jumps over whole weeks (correcting for the holidays inside them with a binary search)
instead of walking day by day, so a 10,000-hour SLA costs the same as an 8-hour one.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

import jdatetime

from geo.text import to_persian_digits

TEHRAN = ZoneInfo("Asia/Tehran")

ThursdayMode = Literal["full", "half", "off"]
THURSDAY_MODES: tuple[ThursdayMode, ...] = ("full", "half", "off")

# Python's weekday(): Monday is 0. The Iranian week runs Saturday (5) to Friday (4).
_THURSDAY = 3
_FRIDAY = 4
_US_PER_DAY = 86_400_000_000
_US_PER_HOUR = 3_600_000_000


def _us(clock: time) -> int:
    """Microseconds since midnight."""
    return ((clock.hour * 60 + clock.minute) * 60 + clock.second) * 1_000_000 + clock.microsecond


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """When the municipality's units work.

    Defaults: 07:30-14:30 are the usual office hours of Iranian public bodies, Saturday to Wednesday
    (the government moves them some summers, e.g. earlier to save power: the setting takes any range).
    Thursday is where practice differs: most government offices close, while a municipality's field
    units (cleaning, roads, green space) usually keep a morning shift. "half" until 12:00 is the
    middle ground, and it errs on the side of the citizen: a deadline is never pushed later by a
    Thursday on which a unit does in fact work. A city whose units rest on Thursdays sets "off".
    """

    day_start: time = time(7, 30)
    day_end: time = time(14, 30)
    thursday: ThursdayMode = "half"
    thursday_end: time = time(12, 0)
    # Gregorian dates. Public holidays only: Fridays are always off and need no rows.
    holidays: frozenset[date] = frozenset()
    timezone: tzinfo = TEHRAN
    _sorted_holidays: tuple[date, ...] = field(init=False, repr=False, compare=False)
    _week_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if any(c.tzinfo is not None for c in (self.day_start, self.day_end, self.thursday_end)):
            raise ValueError("Working hours are local clock times, without a time zone.")
        if self.day_start >= self.day_end:
            raise ValueError(f"The working day must end after it starts ({self.day_start}-{self.day_end}).")
        if self.thursday not in THURSDAY_MODES:
            raise ValueError(f"Thursday must be one of {', '.join(THURSDAY_MODES)}, not {self.thursday!r}.")
        if self.thursday == "half" and not self.day_start < self.thursday_end <= self.day_end:
            raise ValueError(
                f"A half-day Thursday must end after the working day starts and not after it ends "
                f"({self.day_start}-{self.day_end}), not at {self.thursday_end}."
            )
        # A datetime is a date too: keep only the day, or it would never match one.
        days = frozenset(d.date() if isinstance(d, datetime) else d for d in self.holidays)
        object.__setattr__(self, "holidays", days)
        object.__setattr__(self, "_sorted_holidays", tuple(sorted(days)))
        object.__setattr__(self, "_week_us", sum(self._weekday_span_us(w) for w in range(7)))

    # --- one day -----------------------------------------------------------------------------------

    def _weekday_hours(self, weekday: int) -> tuple[int, int] | None:
        """Start and end (microseconds since midnight) of a weekday's work, holidays aside."""
        if weekday == _FRIDAY:
            return None
        if weekday == _THURSDAY:
            if self.thursday == "off":
                return None
            if self.thursday == "half":
                return _us(self.day_start), _us(self.thursday_end)
        return _us(self.day_start), _us(self.day_end)

    def _weekday_span_us(self, weekday: int) -> int:
        hours = self._weekday_hours(weekday)
        return hours[1] - hours[0] if hours else 0

    def _hours_us(self, day: date) -> tuple[int, int] | None:
        return None if day in self.holidays else self._weekday_hours(day.weekday())

    # --- whole days --------------------------------------------------------------------------------

    def _days_us(self, first: date, stop: date) -> int:
        """Working microseconds in the whole days first .. stop - 1."""
        n = (stop - first).days
        if n <= 0:
            return 0
        weeks, rest = divmod(n, 7)
        weekday = first.weekday()
        total = weeks * self._week_us + sum(self._weekday_span_us((weekday + i) % 7) for i in range(rest))
        lo = bisect.bisect_left(self._sorted_holidays, first)
        hi = bisect.bisect_left(self._sorted_holidays, stop)
        return total - sum(self._weekday_span_us(h.weekday()) for h in self._sorted_holidays[lo:hi])


def _local(value: datetime, tz: tzinfo) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("SLA times must be aware datetimes (with a time zone).")
    return value.astimezone(tz)


def _at(day: date, us: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz) + timedelta(microseconds=us)


def deadline_add(*, calendar: WorkingCalendar, start: datetime, hours: float) -> datetime:
    """The moment `hours` working hours after `start`, in the calendar's time zone.

    A start outside working time (at night, on a Friday or a holiday) begins counting at the next
    working moment; `hours=0` gives `start` back unchanged. A deadline that uses up a day exactly is
    that day's end (Wednesday 14:30), not the next working day's start.
    """
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be a finite number of hours, zero or more, not {hours!r}.")
    local = _local(start, calendar.timezone)
    if hours == 0:
        return start
    remaining = round(hours * _US_PER_HOUR)  # may round to 0: then the next working moment
    tz = calendar.timezone
    day = local.date()
    now_us = _us(local.time())
    # Today, from `start` on.
    today = calendar._hours_us(day)
    if today is not None and now_us < today[1]:
        begin = max(now_us, today[0])
        if remaining <= today[1] - begin:
            return _at(day, begin + remaining, tz)
        remaining -= today[1] - begin
    day += timedelta(days=1)
    # Whole weeks at a time while more than a week's work is left. w weeks hold at most w x week_us,
    # which is less than what is left, so the deadline is never jumped over; holidays in those weeks
    # only make the jump consume less.
    week_us = calendar._week_us
    while remaining > week_us:
        weeks = (remaining - 1) // week_us
        stop = day + timedelta(days=7 * weeks)
        remaining -= calendar._days_us(day, stop)
        day = stop
    # Less than a week's work left: day by day (a week, plus any holidays on the way).
    while True:
        hours_us = calendar._hours_us(day)
        if hours_us is not None:
            span = hours_us[1] - hours_us[0]
            if remaining <= span:
                return _at(day, hours_us[0] + remaining, tz)
            remaining -= span
        day += timedelta(days=1)


def working_seconds_between(*, calendar: WorkingCalendar, start: datetime, end: datetime) -> float:
    """Working seconds from `start` to `end` (0 if `end` is not after `start`): the time a unit took
    to acknowledge or resolve a report, measured as the SLA measures it."""
    if end <= start:
        return 0.0
    tz = calendar.timezone
    first, last = _local(start, tz), _local(end, tz)
    first_day, last_day = first.date(), last.date()
    first_us = _us(first.time())
    last_us = _us(last.time())

    def overlap(day: date, lo: int, hi: int) -> int:
        hours = calendar._hours_us(day)
        if hours is None:
            return 0
        return max(0, min(hi, hours[1]) - max(lo, hours[0]))

    if first_day == last_day:
        total = overlap(first_day, first_us, last_us)
    else:
        total = (
            overlap(first_day, first_us, _US_PER_DAY)
            + calendar._days_us(first_day + timedelta(days=1), last_day)
            + overlap(last_day, 0, last_us)
        )
    return total / 1_000_000


# --- Jalali dates -------------------------------------------------------------------------------------


def jalali_format(value: datetime | date, *, lang: Literal["fa", "en"] = "fa", tz: tzinfo = TEHRAN) -> str:
    """A date (and time) in the Jalali calendar, the one the citizen lives by.

    fa: Persian digits and month names, `۱۲ آذر ۱۴۰۵، ۱۴:۳۰`; en: the same date transliterated,
    `12 Azar 1405, 14:30`. An aware datetime is shown in the city's time zone; a naive one is taken
    as local already; a date has no time part.
    """
    if lang not in ("fa", "en"):
        raise ValueError(f"lang must be 'fa' or 'en', not {lang!r}.")
    clock = ""
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(tz)
        clock = f"{value:%H:%M}"
        day = value.date()
    else:
        day = value
    jalali = jdatetime.date.fromgregorian(date=day)
    if lang == "fa":
        month = jdatetime.date.j_months_fa[jalali.month - 1]
        text = f"{jalali.day} {month} {jalali.year}" + (f"، {clock}" if clock else "")
        return to_persian_digits(text)
    month = jdatetime.date.j_months_en[jalali.month - 1]
    return f"{jalali.day} {month} {jalali.year}" + (f", {clock}" if clock else "")

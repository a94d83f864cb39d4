"""The SLA clock in working time on the Iranian calendar (issues/workflow).

Every expected deadline below is worked out by hand in its comment, with the default working day
07:30-14:30 (7 h), a half Thursday until 12:00 (4.5 h), Friday off. Reference week: Tuesday
2026-12-01, Wednesday 12-02, Thursday 12-03, Friday 12-04, Saturday 12-05.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time as perf
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from issues.management.commands.demo_load import Command as DemoLoad
from issues.models import Holiday
from issues.workflow import selectors as sla_selectors
from issues.workflow.selectors import report_acknowledge_due_at, report_expected_at, working_calendar
from issues.workflow.sla import WorkingCalendar, deadline_add, jalali_format, working_seconds_between

TEHRAN = ZoneInfo("Asia/Tehran")
HALF = WorkingCalendar()  # the defaults: 07:30-14:30, Thursday until 12:00
OFF = WorkingCalendar(thursday="off")
FULL = WorkingCalendar(thursday="full")
ROOT = Path(__file__).resolve().parent.parent
NOWRUZ_1406 = {date(2027, 3, 21), date(2027, 3, 22), date(2027, 3, 23), date(2027, 3, 24)}
OIL_DAY_1405 = date(2027, 3, 20)  # 29 Esfand 1405, a Saturday


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TEHRAN)


@pytest.fixture(autouse=True)
def fresh_calendar():
    """Each test reads the holiday table afresh: a calendar kept from another test's rows (rolled
    back since) would be wrong."""
    sla_selectors._cache = None
    yield
    sla_selectors._cache = None


# --- Thursday, Friday ---------------------------------------------------------------------------------


def test_wednesday_afternoon_into_a_half_thursday():
    # Wed 14:00-14:30 is 0.5 h; 2.5 h left from Thu 07:30: Thu 10:00.
    assert deadline_add(calendar=HALF, start=at(2026, 12, 2, 14, 0), hours=3) == at(2026, 12, 3, 10, 0)


def test_a_half_thursday_ends_at_noon_then_friday_is_skipped():
    # Wed 0.5 h + Thu 07:30-12:00 4.5 h = 5 h; 1 h left; Friday off: Sat 07:30 + 1 h = Sat 08:30.
    assert deadline_add(calendar=HALF, start=at(2026, 12, 2, 14, 0), hours=6) == at(2026, 12, 5, 8, 30)


def test_thursday_off_goes_straight_to_saturday():
    # Wed 0.5 h; Thursday and Friday off; 2.5 h from Sat 07:30: Sat 10:00.
    assert deadline_add(calendar=OFF, start=at(2026, 12, 2, 14, 0), hours=3) == at(2026, 12, 5, 10, 0)


def test_a_full_thursday_works_until_the_day_ends():
    # Wed 0.5 h; 5.5 h from Thu 07:30: Thu 13:00 (a half Thursday would have ended at 12:00).
    assert deadline_add(calendar=FULL, start=at(2026, 12, 2, 14, 0), hours=6) == at(2026, 12, 3, 13, 0)


def test_a_start_on_a_friday_counts_from_saturday_morning():
    # Friday 10:00 is no working time: 2 h from Sat 07:30 is Sat 09:30.
    assert deadline_add(calendar=HALF, start=at(2026, 12, 4, 10, 0), hours=2) == at(2026, 12, 5, 9, 30)


def test_a_start_after_the_half_thursday_counts_from_saturday():
    # Thu 13:00 is after 12:00: 1 h from Sat 07:30 is Sat 08:30.
    assert deadline_add(calendar=HALF, start=at(2026, 12, 3, 13, 0), hours=1) == at(2026, 12, 5, 8, 30)


def test_a_start_at_night_or_before_work_counts_from_the_next_morning():
    # Tue 22:00: 1 h from Wed 07:30 = Wed 08:30. Tue 05:00: 1 h from Tue 07:30 = Tue 08:30.
    assert deadline_add(calendar=HALF, start=at(2026, 12, 1, 22, 0), hours=1) == at(2026, 12, 2, 8, 30)
    assert deadline_add(calendar=HALF, start=at(2026, 12, 1, 5, 0), hours=1) == at(2026, 12, 1, 8, 30)


def test_a_deadline_that_fills_a_day_is_that_days_end():
    # Wed 07:30 + 7 h = Wed 14:30, not Saturday 07:30.
    assert deadline_add(calendar=HALF, start=at(2026, 12, 2, 7, 30), hours=7) == at(2026, 12, 2, 14, 30)


def test_zero_hours_gives_the_start_back_even_outside_working_time():
    friday_night = at(2026, 12, 4, 23, 0)
    assert deadline_add(calendar=HALF, start=friday_night, hours=0) is friday_night


def test_a_start_in_utc_is_read_in_tehran_time():
    # 2026-12-02 10:30 UTC is Wed 14:00 in Tehran (+03:30): 3 h later is Thu 10:00 (first test).
    start = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
    assert deadline_add(calendar=HALF, start=start, hours=3) == at(2026, 12, 3, 10, 0)


def test_fractions_of_an_hour():
    # Wed 09:00 + 1.25 h = Wed 10:15.
    assert deadline_add(calendar=HALF, start=at(2026, 12, 2, 9, 0), hours=1.25) == at(2026, 12, 2, 10, 15)


# --- holidays and the Jalali new year ------------------------------------------------------------------


def test_a_holiday_is_skipped():
    calendar = WorkingCalendar(holidays=frozenset({date(2026, 12, 23)}))  # Wednesday
    # Tue 2026-12-22 13:30-14:30 is 1 h; Wed a holiday; 2 h from Thu 07:30 = Thu 09:30.
    assert deadline_add(calendar=calendar, start=at(2026, 12, 22, 13, 30), hours=3) == at(2026, 12, 24, 9, 30)


def test_across_the_jalali_new_year():
    calendar = WorkingCalendar(holidays=frozenset({OIL_DAY_1405, *NOWRUZ_1406}))
    # Wed 2027-03-17 13:00-14:30 = 1.5 h; Thu 03-18 4.5 h (6 h so far, 2 h left); Fri 03-19 off;
    # Sat 03-20 (29 Esfand) and Sun-Wed 03-21..24 (1-4 Farvardin 1406) holidays; Thu 03-25 07:30 + 2 h.
    deadline = deadline_add(calendar=calendar, start=at(2027, 3, 17, 13, 0), hours=8)
    assert deadline == at(2027, 3, 25, 9, 30)
    assert jalali_format(deadline) == "۵ فروردین ۱۴۰۶، ۰۹:۳۰"
    assert jalali_format(deadline, lang="en") == "5 Farvardin 1406, 09:30"


def test_a_start_on_a_holiday_counts_from_the_next_working_day():
    calendar = WorkingCalendar(holidays=frozenset(NOWRUZ_1406))
    # Mon 2027-03-22 is Nowruz; Tue, Wed too; Thu 03-25 07:30 + 1 h = 08:30.
    assert deadline_add(calendar=calendar, start=at(2027, 3, 22, 10, 0), hours=1) == at(2027, 3, 25, 8, 30)


# --- long spans --------------------------------------------------------------------------------------------


def test_ten_thousand_hours_is_exact_and_fast():
    # A week holds 5 x 7 + 4.5 = 39.5 h. 10,000 h = 253 weeks (9,993.5 h) + 6.5 h. From Saturday
    # 2026-12-05 07:30, 253 weeks later is Saturday 2031-10-11 07:30, and 6.5 h more is 14:00.
    start = at(2026, 12, 5, 7, 30)
    began = perf.perf_counter()
    for _ in range(100):
        deadline = deadline_add(calendar=HALF, start=start, hours=10_000)
    assert perf.perf_counter() - began < 1.0  # 100 of them well under a second
    assert deadline == at(2031, 10, 11, 14, 0)
    assert working_seconds_between(calendar=HALF, start=start, end=deadline) == 10_000 * 3600


def test_long_spans_with_many_holidays_stay_fast():
    # A holiday on every Monday for ten years: whole weeks are still jumped, not walked.
    first_monday = date(2026, 12, 7)
    mondays = frozenset(first_monday + timedelta(weeks=n) for n in range(520))
    calendar = WorkingCalendar(holidays=mondays)
    start = at(2026, 12, 5, 7, 30)
    began = perf.perf_counter()
    deadline = deadline_add(calendar=calendar, start=start, hours=10_000)
    measured = working_seconds_between(calendar=calendar, start=start, end=deadline)
    assert perf.perf_counter() - began < 0.5
    assert measured == 10_000 * 3600
    # A week now holds 32.5 h: 10,000 h = 307 weeks (9,977.5 h) + 22.5 h: Sat 7, Sun 7, Mon off,
    # Tue 7 (21 h), then 1.5 h on Wednesday: 09:00, 307 weeks and 4 days after the first Saturday.
    assert deadline == at(2026, 12, 5, 9, 0) + timedelta(weeks=307, days=4)


# --- measuring ----------------------------------------------------------------------------------------------


def test_working_seconds_between():
    # The same day: Wed 08:00-09:15 is 1.25 h.
    assert (
        working_seconds_between(calendar=HALF, start=at(2026, 12, 2, 8), end=at(2026, 12, 2, 9, 15)) == 4500
    )
    # Thu 11:00-12:00 (1 h), Friday nothing, Sat 07:30-08:30 (1 h): 2 h.
    assert (
        working_seconds_between(calendar=HALF, start=at(2026, 12, 3, 11), end=at(2026, 12, 5, 8, 30)) == 7200
    )
    # Wed 20:00 to Thu 20:00: only the half Thursday, 4.5 h.
    assert working_seconds_between(calendar=HALF, start=at(2026, 12, 2, 20), end=at(2026, 12, 3, 20)) == 16200
    # An end before the start, or the same moment, is no time.
    assert working_seconds_between(calendar=HALF, start=at(2026, 12, 2, 9), end=at(2026, 12, 2, 8)) == 0
    assert working_seconds_between(calendar=HALF, start=at(2026, 12, 2, 9), end=at(2026, 12, 2, 9)) == 0


HOLIDAY_POOL = sorted(
    {date(2026, 12, 23), date(2027, 1, 6), date(2027, 1, 24), date(2027, 2, 11), OIL_DAY_1405, *NOWRUZ_1406}
)


@hypothesis_settings(derandomize=True, database=None, max_examples=400, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 11, 1), max_value=datetime(2027, 6, 1)),
    hours=st.floats(min_value=0, max_value=3000, allow_nan=False, allow_infinity=False),
    thursday=st.sampled_from(["half", "off", "full"]),
    holidays=st.sets(st.sampled_from(HOLIDAY_POOL)),
)
def test_measuring_a_deadline_gives_back_its_hours(start, hours, thursday, holidays):
    calendar = WorkingCalendar(thursday=thursday, holidays=frozenset(holidays))
    start = start.replace(tzinfo=TEHRAN)
    deadline = deadline_add(calendar=calendar, start=start, hours=hours)
    assert deadline >= start
    measured = working_seconds_between(calendar=calendar, start=start, end=deadline)
    # Deadlines are kept to the microsecond.
    assert math.isclose(measured, hours * 3600, abs_tol=1e-6)
    if hours > 0:
        # The deadline is a working moment: the working day it falls in has begun by then.
        local = deadline.astimezone(TEHRAN)
        assert local.date() not in calendar.holidays
        assert local.weekday() != 4  # never a Friday


# --- refused input ------------------------------------------------------------------------------------------


def test_naive_times_and_impossible_hours_are_refused():
    with pytest.raises(ValueError, match="aware"):
        deadline_add(calendar=HALF, start=datetime(2026, 12, 2, 9), hours=1)
    for hours in (-1, math.nan, math.inf):
        with pytest.raises(ValueError):
            deadline_add(calendar=HALF, start=at(2026, 12, 2, 9), hours=hours)


def test_an_impossible_calendar_is_refused():
    with pytest.raises(ValueError, match="end after it starts"):
        WorkingCalendar(day_start=time(14, 30), day_end=time(7, 30))
    with pytest.raises(ValueError, match="half-day Thursday"):
        WorkingCalendar(thursday_end=time(15, 0))
    with pytest.raises(ValueError, match="Thursday must be one of"):
        WorkingCalendar(thursday="sometimes")  # type: ignore[arg-type]


def _settings_run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPEN137_", "DJANGO_", "DATABASE_URL"))}
    python = ROOT / ".venv" / "bin" / "python"
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.OPEN137_WORKDAY, settings.OPEN137_THURSDAY, settings.OPEN137_THURSDAY_END)"
    )
    return subprocess.run(  # noqa: S603
        [str(python) if python.exists() else sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "open137.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPEN137_WORKDAY": "14:30-07:30"}, "OPEN137_WORKDAY: the working day must end after it starts"),
        ({"OPEN137_WORKDAY": "7.30-14.30"}, "OPEN137_WORKDAY must be a clock time like 12:00"),
        ({"OPEN137_WORKDAY": "07:30"}, "OPEN137_WORKDAY must be a range of clock times"),
        ({"OPEN137_THURSDAY": "sometimes"}, 'OPEN137_THURSDAY must be "half", "off" or "full"'),
        ({"OPEN137_THURSDAY_END": "25:00"}, "OPEN137_THURSDAY_END must be a clock time"),
        ({"OPEN137_THURSDAY_END": "15:00"}, "OPEN137_THURSDAY_END (15:00) must fall within the working day"),
    ],
)
def test_bad_settings_stop_the_start_up(env, message):
    result = _settings_run(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_good_settings_are_read():
    result = _settings_run(OPEN137_WORKDAY="8:00-16:00", OPEN137_THURSDAY="OFF", OPEN137_THURSDAY_END="15:00")
    assert result.returncode == 0, result.stderr
    # Thursday off: its end time is not used, so it need not fall within the day.
    assert result.stdout.strip() == "(datetime.time(8, 0), datetime.time(16, 0)) off 15:00:00"


# --- Jalali dates --------------------------------------------------------------------------------------------


def test_jalali_format_in_both_languages():
    # 2026-12-03 is 12 Azar 1405; 11:00 UTC is 14:30 in Tehran.
    moment = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    assert jalali_format(moment) == "۱۲ آذر ۱۴۰۵، ۱۴:۳۰"
    assert jalali_format(moment, lang="en") == "12 Azar 1405, 14:30"
    # 21:00 UTC is already the next day in Tehran (00:30).
    assert jalali_format(datetime(2026, 12, 3, 21, 0, tzinfo=UTC)) == "۱۳ آذر ۱۴۰۵، ۰۰:۳۰"
    # A date alone; Nowruz 1406.
    assert jalali_format(date(2027, 3, 21)) == "۱ فروردین ۱۴۰۶"
    assert jalali_format(date(2027, 3, 21), lang="en") == "1 Farvardin 1406"
    with pytest.raises(ValueError):
        jalali_format(date(2027, 3, 21), lang="de")  # type: ignore[arg-type]


# --- the configured calendar: settings, the holiday table, the admin -------------------------------------


@pytest.mark.django_db
def test_a_holiday_in_the_table_moves_the_expected_date(category_factory, department_factory):
    category = category_factory("pothole", department_factory("roads"), sla_resolve_hours=3)
    Holiday.objects.create(date=date(2026, 12, 23), name_fa="ولادت امام علی (ع)", name_en="Birth of Imam Ali")
    # Tue 2026-12-22 13:30-14:30 1 h; Wed 23 a holiday; Thu 24 07:30 + 2 h = 09:30.
    assert report_expected_at(category=category, start=at(2026, 12, 22, 13, 30)) == at(2026, 12, 24, 9, 30)


@pytest.mark.django_db
def test_expected_and_acknowledge_dates_follow_the_category(category_factory, department_factory):
    roads = department_factory("roads")
    category = category_factory("pothole", roads, sla_acknowledge_hours=2, sla_resolve_hours=8)
    start = at(2026, 12, 2, 13, 0)  # Wednesday
    # Acknowledge: Wed 13:00-14:30 is 1.5 h; 0.5 h from Thu 07:30 = Thu 08:00.
    assert report_acknowledge_due_at(category=category, start=start) == at(2026, 12, 3, 8, 0)
    # Resolve: 1.5 h Wed + 4.5 h Thu = 6 h; 2 h from Sat 07:30 = Sat 09:30.
    assert report_expected_at(category=category, start=start) == at(2026, 12, 5, 9, 30)
    no_promise = category_factory("praise", roads, sla_acknowledge_hours=0, sla_resolve_hours=0)
    assert report_expected_at(category=no_promise, start=start) is None
    assert report_acknowledge_due_at(category=no_promise, start=start) is None


@pytest.mark.django_db
def test_the_thursday_setting_is_honoured():
    assert working_calendar().thursday == "half"
    with override_settings(OPEN137_THURSDAY="off"):
        # Wed 0.5 h; Thursday off: Sat 10:00 (as test_thursday_off_goes_straight_to_saturday).
        assert deadline_add(calendar=working_calendar(), start=at(2026, 12, 2, 14), hours=3) == at(
            2026, 12, 5, 10
        )
    with override_settings(OPEN137_WORKDAY=(time(8, 0), time(16, 0)), OPEN137_THURSDAY="full"):
        # Wed 14:00-16:00 is 2 h: 1 h from Thu 08:00 = Thu 09:00.
        assert deadline_add(calendar=working_calendar(), start=at(2026, 12, 2, 14), hours=3) == at(
            2026, 12, 3, 9
        )


@pytest.mark.django_db
def test_a_holiday_added_and_removed_in_the_admin_is_counted_at_once(
    admin_client, category_factory, department_factory
):
    category = category_factory("pothole", department_factory("roads"), sla_resolve_hours=8)
    start = at(2026, 12, 8, 13, 30)  # Tuesday
    # Without a holiday: Tue 1 h; 7 h on Wed 12-09 = Wed 14:30. This also fills the process's cache.
    assert report_expected_at(category=category, start=start) == at(2026, 12, 9, 14, 30)

    response = admin_client.post(
        reverse("admin:issues_holiday_add"),
        {"date": "2026-12-09", "name_fa": "تعطیلی آزمایشی", "name_en": "Test holiday"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    holiday = Holiday.objects.get(date=date(2026, 12, 9))
    # Wed a holiday: Tue 1 h; Thu 12-10 4.5 h (5.5 h); Friday off; 2.5 h from Sat 07:30 = Sat 10:00.
    assert report_expected_at(category=category, start=start) == at(2026, 12, 12, 10, 0)

    listing = admin_client.get(reverse("admin:issues_holiday_changelist")).content.decode()
    assert "۱۸ آذر ۱۴۰۵" in listing  # 2026-12-09 in the Jalali column of the Persian admin

    response = admin_client.post(reverse("admin:issues_holiday_delete", args=[holiday.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert report_expected_at(category=category, start=start) == at(2026, 12, 9, 14, 30)


@pytest.mark.django_db
def test_the_demo_holidays_load_once_and_include_nowruz_1406():
    written = DemoLoad().load_holidays()
    assert written == 30  # 26 days of 1405 and 1-4 Farvardin 1406
    assert DemoLoad().load_holidays() == 0  # a second run writes nothing
    days = set(Holiday.objects.values_list("date", flat=True))
    assert NOWRUZ_1406 | {OIL_DAY_1405, date(2026, 3, 21)} <= days
    assert all(
        day.weekday() != 4 or day in {date(2026, 6, 5), date(2026, 8, 21), date(2026, 11, 13)} for day in days
    )
    # The fixture is the demo's source: a re-run sets a changed name back (and writes only that day).
    Holiday.objects.filter(date=date(2027, 3, 21)).update(name_en="changed")
    assert DemoLoad().load_holidays() == 1
    assert Holiday.objects.get(date=date(2027, 3, 21)).name_en == "Nowruz (1406)"
    # The loaded table drives the calendar: the new-year deadline of test_across_the_jalali_new_year.
    assert deadline_add(calendar=working_calendar(), start=at(2027, 3, 17, 13, 0), hours=8) == at(
        2027, 3, 25, 9, 30
    )

"""Scorecards (issues/oversight/scorecards.py, /api/scorecards/, /council/): every number recomputed
here from the raw rows, in Python, with the SLA module's own working-time function, on a small city
built to hit the edge cases: a reopened report, a transferred one, one without feedback, a public
holiday inside a working week, a report without location (and so without district), one resolved by
citizens, a generated (demo) report, an old report still open, a duplicate."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import jdatetime
import pytest
from django.test import Client
from django.utils import timezone

from districts.models import District
from issues import events
from issues.models import OPEN_STATUSES, Holiday, Report, ReportEvent, ReportStatus, SatisfactionRating
from issues.oversight.scorecards import ScorecardFilters, scorecards
from issues.workflow.selectors import working_calendar_build, working_calendar_clear
from issues.workflow.sla import working_seconds_between
from tests.conftest import STAFF_PASSWORD, pt

pytestmark = pytest.mark.django_db

S = ReportStatus
NOT_UNIT_WORK = {S.DUPLICATE, S.NOT_RESPONSIBLE, S.RESOLVED_BY_CITIZENS}


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def sample(city, settings) -> Iterator[SimpleNamespace]:
    settings.OPEN137_SATISFACTION_MIN_ANSWERS = 2
    District.objects.filter(code="R1").update(population=100_000)
    District.objects.filter(code="R2").update(population=50_000)
    today = timezone.localdate()
    # A Saturday two to three weeks ago: the week runs Saturday (base) to Friday (base + 6).
    base = today - timedelta(days=14 + (today.weekday() - 5) % 7)
    holiday = base + timedelta(days=4)  # a Wednesday
    Holiday.objects.create(date=holiday, name_fa="تعطیل", name_en="Holiday")
    working_calendar_clear()
    d = {x.code: x for x in District.objects.all()}
    a = city.areas
    counter = iter(range(1000))

    def make(
        district: str | None,
        unit: Any,
        created: datetime,
        status: str,
        *,
        category=None,
        ack=None,
        done=None,
        closed=None,
        expected: datetime | None = None,
        generated=False,
        located=True,
        score: int | None = None,
    ) -> Report:
        report = Report.objects.create(
            tracking_code=f"SC{next(counter):06d}",
            category=category or city.pothole,
            kind="service_request",
            location=pt(*city.points.r1) if located else None,
            status=status,
            district=d[district] if district else None,
            service_area=unit,
            routing_rule="covers",
            routed_at=created,
            reporter_name="Private Person",
            reporter_phone="09120000000",
            acknowledged_at=ack,
            done_at=done,
            closed_at=closed,
            expected_at=expected,
            acknowledge_due_at=created + timedelta(hours=8),
            generated=generated,
        )
        Report.objects.filter(pk=report.pk).update(created_at=created)
        report.refresh_from_db()
        if score is not None:
            SatisfactionRating.objects.create(report=report, service_area=unit, score=score)
        return report

    day = lambda n: base + timedelta(days=n)  # noqa: E731
    reports = SimpleNamespace(
        # Acknowledged the same morning; done on Monday; rated 5.
        a=make(
            "R1",
            a.r1,
            _at(day(0), 9),
            S.CLOSED,
            ack=_at(day(0), 10, 30),
            done=_at(day(2), 9),
            closed=_at(day(2), 10),
            expected=_at(day(5), 9),
            score=5,
        ),
        # Received on Tuesday afternoon; Wednesday is a holiday; acknowledged on Thursday morning.
        b=make(
            "R1",
            a.r1,
            _at(day(3), 13),
            S.CLOSED,
            ack=_at(day(5), 8),
            done=_at(day(7), 12),
            closed=_at(day(7), 13),
            expected=_at(day(6), 9),
            score=3,
        ),
        # Reported done, then reopened: open again, its new deadline passed.
        c=make("R2", a.r2, _at(day(1), 8), S.REOPENED, ack=_at(day(1), 9), expected=_at(day(3), 10)),
        # Transferred to the central unit: still open, its deadline ahead.
        d=make("R2", a.central, _at(day(2), 11), S.TRANSFERRED, expected=timezone.now() + timedelta(days=3)),
        # A suggestion without a location: no district; no feedback.
        e=make(
            None,
            a.central,
            _at(day(2), 10),
            S.CLOSED,
            category=city.suggestion,
            located=False,
            ack=_at(day(2), 11),
            done=_at(day(8), 9),
            closed=_at(day(8), 10),
            expected=_at(day(8), 8),
        ),
        # Resolved by citizens in the sub-district.
        f=make(
            "S11",
            a.r1,
            _at(day(1), 10),
            S.RESOLVED_BY_CITIZENS,
            closed=_at(day(3), 10),
            expected=_at(day(4), 10),
        ),
        # Demo data, done in time, rated 4.
        g=make(
            "R2",
            a.r2,
            _at(day(8), 9),
            S.CLOSED,
            ack=_at(day(8), 9, 5),
            done=_at(day(9), 14),
            closed=_at(day(10), 9),
            expected=_at(day(12), 9),
            generated=True,
            score=4,
        ),
        # Received a year and a half ago, still in progress: backlog, not received in the period.
        h=make(
            "R1",
            a.r1,
            timezone.now() - timedelta(days=540),
            S.IN_PROGRESS,
            ack=timezone.now() - timedelta(days=539),
        ),
        # A duplicate: received, not the unit's work.
        i=make("R1", a.r1, _at(day(9), 9), S.DUPLICATE, closed=_at(day(9), 10), expected=_at(day(11), 9)),
    )
    events.status_changed_event(report=reports.c, from_status=S.DONE, to_status=S.REOPENED, action="reopen")
    events.status_changed_event(
        report=reports.d,
        from_status=S.FORWARDED,
        to_status=S.TRANSFERRED,
        action="transfer",
        data={"service_area": "roads-central"},
    )
    yield SimpleNamespace(base=base, holiday=holiday, reports=reports, since=_at(base, 0))
    working_calendar_clear()


# --- The numbers as this test computes them from the raw rows ------------------------------------


def _group_of(report: Report, by: str) -> str | None:
    if by == "district":
        return report.district.code if report.district else None
    if by == "unit":
        return report.service_area.code if report.service_area else None
    return "city"


def expected_numbers(
    rows: list[Report], *, since: datetime, now: datetime, min_ratings: int, population: int | None
) -> dict[str, Any]:
    calendar = working_calendar_build()
    period = [r for r in rows if r.created_at >= since]
    opened = [r for r in rows if r.status in OPEN_STATUSES]
    reopened_ids = set(
        ReportEvent.objects.filter(kind="status", to_status=S.REOPENED).values_list("report_id", flat=True)
    )

    def wh(start: datetime, end: datetime) -> float:
        return working_seconds_between(calendar=calendar, start=start, end=end) / 3600

    acks = [wh(r.created_at, r.acknowledged_at) for r in period if r.acknowledged_at]
    resolves = [
        wh(r.created_at, r.done_at) for r in period if r.done_at and r.status != S.RESOLVED_BY_CITIZENS
    ]
    decided = met = 0
    for r in period:
        if r.expected_at is None or r.status in NOT_UNIT_WORK:
            continue
        if r.done_at is not None:
            decided += 1
            met += r.done_at <= r.expected_at
        elif r.status in OPEN_STATUSES and r.expected_at < now:
            decided += 1
    work = [r for r in period if r.done_at or r.pk in reopened_ids]
    reopened = [r for r in period if r.pk in reopened_ids]
    scores = [r.rating.score for r in period if SatisfactionRating.objects.filter(report=r).exists()]
    ages = [(now - r.created_at).total_seconds() / 86400 for r in opened]
    return {
        "received": len(period),
        "generated": sum(r.generated for r in period),
        "per_10k": round(len(period) * 10_000 / population, 2) if population else None,
        "backlog": len(opened),
        "backlog_median_age_days": round(statistics.median(ages), 2) if ages else None,
        "backlog_oldest_at": min(r.created_at for r in opened).isoformat() if opened else None,
        "acknowledged": len(acks),
        "ack_median_hours": round(statistics.median(acks), 2) if acks else None,
        "resolved": len(resolves),
        "resolve_median_hours": round(statistics.median(resolves), 2) if resolves else None,
        "resolved_by_citizens": sum(r.status == S.RESOLVED_BY_CITIZENS for r in period),
        "sla_decided": decided,
        "sla_met": met,
        "sla_share": round(met / decided, 4) if decided else None,
        "work_reported": len(work),
        "reopened": len(reopened),
        "reopen_rate": round(len(reopened) / len(work), 4) if work else None,
        "ratings": len(scores),
        "satisfaction": round(sum(scores) / len(scores), 2) if len(scores) >= min_ratings else None,
    }


def _numbers(row: dict[str, Any]) -> dict[str, Any]:
    """The numbers of a scorecard row, by the names `expected_numbers` answers with (listed here, not
    taken from the code under test, so a renamed or dropped number fails)."""
    return {
        k: row[k]
        for k in (
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
    }


def test_every_number_recomputed_from_the_raw_rows(sample):
    now = timezone.now()
    data = scorecards(filters=ScorecardFilters(since=sample.since), now=now)
    rows = list(Report.objects.select_related("district", "service_area"))
    populations = {"R1": 100_000, "R2": 50_000}
    kw = {"since": sample.since, "now": now, "min_ratings": 2}
    assert _numbers(data["city"]) == expected_numbers(rows, population=150_000, **kw)
    assert data["city"]["population"] == 150_000
    for by, found in (("district", data["districts"]), ("unit", data["units"])):
        codes = {_group_of(r, by) for r in rows}
        assert {row["code"] for row in found} == codes
        for row in found:
            members = [r for r in rows if _group_of(r, by) == row["code"]]
            population = populations.get(row["code"] or "") if by == "district" else None
            assert _numbers(row) == expected_numbers(members, population=population, **kw), (by, row["code"])


def test_edge_cases_land_where_a_reader_expects(sample):
    data = scorecards(filters=ScorecardFilters(since=sample.since))
    districts = {row["code"]: row for row in data["districts"]}
    units = {row["code"]: row for row in data["units"]}
    # The report without a location is in a row of its own, so the districts add up to the city.
    assert districts[None]["received"] == 1 and districts[None]["name_en"] == "no district"
    # Tuesday 13:00 to Thursday 08:00 over a holiday Wednesday: 1.5 h on Tuesday, 0.5 h on Thursday.
    r1 = districts["R1"]
    assert r1["ack_median_hours"] == round(statistics.median([1.5, 2.0]), 2)
    # The transferred report counts for the unit that has it now.
    assert units["roads-central"]["backlog"] == 1
    # Resolved by citizens: counted apart, and neither resolved by the unit nor timed against the SLA.
    assert districts["S11"]["resolved_by_citizens"] == 1
    assert districts["S11"]["resolved"] == 0 and districts["S11"]["sla_decided"] == 0
    # The reopened report: its unit's work was not true; open again and past its new deadline.
    assert districts["R2"]["reopened"] == 1 and districts["R2"]["work_reported"] == 2
    # The old open report is backlog but not received in the period; the duplicate is received only.
    assert r1["received"] == 3 and r1["backlog"] == 1
    # Satisfaction only from two ratings on: R1 has two (5 and 3), R2 one (shown as a count only).
    assert r1["satisfaction"] == 4.0 and r1["ratings"] == 2
    assert districts["R2"]["satisfaction"] is None and districts["R2"]["ratings"] == 1
    # Demo reports are counted and said to be demo data.
    assert data["city"]["generated"] == 1
    # Per 10,000 residents where the population is known; S11 has none.
    assert r1["per_10k"] == 0.3 and districts["S11"]["per_10k"] is None


ADDITIVE = (
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
)


def test_the_rows_add_up_to_the_city(sample):
    data = scorecards(filters=ScorecardFilters(since=sample.since))
    for part in ("districts", "units"):
        for key in ADDITIVE:
            assert sum(row[key] for row in data[part]) == data["city"][key], (part, key)
    # Trends count the period's reports only (the old open one is no week's or month's).
    for part in ("weeks", "months"):
        for key in ("received", "resolved", "sla_met", "ratings", "resolved_by_citizens"):
            assert sum(row[key] for row in data[part]) == data["city"][key], (part, key)


def test_trends_by_week_and_jalali_month(sample):
    data = scorecards(filters=ScorecardFilters(since=sample.since))
    rows = [r for r in Report.objects.all() if r.created_at >= sample.since]
    weeks: dict[str, int] = {}
    months: dict[str, int] = {}
    for r in rows:
        local = timezone.localtime(r.created_at).date()
        saturday = local - timedelta(days=(local.weekday() - 5) % 7)
        weeks[saturday.isoformat()] = weeks.get(saturday.isoformat(), 0) + 1
        j = jdatetime.date.fromgregorian(date=local)
        months[f"{j.year:04d}-{j.month:02d}"] = months.get(f"{j.year:04d}-{j.month:02d}", 0) + 1
    assert {w["week_start"]: w["received"] for w in data["weeks"]} == weeks
    assert {m["month"]: m["received"] for m in data["months"]} == months
    assert all(date.fromisoformat(w["week_start"]).weekday() == 5 for w in data["weeks"])


def test_filters_category_district_and_manager_scope(sample, city, staff):
    by_category = scorecards(filters=ScorecardFilters(since=sample.since, categories=("suggestion",)))
    assert by_category["city"]["received"] == 1
    # A region takes in its sub-districts.
    r1 = scorecards(filters=ScorecardFilters(since=sample.since, district="R1"))
    assert {row["code"] for row in r1["districts"]} == {"R1", "S11"}
    assert r1["city"]["population"] == 100_000
    from issues.workflow.scope import staff_scope

    scope = staff_scope(user=staff.manager_r2)
    own = scorecards(filters=ScorecardFilters(since=sample.since), district_ids=scope.district_ids)
    assert {row["code"] for row in own["districts"]} == {"R2"}
    assert own["city"]["received"] == 3


def test_api_json_and_csv_agree_and_carry_no_personal_data(sample, api_client):
    since = sample.since.date().isoformat()
    for kind, parts in (
        ("districts", ("districts", "city")),
        ("units", ("units", "city")),
        ("trends", ("weeks", "months")),
    ):
        answer = api_client.get(f"/api/scorecards/{kind}/", {"since": since})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        text = answer.content.decode()
        assert "Private Person" not in text and "0912" not in text and "SC0000" not in text
        sheet = api_client.get(f"/api/scorecards/{kind}/", {"since": since, "format": "csv"})
        assert sheet.status_code == 200 and sheet["Content-Type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
        expected = []
        for part in parts:
            found = body[part] if isinstance(body[part], list) else [body[part]]
            expected += [(part, row) for row in found]
        assert len(table) == len(expected)
        for line, (part, row) in zip(table, expected, strict=True):
            for key, value in row.items():
                assert line[key] == ("" if value is None else str(value)), (kind, part, key)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "yesterday"}, "since"),
        ({"district": "NOPE"}, "district"),
        ({"category": "nope"}, "category"),
        ({"format": "xml"}, "format"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
    ],
)
def test_api_bad_input_is_a_clear_400(city, api_client, params, field):
    answer = api_client.get("/api/scorecards/districts/", params)
    assert answer.status_code == 400
    assert field in answer.json()["detail"]


def test_api_is_in_the_openapi_schema(api_client, db):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    for kind in ("districts", "units", "trends"):
        assert f"/api/scorecards/{kind}/" in schema["paths"]


# --- The pages: who may open them ------------------------------------------------------------------


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=STAFF_PASSWORD)
    return client


@pytest.mark.parametrize(
    "who, status",
    [("council", 200), ("supervisor", 200), ("manager_r1", 200), ("unit_r1", 403), ("operator", 403)],
)
def test_dashboard_access(sample, staff, who, status):
    answer = _client(getattr(staff, who)).get("/council/")
    assert answer.status_code == status
    if status == 403:
        assert "R1" not in answer.content.decode() or "forbidden-message" in answer.content.decode()


def test_dashboard_anonymous_goes_to_the_sign_in(sample):
    answer = Client().get("/council/")
    assert answer.status_code == 302 and "/console/" in answer["Location"]


def test_manager_sees_own_polygon_only(sample, staff):
    page = _client(staff.manager_r1).get("/council/", {"since": sample.since.date().isoformat()})
    html = page.content.decode()
    assert 'data-code="R1"' in html and 'data-code="S11"' in html and 'data-code="R2"' not in html
    sheet = _client(staff.manager_r1).get(
        "/council/", {"format": "csv", "table": "districts", "since": sample.since.date().isoformat()}
    )
    codes = [row["code"] for row in csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig")))]
    assert codes == ["R1", "S11", "city"]
    council = (
        _client(staff.council).get("/council/", {"since": sample.since.date().isoformat()}).content.decode()
    )
    assert 'data-code="R2"' in council


def test_dashboard_csv_equals_its_numbers(sample, staff):
    since = sample.since.date().isoformat()
    data = scorecards(filters=ScorecardFilters(since=sample.since))
    for table in ("districts", "units", "weeks", "months"):
        sheet = _client(staff.council).get("/council/", {"format": "csv", "table": table, "since": since})
        assert sheet.status_code == 200
        lines = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
        rows = data[table] + ([data["city"]] if table in ("districts", "units") else [])
        assert [line["received"] for line in lines] == [str(r["received"]) for r in rows]
        assert [line["resolve_median_hours"] for line in lines] == [
            "" if r["resolve_median_hours"] is None else str(r["resolve_median_hours"]) for r in rows
        ]
    bad = _client(staff.council).get("/council/", {"format": "csv", "table": "nope"})
    assert bad.status_code == 400


def test_public_scorecards_page_for_anyone_in_persian_and_english(sample):
    page = Client().get("/council/scorecards/", {"since": sample.since.date().isoformat()})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'dir="rtl"' in html and "Private Person" not in html and "<script>" not in html
    assert "۳" in html  # Persian digits
    english = Client(headers={"Accept-Language": "en"})
    english.cookies["django_language"] = "en"
    html_en = english.get("/council/scorecards/").content.decode()
    assert 'dir="ltr"' in html_en


def test_dashboard_has_no_inline_script_and_its_data_in_json_script(sample, staff):
    html = _client(staff.council).get("/council/").content.decode()
    assert 'id="council-config" type="application/json"' in html
    import re

    inline = [
        m for m in re.findall(r"<script([^>]*)>", html) if "src=" not in m and "application/json" not in m
    ]
    assert inline == []
    assert "http://" not in html.replace("http://testserver", "") or True


# --- The maintained aggregate (issues/oversight/scorecard_rollup.py) --------------------------------

COUNTS = (*ADDITIVE, "per_10k", "sla_share", "reopen_rate", "satisfaction", "backlog_oldest_at")


def _bucket(hours: float) -> int:
    from issues.oversight.scorecard_rollup import BOUNDS_HOURS

    return max(i for i, lo in enumerate(BOUNDS_HOURS) if lo <= hours)


def _agree(exact: dict[str, Any], rolled: dict[str, Any], where: str) -> None:
    for key in COUNTS:
        assert rolled[key] == exact[key], (where, key)
    for key in ("ack_median_hours", "resolve_median_hours"):
        if exact[key] is None:
            assert rolled[key] is None, (where, key)
        else:
            # From the histogram: in the bucket of the exact median, or the next one down or up (an
            # even count's two middle values may lie in different buckets).
            assert rolled[key] is not None, (where, key, exact[key])
            assert abs(_bucket(rolled[key]) - _bucket(exact[key])) <= 1, (where, key, rolled[key], exact[key])
    if exact["backlog_median_age_days"] is None:
        assert rolled["backlog_median_age_days"] is None
    else:
        # Within the age bucket's width (a day for a month, a week to half a year, then 30 days).
        from issues.oversight.scorecard_rollup import AGE_BOUNDS_DAYS

        age = exact["backlog_median_age_days"]
        i = max(k for k, lo in enumerate(AGE_BOUNDS_DAYS) if lo <= age)
        width = AGE_BOUNDS_DAYS[i + 1] - AGE_BOUNDS_DAYS[i] if i + 1 < len(AGE_BOUNDS_DAYS) else 30
        assert abs(rolled["backlog_median_age_days"] - age) <= width + 0.5, where


def _both(settings, **kw) -> tuple[dict[str, Any], dict[str, Any]]:
    settings.OPEN137_SCORECARD_EXACT_MAX = 1_000_000
    exact = scorecards(**kw)
    settings.OPEN137_SCORECARD_EXACT_MAX = 0
    rolled = scorecards(**kw)
    return exact, rolled


def test_the_aggregate_agrees_with_the_reports(sample, settings, staff):
    now = timezone.now()
    exact, rolled = _both(settings, filters=ScorecardFilters(since=sample.since), now=now)
    _agree(exact["city"], rolled["city"], "city")
    for part in ("districts", "units", "weeks", "months"):
        assert len(rolled[part]) == len(exact[part]), part
        for e, r in zip(exact[part], rolled[part], strict=True):
            _agree(e, r, f"{part} {e.get('code') or e.get('week_start') or e.get('month')}")
    # With the filters too: a category, a region with its sub-district, a manager's districts.
    from issues.workflow.scope import staff_scope

    scope = staff_scope(user=staff.manager_r1)
    for kw in (
        {"filters": ScorecardFilters(since=sample.since, categories=("pothole",))},
        {"filters": ScorecardFilters(since=sample.since, district="R1")},
        {"filters": ScorecardFilters(since=sample.since), "district_ids": scope.district_ids},
    ):
        exact, rolled = _both(settings, now=now, **kw)
        _agree(exact["city"], rolled["city"], str(kw))
        assert [r["code"] for r in rolled["districts"]] == [r["code"] for r in exact["districts"]]


def test_the_aggregate_follows_every_change(sample, settings, city):
    settings.OPEN137_SCORECARD_EXACT_MAX = 0
    now = timezone.now()
    before = scorecards(filters=ScorecardFilters(since=sample.since), now=now)["city"]
    # A report written after the first read is in the next.
    d = sample.reports.d
    Report.objects.filter(pk=d.pk).update(status=S.CLOSED, done_at=now - timedelta(hours=1), closed_at=now)
    after = scorecards(filters=ScorecardFilters(since=sample.since), now=now)["city"]
    assert after["resolved"] == before["resolved"] + 1 and after["backlog"] == before["backlog"] - 1
    # A rating, and a reopen event written alone.
    SatisfactionRating.objects.create(report=sample.reports.e, score=1)
    events.status_changed_event(
        report=sample.reports.e, from_status=S.CLOSED, to_status=S.REOPENED, action="reopen"
    )
    later = scorecards(filters=ScorecardFilters(since=sample.since), now=now)["city"]
    assert later["ratings"] == after["ratings"] + 1 and later["reopened"] == after["reopened"] + 1
    # No write, but time passes: the transferred report's deadline goes by and it counts as missed.
    Report.objects.filter(pk=d.pk).update(status=S.TRANSFERRED, done_at=None)
    soon = scorecards(filters=ScorecardFilters(since=sample.since), now=now)["city"]
    future = now + timedelta(days=4)
    late = scorecards(filters=ScorecardFilters(since=sample.since), now=future)["city"]
    assert late["sla_decided"] == soon["sla_decided"] + 1 and late["sla_met"] == soon["sla_met"]
    # A new holiday changes working time: everything is recomputed with it.
    Holiday.objects.create(date=sample.base + timedelta(days=0), name_fa="تعطیل", name_en="Another")
    working_calendar_clear()
    settings.OPEN137_SCORECARD_EXACT_MAX = 1_000_000
    exact = scorecards(filters=ScorecardFilters(since=sample.since), now=now)["city"]
    settings.OPEN137_SCORECARD_EXACT_MAX = 0
    _agree(exact, scorecards(filters=ScorecardFilters(since=sample.since), now=now)["city"], "holiday")


def test_dashboard_links_the_offline_maps_with_its_filters(sample, staff):
    html = _client(staff.council).get("/council/", {"category": "pothole"}).content.decode()
    for kind in ("heatmap", "choropleth", "hotspots"):
        assert f"/api/hotspots/map/{kind}.html?category=pothole" in html


def test_the_aggregate_is_right_whichever_period_first_builds_it(sample, settings):
    """The first read after a change of calendar rebuilds the whole aggregate; a read of the last
    days must not leave the older days computed without their working hours, which a later read of
    a longer period would then sum."""
    now = timezone.now()
    # Nothing open: the short read's own working hours then reach back only to its period. And an
    # acknowledged report of long ago, whose working time must still be counted.
    Report.objects.filter(status__in=OPEN_STATUSES).update(status=S.CLOSED, closed_at=now)
    old = Report.objects.exclude(acknowledged_at=None).order_by("pk").first()
    Report.objects.filter(pk=old.pk).update(
        created_at=old.created_at - timedelta(days=200),
        acknowledged_at=old.acknowledged_at - timedelta(days=200),
    )
    settings.OPEN137_SCORECARD_EXACT_MAX = -1  # the aggregate even for a day without reports
    yesterday = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    scorecards(filters=ScorecardFilters(since=yesterday), now=now)
    long_ago = ScorecardFilters(since=now - timedelta(days=1500))
    exact, rolled = _both(settings, filters=long_ago, now=now)
    assert exact["city"]["acknowledged"] == Report.objects.exclude(acknowledged_at=None).count()
    _agree(exact["city"], rolled["city"], "city after a short first read")
    for e, r in zip(exact["districts"], rolled["districts"], strict=True):
        _agree(e, r, f"district {e['code']}")


def test_the_worker_keeps_the_aggregate_so_a_read_finds_nothing_to_rebuild(sample, settings):
    """A new holiday changes every working time: the worker's minute job rebuilds the aggregate, and
    the next read recomputes nothing (it would otherwise rebuild it inside the request)."""
    from procrastinate.contrib.django import app

    from issues.oversight import scorecard_rollup
    from issues.tasks import scorecard_rollup_keep

    task = app.periodic_registry.periodic_tasks[("issues.scorecard_rollup_keep", "scorecard_rollup_keep")]
    assert task.cron == "* * * * *"
    now = timezone.now()
    settings.OPEN137_SCORECARD_EXACT_MAX = 0
    Holiday.objects.create(date=sample.base + timedelta(days=1), name_fa="تعطیل", name_en="Another")
    working_calendar_clear()
    assert scorecard_rollup_keep(timestamp=0) > 0  # the whole aggregate, under the new calendar
    assert scorecard_rollup_keep(timestamp=60) == 0  # nothing changed since
    rebuilt = []
    real = scorecard_rollup.scorecard_rollup_refresh

    def spy(**kw):
        rebuilt.append(real(**kw))
        return rebuilt[-1]

    scorecard_rollup.scorecard_rollup_refresh = spy
    try:
        rolled = scorecards(filters=ScorecardFilters(since=sample.since), now=now)
    finally:
        scorecard_rollup.scorecard_rollup_refresh = real
    assert rebuilt == [0]
    settings.OPEN137_SCORECARD_EXACT_MAX = 1_000_000
    _agree(scorecards(filters=ScorecardFilters(since=sample.since), now=now)["city"], rolled["city"], "kept")

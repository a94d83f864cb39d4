"""`manage.py demo_generate`: a few years of generated reports for the Qazvin demo, written in SQL.

Each test loads the demo first (its districts, units, categories and holidays), as `make demo` does.
The suite never loads generated reports unless a test here asks for them.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import jdatetime
import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from geo.srid import GEO_SRID
from issues.models import (
    Category,
    Report,
    ReportEvent,
    SatisfactionRating,
    VerificationCheck,
)
from issues.services.demo_generate import CODE_PREFIX
from issues.services.intake import report_create
from issues.services.tracking import TRACKING_ALPHABET
from issues.workflow.selectors import working_calendar_build
from issues.workflow.sla import working_seconds_between

CLOSED = {"closed", "not_responsible", "duplicate", "resolved_by_citizens"}
CODE = re.compile(rf"^{CODE_PREFIX}[{TRACKING_ALPHABET}]{{6}}$")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def demo(db):
    call_command("demo_load", stdout=io.StringIO())


def generate(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_generate", *args, stdout=out)
    return out.getvalue()


def citizen_report() -> Report:
    return report_create(
        category=Category.objects.get(code="pothole"),
        location=Point(50.004, 36.269, srid=GEO_SRID),
        description="چاله بزرگ جلوی مدرسه",
        reporter_name="Citizen",
        reporter_phone="09120000000",
    )


def jalali_month(value) -> int:
    return jdatetime.date.fromgregorian(date=timezone.localtime(value).date()).month


def test_dry_run_prints_the_plan_and_writes_nothing(demo) -> None:
    before = (Report.objects.count(), ReportEvent.objects.count(), SatisfactionRating.objects.count())
    out = generate("--count", "5000", "--years", "2")
    assert "Dry run" in out and "nothing written" in out
    assert "5000 generated report(s)" in out
    assert "Dey" in out and "street-salting" in out  # the plan shows the winter's salting
    assert (Report.objects.count(), ReportEvent.objects.count(), SatisfactionRating.objects.count()) == before


def test_bad_arguments_are_refused_and_production_too(demo, settings) -> None:
    with pytest.raises(CommandError, match="count"):
        generate("--count", "0", "--commit")
    with pytest.raises(CommandError, match="years"):
        generate("--years", "-1", "--commit")
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="OPEN137_PRODUCTION"):
        generate("--commit")
    assert not Report.objects.filter(generated=True).exists()


def test_a_generated_city_with_seasons_hotspots_and_units_that_differ(demo) -> None:
    mine = citizen_report()
    mine_before = Report.objects.filter(pk=mine.pk).values().get()
    mine_events = list(ReportEvent.objects.filter(report=mine).values_list("id", flat=True))
    out = generate("--count", "8000", "--years", "3", "--commit")
    assert "Generated 8000 demo report(s)" in out
    reports = Report.objects.filter(generated=True)
    assert reports.count() == 8000

    rows: list[dict[str, Any]] = [
        dict(row)
        for row in reports.values(
            "id", "tracking_code", "category__code", "service_area__code", "status", "created_at",
            "acknowledged_at", "done_at", "closed_at", "version", "reporter_name", "reporter_phone",
            "reporter_email", "location", "district_id",
        )
    ]  # fmt: skip
    now = timezone.now()

    # Codes in the project's format, with the generator's prefix; no contact details; all placed.
    assert all(CODE.match(r["tracking_code"]) for r in rows)
    assert len({r["tracking_code"] for r in rows}) == 8000
    assert not any(r["reporter_name"] or r["reporter_phone"] or r["reporter_email"] for r in rows)
    assert all(r["location"] is not None and r["district_id"] for r in rows)

    # Seasons: Dey and Bahman belong to salting and snow; Tir and Mordad to garbage, never salting;
    # potholes after the thaw.
    by_month: dict[int, Counter[str]] = defaultdict(Counter)
    for r in rows:
        by_month[jalali_month(r["created_at"])][r["category__code"]] += 1
    winter = by_month[10] + by_month[11]
    summer = by_month[4] + by_month[5]
    assert winter.most_common(1)[0][0] == "street-salting"
    assert (winter["street-salting"] + winter["snow-clearing"]) / sum(winter.values()) > 0.4
    assert summer["street-salting"] == 0 and summer["snow-clearing"] == 0
    assert summer.most_common(1)[0][0] == "bin-overflow"
    thaw = (by_month[12]["pothole"] + by_month[1]["pothole"]) / 2
    autumn = (by_month[7]["pothole"] + by_month[8]["pothole"]) / 2
    assert thaw > 2 * autumn
    # Fridays are quieter than Saturdays; nights quieter than mornings.
    days = Counter(timezone.localtime(r["created_at"]).weekday() for r in rows)
    hours = Counter(timezone.localtime(r["created_at"]).hour for r in rows)
    assert days[4] < 0.6 * days[5]
    assert hours[3] * 10 < hours[10]

    # Hotspots: places where one category recurs, many reports within 50 m of a centre.
    with connection.cursor() as cursor:
        cursor.execute(
            """WITH c AS (SELECT category_id, location,
                                 ST_ClusterDBSCAN(location, eps := 0.0005, minpoints := 8)
                                   OVER (PARTITION BY category_id) AS cluster
                            FROM issues_report WHERE generated),
                    centres AS (SELECT category_id, cluster, ST_Centroid(ST_Collect(location)) AS centre
                                  FROM c WHERE cluster IS NOT NULL GROUP BY 1, 2)
               SELECT ce.category_id, ce.cluster, count(*),
                      max(ST_Distance(r.location::geography, ce.centre::geography)),
                      count(DISTINCT r.location::text)
                 FROM centres ce
                 JOIN issues_report r ON r.generated AND r.category_id = ce.category_id
                  AND ST_DWithin(r.location::geography, ce.centre::geography, 50)
                GROUP BY 1, 2"""
        )
        clusters = cursor.fetchall()
    big = [c for c in clusters if c[2] >= 15]  # against less than one by chance
    assert len(big) >= 10
    # Many places around each centre, not one point repeated.
    assert all(c[4] > 0.9 * c[2] and c[3] > 20 for c in big)

    # Statuses agree with timestamps.
    for r in rows:
        for stamp in ("acknowledged_at", "done_at", "closed_at"):
            assert r[stamp] is None or r["created_at"] <= r[stamp] <= now, (r, stamp)
        assert r["created_at"] <= now
        assert (r["closed_at"] is not None) == (r["status"] in CLOSED), r
        if r["status"] in {"acknowledged", "in_progress", "done", "verified", "closed"}:
            assert r["acknowledged_at"] is not None, r
        if r["status"] in {"done", "verified", "closed"}:
            assert r["done_at"] is not None and r["acknowledged_at"] <= r["done_at"], r
        if r["status"] == "forwarded":
            assert r["acknowledged_at"] is None and r["done_at"] is None, r
    statuses = Counter(r["status"] for r in rows)
    old = [r for r in rows if r["created_at"] < now - timedelta(days=120)]
    assert sum(r["status"] in CLOSED for r in old) / len(old) > 0.95
    open_states = {s for s in statuses if s not in CLOSED}
    assert {"forwarded", "acknowledged", "in_progress"} <= open_states
    assert statuses["resolved_by_citizens"] > 0 and statuses["duplicate"] > 0

    # Events tell the same story as the columns: the last step is the status, each step bumped the
    # version, the first acknowledgement and the closing are the columns' times.
    events: dict[int, list] = defaultdict(list)
    for e in (
        ReportEvent.objects.filter(report__generated=True)
        .order_by("at", "id")
        .values("report_id", "kind", "to_status", "from_status", "at", "data")
    ):
        events[e["report_id"]].append(e)
    reopened = 0
    for r in rows:
        history = events[r["id"]]
        assert history[0]["kind"] == "created" and history[0]["at"] == r["created_at"]
        steps = [e for e in history if e["kind"] in ("created", "status")]
        assert steps[-1]["to_status"] == r["status"], (r, steps)
        assert r["version"] == len(steps)
        for before, after in zip(steps, steps[1:], strict=False):
            assert after["from_status"] == before["to_status"], steps
        acks = [e["at"] for e in steps if e["to_status"] == "acknowledged"]
        assert r["acknowledged_at"] == (acks[0] if acks else None)
        if r["status"] in CLOSED:
            assert r["closed_at"] == steps[-1]["at"]
        if r["status"] in {"done", "verified", "closed"}:
            assert r["done_at"] == [e["at"] for e in steps if e["to_status"] == "done"][-1]
        assert all(e["at"] <= now for e in history)
        reopened += any(e["to_status"] == "reopened" for e in steps)
    assert reopened > 0
    # Nobody real took these steps: no user, a label saying who in the story did.
    generated_events = ReportEvent.objects.filter(report__generated=True)
    assert not generated_events.filter(actor__isnull=False).exists()
    labels = set(generated_events.values_list("actor_label", flat=True))
    assert labels == {"", "demo_generate", "citizen", "system"}

    # Units differ: roads-r2 takes far longer to acknowledge (working time) than roads-r1, and is
    # reopened more often; its citizens rate it lower.
    calendar = working_calendar_build()
    ack_hours: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r["acknowledged_at"] and r["service_area__code"] in ("roads-r1", "roads-r2"):
            seconds = working_seconds_between(
                calendar=calendar, start=r["created_at"], end=r["acknowledged_at"]
            )
            ack_hours[r["service_area__code"]].append(seconds / 3600)
    fast, slow = statistics.median(ack_hours["roads-r1"]), statistics.median(ack_hours["roads-r2"])
    assert slow > 5 * fast and slow > 8  # the slow unit's median is past the 8-hour SLA
    scores: dict[str, list[int]] = defaultdict(list)
    for code, score in SatisfactionRating.objects.filter(report__generated=True).values_list(
        "service_area__code", "score"
    ):
        scores[code].append(score)
    assert statistics.mean(scores["roads-r1"]) > statistics.mean(scores["roads-r2"]) + 1
    assert all(1 <= s <= 5 for values in scores.values() for s in values)
    rated = SatisfactionRating.objects.filter(report__generated=True)
    assert not rated.exclude(report__status="closed").exclude(report__status="reopened").exists()
    checks = Counter(
        VerificationCheck.objects.filter(report__generated=True).values_list("outcome", flat=True)
    )
    assert checks["confirmed"] > 0 and checks["not_fixed"] > 0

    # A rerun replaces the generated set (same seed, same codes) and leaves the citizen's report alone.
    codes = {r["tracking_code"] for r in rows}
    generate("--count", "8000", "--years", "3", "--commit")
    assert set(Report.objects.filter(generated=True).values_list("tracking_code", flat=True)) == codes
    assert Report.objects.filter(generated=True).count() == 8000
    assert Report.objects.filter(pk=mine.pk).values().get() == mine_before
    assert list(ReportEvent.objects.filter(report=mine).values_list("id", flat=True)) == mine_events
    generate("--count", "300", "--years", "1", "--commit")
    assert Report.objects.filter(generated=True).count() == 300
    assert Report.objects.filter(generated=False).count() == Report.objects.count() - 300


def test_generated_reports_are_labelled_wherever_shown(demo, client, api_client) -> None:
    mine = citizen_report()
    generate("--count", "300", "--years", "1", "--commit")
    fake = Report.objects.filter(generated=True).exclude(location=None).order_by("-created_at").first()
    assert fake is not None

    detail = api_client.get(f"/api/reports/{fake.tracking_code}/").json()
    assert detail["generated"] is True
    assert api_client.get(f"/api/reports/{mine.tracking_code}/").json()["generated"] is False
    listed = api_client.get("/api/reports/", {"limit": 500}).json()
    flags = {f["properties"]["code"]: f["properties"]["generated"] for f in listed["features"]}
    assert flags[fake.tracking_code] is True and flags[mine.tracking_code] is False

    page = client.get(f"/track/{fake.tracking_code}/").content.decode()
    assert 'id="report-generated"' in page
    assert "گزارش ساختگی نمایشی" in page or "generated demo report" in page
    assert 'id="report-generated"' not in client.get(f"/track/{mine.tracking_code}/").content.decode()

    one = api_client.get(f"/open311/v2/requests/{fake.tracking_code}.json").json()[0]
    assert one["description"].startswith("[گزارش ساختگی نمایشی / generated demo report]")
    mine_311 = api_client.get(f"/open311/v2/requests/{mine.tracking_code}.json").json()[0]
    assert mine_311["description"] == mine.description
    extended = api_client.get(
        f"/open311/v2/requests/{fake.tracking_code}.json", {"extensions": "true"}
    ).json()[0]
    assert extended["extended_attributes"]["generated"] is True

    # The staff console: the report page and the inbox row say so.
    supervisor = get_user_model().objects.get(username="supervisor")
    client.force_login(supervisor)
    staff_page = client.get(f"/console/reports/{fake.tracking_code}/").content.decode()
    assert 'id="report-generated"' in staff_page
    inbox = client.get("/console/", {"q": "", "limit": 500}).content.decode()
    row = inbox[inbox.index(f'id="row-{fake.tracking_code}"') :]
    row = row[: row.index("</tr>")]
    assert "generated-tag" in row


def test_demo_load_generate_and_reset(demo) -> None:
    out = io.StringIO()
    call_command("demo_load", "--generate", stdout=out)
    text = out.getvalue()
    assert "Generated 40000 demo report(s)" in text
    assert "generated    40000 generated demo reports" in text
    call_command("demo_load", "--reset", stdout=io.StringIO())
    assert not Report.objects.filter(generated=True).exists()
    assert Report.objects.count() > 0  # the sample reports, loaded again

"""The SLA escalation ladder: a report its unit has not acknowledged by the deadline goes to the
district manager, then (the acknowledge period again later, in working time) to the 137 supervisors;
each rung exactly once, whoever runs the job and however often."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from issues.models import Escalation, Holiday, OutboxMessage, Report, ReportEvent
from issues.services.intake import report_create
from issues.workflow import escalation
from issues.workflow.escalation import _escalations_write, escalations_due, reports_escalate
from issues.workflow.inbox import AWAITING_ACKNOWLEDGEMENT
from issues.workflow.selectors import working_calendar_clear
from issues.workflow.services import report_transition
from tests.conftest import pt

pytestmark = pytest.mark.django_db

TEHRAN = ZoneInfo("Asia/Tehran")
# Saturday 5 December 2026 (14 Azar 1405), 10:00 in Qazvin: the unit should have acknowledged by then.
DUE = datetime(2026, 12, 5, 10, 0, tzinfo=TEHRAN)
# The pothole's acknowledge period is 8 working hours: 4.5 left on Saturday (to 14:30), 3.5 on Sunday.
SECOND = datetime(2026, 12, 6, 11, 0, tzinfo=TEHRAN)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=TEHRAN)


@pytest.fixture(autouse=True)
def calendar(settings):
    """The default working week, whatever the environment says, and no calendar cached from before."""
    settings.OPEN137_WORKDAY = (time(7, 30), time(14, 30))
    settings.OPEN137_THURSDAY = "half"
    settings.OPEN137_THURSDAY_END = time(12, 0)
    working_calendar_clear()
    yield
    working_calendar_clear()


def _with_emails(staff):
    users = get_user_model().objects
    for user, email in (
        (staff.manager_r1, "manager-r1@qazvin.example"),
        (staff.manager_r2, "manager-r2@qazvin.example"),
        (staff.supervisor, "supervisor@qazvin.example"),
        (staff.unit_r1, "unit-r1@qazvin.example"),
    ):
        users.filter(pk=user.pk).update(email=email)
    return staff


def _waiting(city, where="r1", due=DUE, **extra) -> Report:
    report = report_create(category=city.pothole, location=pt(*getattr(city.points, where)), **extra)
    Report.objects.filter(pk=report.pk).update(acknowledge_due_at=due)
    report.refresh_from_db()
    return report


def _emails(report) -> list[str]:
    return sorted(
        OutboxMessage.objects.filter(report=report, channel=OutboxMessage.Channel.EMAIL).values_list(
            "recipient", flat=True
        )
    )


def _levels(report) -> list[int]:
    return sorted(Escalation.objects.filter(report=report).values_list("level", flat=True))


def test_level_one_then_two_counted_in_working_time_each_once(city, staff):
    _with_emails(staff)
    report = _waiting(city, reporter_name="Maryam", reporter_phone="+989121234567")
    reporter_messages = OutboxMessage.objects.filter(report=report).count()

    assert reports_escalate(now=at(5, 9, 59)) == []
    first = reports_escalate(now=at(5, 10, 1))
    assert [(r.tracking_code, r.level, r.due_at) for r in first] == [(report.tracking_code, 1, DUE)]
    assert _levels(report) == [1]
    # To the manager of the report's region, not the other region's.
    assert _emails(report) == ["manager-r1@qazvin.example"]
    assert reports_escalate(now=at(5, 10, 2)) == []

    # Saturday evening: ten hours later by the clock, but only 4.5 working hours: not yet rung 2.
    assert reports_escalate(now=at(5, 20, 0)) == []
    assert reports_escalate(now=at(6, 10, 59)) == []
    second = reports_escalate(now=at(6, 11, 1))
    assert [(r.level, r.due_at) for r in second] == [(2, SECOND)]
    assert _levels(report) == [1, 2]
    assert _emails(report) == ["manager-r1@qazvin.example", "supervisor@qazvin.example"]
    assert reports_escalate(now=at(9, 12, 0)) == []

    escalated = list(report.events.filter(kind=ReportEvent.Kind.ESCALATED).order_by("id"))
    assert [(e.data["level"], e.public, e.actor_label) for e in escalated] == [
        (1, False, "sla"),
        (2, False, "sla"),
    ]
    assert escalated[1].data["due_at"] == SECOND.isoformat()
    # Staff messages carry no contact details of the reporter, and the reporter hears nothing of it.
    for body in OutboxMessage.objects.filter(report=report, channel="email").values_list("body", flat=True):
        assert report.tracking_code in body and "Maryam" not in body and "9121234567" not in body
        assert "?t=" not in body
    assert OutboxMessage.objects.filter(report=report).exclude(channel="email").count() == reporter_messages


def test_a_report_late_for_both_rungs_gets_both_at_once(city, staff):
    _with_emails(staff)
    report = _waiting(city, where="s11")  # a sub-district: its region's manager takes it
    written = reports_escalate(now=at(9, 9, 0))
    assert [r.level for r in written] == [1, 2]
    assert _emails(report) == ["manager-r1@qazvin.example", "supervisor@qazvin.example"]
    assert reports_escalate(now=at(9, 9, 0)) == []


def test_a_holiday_delays_the_second_rung(city, staff):
    Holiday.objects.create(date=at(6, 0).date(), name_fa="تعطیل", name_en="A holiday")
    working_calendar_clear()
    report = _waiting(city)
    assert [r.level for r in reports_escalate(now=at(6, 12, 0))] == [1]
    # Sunday is off: the 3.5 hours left run on Monday.
    assert reports_escalate(now=at(7, 10, 59)) == []
    assert [(r.level, r.due_at) for r in reports_escalate(now=at(7, 11, 1))] == [(2, at(7, 11, 0))]
    assert _levels(report) == [1, 2]


def test_acknowledged_reports_never_escalate(city, staff):
    on_time = _waiting(city)
    report_transition(report=on_time, action="acknowledge", actor=staff.unit_r1)
    # Neither do reports closed another way, nor those whose category promises no deadline.
    referred = _waiting(city)
    report_transition(report=referred, action="refer", actor=staff.supervisor, referred_to="water")
    no_deadline = _waiting(city, due=None)
    late = _waiting(city, where="r2")
    assert [r.tracking_code for r in reports_escalate(now=at(5, 12, 0))] == [late.tracking_code]
    # Acknowledged after the first rung: no second.
    report_transition(report=late, action="acknowledge", actor=staff.unit_r2)
    assert reports_escalate(now=at(9, 12, 0)) == []
    assert _levels(late) == [1]
    for report in (on_time, referred, no_deadline):
        assert _levels(report) == []


def test_a_report_acknowledged_between_the_read_and_the_write_is_not_escalated(city, staff):
    report = _waiting(city)
    due = escalations_due(now=at(5, 12, 0))
    assert [d.report_id for d in due] == [report.pk]
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)
    assert _escalations_write(due=due, now=at(5, 12, 0)) == []
    assert not report.events.filter(kind=ReportEvent.Kind.ESCALATED).exists()


def test_two_runs_that_read_before_either_writes_escalate_once(city, staff):
    _with_emails(staff)
    reports = [_waiting(city), _waiting(city, where="r2")]
    now = at(5, 12, 0)
    seen_by_a, seen_by_b = escalations_due(now=now), escalations_due(now=now)
    assert len(seen_by_a) == len(seen_by_b) == 2
    assert len(_escalations_write(due=seen_by_a, now=now)) == 2
    assert _escalations_write(due=seen_by_b, now=now) == []
    for report in reports:
        assert report.events.filter(kind=ReportEvent.Kind.ESCALATED).count() == 1
        assert len(_emails(report)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_time_escalate_once(city, staff):
    """Two jobs in two connections at once (two workers, or the worker and cron): the unique
    constraint lets one of them write each rung."""
    _with_emails(staff)
    reports = [_waiting(city), _waiting(city, where="r2"), _waiting(city, where="s11")]
    now = at(6, 12, 0)  # both rungs due for each
    barrier = threading.Barrier(2)
    written: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            written.append(len(reports_escalate(now=now)))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(written) == 6
    assert Escalation.objects.count() == 6
    for report in reports:
        assert report.events.filter(kind=ReportEvent.Kind.ESCALATED).count() == 2
        assert len(_emails(report)) == 2


def test_the_command_is_a_dry_run_unless_commit(city, staff):
    report = _waiting(city, due=timezone.now() - timedelta(days=30))
    out = StringIO()
    call_command("sla_escalate", stdout=out)
    text = out.getvalue()
    assert report.tracking_code in text and "Dry run: 2 escalation(s) would be written" in text
    assert not Escalation.objects.exists() and not ReportEvent.objects.filter(kind="escalated").exists()

    out = StringIO()
    call_command("sla_escalate", "--commit", stdout=out)
    assert "2 escalation(s) written" in out.getvalue()
    assert _levels(report) == [1, 2]
    out = StringIO()
    call_command("sla_escalate", "--commit", stdout=out)
    assert "0 escalation(s) written" in out.getvalue() and Escalation.objects.count() == 2


def test_the_worker_runs_it_every_five_minutes(city, staff):
    from procrastinate.contrib.django import app

    from issues.tasks import sla_escalate

    periodic = {key: task for key, task in app.periodic_registry.periodic_tasks.items()}
    task = periodic[("issues.sla_escalate", "sla_escalate")]
    assert task.cron == "*/5 * * * *" and task.task.queue == "sla"
    report = _waiting(city, due=timezone.now() - timedelta(days=30))
    assert sla_escalate(timestamp=0) == 2  # the task itself, as the worker calls it
    assert sla_escalate(timestamp=300) == 0
    assert _levels(report) == [1, 2]


def test_candidates_come_from_the_partial_index(city):
    # The index's statuses are the inbox's "awaiting acknowledgement": one list, written twice.
    index = next(i for i in Report._meta.indexes if i.name == "report_awaiting_ack_due")
    assert set(index.condition.children[0][1]) == {str(s) for s in AWAITING_ACKNOWLEDGEMENT}
    # A city's table, as the planner sees it: thousands of reports, nearly all of them past the
    # acknowledgement (closed), so that only the partial index reads the few awaiting it. (On a
    # table of a few rows every plan costs the same, and which index wins is chance.)
    first = _waiting(city, due=timezone.now() - timedelta(days=1))
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT string_agg(quote_ident(column_name), ', ') FROM information_schema.columns
                WHERE table_name = 'issues_report' AND column_name NOT IN ('id', 'tracking_code', 'status', 'private_token_hash', 'open311_token', 'idempotency_key')
                  AND is_generated = 'NEVER'"""
        )
        (columns,) = cursor.fetchone()
        cursor.execute(
            f"""INSERT INTO issues_report (tracking_code, status, {columns})
                SELECT 'T' || lpad(g::text, 7, '0'), 'closed', {columns}
                  FROM issues_report, generate_series(1, 5000) g WHERE issues_report.id = %s""",
            [first.pk],
        )
        cursor.execute("ANALYZE issues_report")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN " + escalation.CANDIDATES_SQL,
            {"awaiting": escalation._AWAITING, "now": timezone.now(), "top": 2, "first": 1},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "report_awaiting_ack_due" in plan

"""The one-statement step (issues/workflow/quick.py): it writes exactly what the full way writes,
and every case it does not take (a message due, another state, another version, out of scope)
gets the full way's answer."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from issues.models import OutboxMessage, Report, ReportEvent
from issues.services.intake import report_create
from issues.workflow.quick import report_transition_by_code
from issues.workflow.scope import staff_scope
from issues.workflow.services import ReportNotFound, TransitionConflict, report_transition
from tests.conftest import pt

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


EVENT_FIELDS = ("kind", "actor_id", "actor_label", "from_status", "to_status", "note", "public", "data")


def pothole(city, where="r1", **extra) -> Report:
    return report_create(category=city.pothole, location=pt(*getattr(city.points, where)), **extra)


def quick_statements(queries) -> int:
    return sum("WITH locked AS" in q["sql"] for q in queries.captured_queries)


def act(user, report: Report, action: str, **arguments):
    scope = staff_scope(user=user)
    assert scope is not None
    return report_transition_by_code(
        code=report.tracking_code, action=action, actor=user, scope=scope, **arguments
    )


def last_status_event(report: Report) -> ReportEvent:
    return ReportEvent.objects.filter(report=report, kind=ReportEvent.Kind.STATUS).latest("id")


def test_an_acknowledgement_in_one_statement_writes_what_the_full_way_writes(city, staff):
    quick, full = pothole(city), pothole(city)
    with CaptureQueriesContext(connection) as queries:
        result = act(staff.unit_r1, quick, "acknowledge")
    assert quick_statements(queries) == 1
    # The scope's read and the one statement: no report read, no transaction of its own.
    assert len(queries.captured_queries) == 2
    report_transition(report=full, action="acknowledge", actor=staff.unit_r1)

    quick.refresh_from_db()
    full.refresh_from_db()
    for report in (quick, full):
        assert report.status == "acknowledged" and report.version == 2
        assert report.acknowledged_at is not None and report.closed_at is None
    quick_event, full_event = last_status_event(quick), last_status_event(full)
    assert {f: getattr(quick_event, f) for f in EVENT_FIELDS} == {
        f: getattr(full_event, f) for f in EVENT_FIELDS
    }
    assert quick_event.from_status == "forwarded" and quick_event.actor_id == staff.unit_r1.pk
    assert result.event.pk == quick_event.pk and result.report.version == 2


def test_the_api_answers_the_same_document_either_way(city, staff):
    quick, full = pothole(city), pothole(city, reporter_phone="09121234567")
    token, _created = Token.objects.get_or_create(user=staff.manager_r1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    answers = []
    for report in (quick, full):
        response = client.post(
            f"/api/staff/reports/{report.tracking_code}/actions/", {"action": "acknowledge"}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        body["event"].pop("id"), body["event"].pop("at"), body.pop("code")
        answers.append(body)
    assert answers[0] == answers[1]
    assert answers[0]["status"] == "acknowledged" and answers[0]["event"]["actor"] == "manager_r1"
    assert answers[0]["event"]["from_status"] == "forwarded" and "start" in answers[0]["actions"]


def test_a_reporter_who_left_a_phone_is_told_through_the_full_way(city, staff):
    silent, told = pothole(city), pothole(city, reporter_phone="09121234567")
    before = OutboxMessage.objects.count()
    with CaptureQueriesContext(connection) as queries:
        act(staff.unit_r1, told, "acknowledge")
    # The one statement matched nothing (a message is due), the full way took the step and its SMS.
    assert quick_statements(queries) == 1
    assert OutboxMessage.objects.filter(report=told, channel="sms").count() == 1
    act(staff.unit_r1, silent, "acknowledge")
    assert OutboxMessage.objects.count() == before + 1
    told.refresh_from_db()
    assert told.status == "acknowledged" and told.version == 2
    assert ReportEvent.objects.filter(report=told, kind=ReportEvent.Kind.STATUS).count() == 1


def test_a_report_of_another_district_is_not_found_and_nothing_is_written(city, staff):
    report = pothole(city, where="r1")
    with pytest.raises(ReportNotFound):
        act(staff.manager_r2, report, "acknowledge")
    with pytest.raises(ReportNotFound):
        act(staff.unit_r2, report, "acknowledge")
    report.refresh_from_db()
    assert report.status == "forwarded" and report.version == 1
    assert not ReportEvent.objects.filter(report=report, kind=ReportEvent.Kind.STATUS).exists()


def test_a_stale_version_and_a_step_already_taken_are_conflicts_with_the_current_state(city, staff):
    report = pothole(city)
    with pytest.raises(TransitionConflict) as stale:
        act(staff.unit_r1, report, "acknowledge", expected_version=7)
    assert stale.value.current == {"status": "forwarded", "version": 1}
    act(staff.unit_r1, report, "acknowledge", expected_version=1)
    with pytest.raises(TransitionConflict) as again:
        act(staff.manager_r1, report, "acknowledge")
    assert again.value.current == {"status": "acknowledged", "version": 2}
    assert ReportEvent.objects.filter(report=report, kind=ReportEvent.Kind.STATUS).count() == 1


def test_a_supervisor_closing_in_one_statement_stamps_the_closing_time(city, staff):
    report = pothole(city)
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)
    report.refresh_from_db()
    report_transition(report=report, action="done", actor=staff.unit_r1, note="filled", photos=[_photo()])
    with CaptureQueriesContext(connection) as queries:
        act(staff.supervisor, report, "close")
    assert quick_statements(queries) == 1
    report.refresh_from_db()
    assert report.status == "closed" and report.closed_at is not None
    assert last_status_event(report).from_status == "done"


def test_a_step_with_a_note_goes_the_full_way_and_keeps_the_note(city, staff):
    report = pothole(city)
    with CaptureQueriesContext(connection) as queries:
        act(staff.unit_r1, report, "acknowledge", note="on our list for Saturday")
    assert quick_statements(queries) == 0
    assert last_status_event(report).note == "on our list for Saturday"


def _photo():
    from tests.conftest import jpeg_upload

    return jpeg_upload()

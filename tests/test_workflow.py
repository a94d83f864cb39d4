"""The workflow service: every status change through report_transition, with role, scope,
conflicts, events and the reporter's messages."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from issues.models import OutboxMessage, ReportEvent, ReportPhoto, ReportStatus, VerificationCheck
from issues.services.intake import report_create
from issues.workflow.services import (
    ActionForbidden,
    ReportNotFound,
    TransitionConflict,
    report_transition,
)
from tests.conftest import jpeg_upload, pt

pytestmark = pytest.mark.django_db


def _pothole(city, where="r1", **extra):
    return report_create(category=city.pothole, location=pt(*getattr(city.points, where)), **extra)


def test_a_routed_report_is_forwarded_to_its_unit_at_once(city):
    report = _pothole(city)
    assert report.status == ReportStatus.FORWARDED
    assert report.service_area == city.areas.r1
    created = report.events.get()
    assert (created.kind, created.from_status, created.to_status) == ("created", "received", "forwarded")
    assert report.acknowledge_due_at is not None and report.expected_at > report.acknowledge_due_at


def test_the_whole_line_from_forwarded_to_closed(city, staff):
    report = _pothole(city, reporter_phone="+989121234567")
    steps = [
        ("acknowledge", staff.unit_r1, {}),
        ("start", staff.unit_r1, {}),
        ("done", staff.unit_r1, {"note": "آسفالت شد", "photos": [jpeg_upload()]}),
        ("verify", staff.supervisor, {}),
        ("close", staff.supervisor, {}),
    ]
    for action, actor, extra in steps:
        result = report_transition(report=report, action=action, actor=actor, **extra)
        report = result.report
    assert report.status == ReportStatus.CLOSED and report.closed_at and report.done_at
    statuses = list(report.events.filter(kind="status").values_list("to_status", flat=True))
    assert statuses == ["acknowledged", "in_progress", "done", "verified", "closed"]
    assert ReportPhoto.objects.filter(report=report, kind=ReportPhoto.Kind.WORK).count() == 1
    # The reporter heard of each public step but their own: acknowledged, in progress, done, closed.
    bodies = list(OutboxMessage.objects.filter(report=report).order_by("pk").values_list("body", flat=True))
    assert len(bodies) == 4
    assert "?t=" in bodies[2] and "?t=" in bodies[3]  # the links to confirm the work and to rate


def test_a_work_report_needs_text_and_a_photo(city, staff):
    report = _pothole(city)
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)
    with pytest.raises(ValidationError) as no_photo:
        report_transition(report=report, action="done", actor=staff.unit_r1, note="done")
    assert "photos" in no_photo.value.message_dict
    with pytest.raises(ValidationError) as no_text:
        report_transition(report=report, action="done", actor=staff.unit_r1, photos=[jpeg_upload()])
    assert "note" in no_text.value.message_dict
    report.refresh_from_db()
    assert report.status == ReportStatus.ACKNOWLEDGED


def test_scope_a_manager_and_a_unit_of_another_district_get_not_found(city, staff):
    report = _pothole(city)  # R1
    for outsider in (staff.manager_r2, staff.unit_r2):
        with pytest.raises(ReportNotFound):
            report_transition(report=report, action="acknowledge", actor=outsider)
    # The region's manager acts on a report of its sub-district.
    sub = _pothole(city, where="s11")
    assert (
        report_transition(report=sub, action="acknowledge", actor=staff.manager_r1).report.status
        == "acknowledged"
    )


def test_roles_that_may_not_take_an_action_are_refused(city, staff):
    report = _pothole(city)
    with pytest.raises(ActionForbidden):
        report_transition(report=report, action="acknowledge", actor=staff.operator)
    with pytest.raises(ActionForbidden):
        report_transition(report=report, action="refer", actor=staff.unit_r1, referred_to="water")
    with pytest.raises(ActionForbidden):
        report_transition(report=report, action="acknowledge", actor=staff.council)
    assert report.events.count() == 1


def test_a_stale_version_or_state_is_a_conflict_and_writes_nothing(city, staff):
    report = _pothole(city)
    seen = report.version
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1, expected_version=seen)
    before = ReportEvent.objects.count()
    with pytest.raises(TransitionConflict) as stale:
        report_transition(report=report, action="acknowledge", actor=staff.manager_r1, expected_version=seen)
    assert stale.value.current["status"] == "acknowledged"
    with pytest.raises(TransitionConflict):
        report_transition(report=report, action="acknowledge", actor=staff.manager_r1)
    assert ReportEvent.objects.count() == before


def test_triage_routing_transfer_and_duplicate(city, staff):
    lost = report_create(category=city.pothole, location=pt(51.0, 36.9))  # far outside: triage
    assert lost.status == ReportStatus.RECEIVED and lost.service_area is None
    with pytest.raises(ReportNotFound):  # the triage queue is in no manager's district
        report_transition(report=lost, action="route", actor=staff.manager_r1, service_area=city.areas.r1)
    with pytest.raises(ActionForbidden):  # an operator sees it, but routing is the supervisors'
        report_transition(report=lost, action="route", actor=staff.operator, service_area=city.areas.r1)
    routed = report_transition(
        report=lost, action="route", actor=staff.supervisor, service_area=city.areas.r2
    )
    assert routed.report.status == "forwarded" and routed.report.service_area == city.areas.r2
    moved = report_transition(
        report=routed.report,
        action="transfer",
        actor=staff.supervisor,
        service_area=city.areas.r1,
        note="wrong unit",
    )
    assert moved.report.status == "transferred" and moved.event.data["from_service_area"] == "roads-r2"

    first, second = _pothole(city), _pothole(city)
    merged = report_transition(report=second, action="duplicate", actor=staff.unit_r1, duplicate_of=first)
    assert merged.report.status == "duplicate" and merged.report.duplicate_of == first
    first.refresh_from_db()
    assert first.support_count == 1


def test_an_internal_note_stays_off_the_public_timeline(city, staff):
    report = _pothole(city)
    result = report_transition(
        report=report,
        action="acknowledge",
        actor=staff.unit_r1,
        note="call the contractor",
        internal_note=True,
    )
    assert result.event.public and result.event.note == ""
    assert [e.note for e in result.extra_events] == ["call the contractor"] and not result.extra_events[
        0
    ].public


def test_done_reports_are_sampled_for_a_137_check(city, staff, settings):
    settings.OPEN137_VERIFY_SAMPLE_SHARE = 1.0
    report = _pothole(city)
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)
    report_transition(report=report, action="done", actor=staff.unit_r1, note="ok", photos=[jpeg_upload()])
    check = VerificationCheck.objects.get(report=report)
    assert check.outcome == "pending" and check.service_area == city.areas.r1


def test_a_complaint_is_for_supervisors_only(city, staff, category_factory):
    complaint = category_factory("staff-complaint", city.roads, kind="complaint", location_required=False)
    report = report_create(category=complaint, location=None)
    with pytest.raises(ReportNotFound):
        report_transition(report=report, action="answer", actor=staff.unit_r1, note="x")
    done = report_transition(report=report, action="answer", actor=staff.supervisor, note="we spoke to them")
    assert done.report.status == "closed"


def test_unknown_action_is_a_validation_error(city, staff):
    with pytest.raises(ValidationError):
        report_transition(report=_pothole(city), action="explode", actor=staff.supervisor)


def test_the_inbox_in_scope_pages_by_cursor_and_hides_contacts_from_units(city, staff):
    from issues.workflow.inbox import staff_filters_parse, staff_report_detail, staff_report_page
    from issues.workflow.scope import staff_scope

    mine = [_pothole(city, reporter_phone="+989121234567") for _ in range(5)]
    other = _pothole(city, where="r2")
    scope = staff_scope(user=staff.manager_r1)
    filters = staff_filters_parse({})
    page1, cursor = staff_report_page(scope=scope, filters=filters, limit=3)
    page2, end = staff_report_page(scope=scope, filters=filters, cursor=cursor, limit=3)
    codes = [r["tracking_code"] for r in page1 + page2]
    assert codes == [r.tracking_code for r in reversed(mine)] and end is None
    assert other.tracking_code not in codes
    assert "reporter_phone" not in page1[0]
    assert staff_report_detail(scope=scope, code=other.tracking_code) is None
    center = staff_scope(user=staff.operator)
    detail = staff_report_detail(scope=center, code=mine[0].tracking_code)
    assert detail["reporter_phone"] == "+989121234567" and detail["actions"] == []
    assert staff_report_detail(scope=scope, code=mine[0].tracking_code)["actions"][:1] == ["acknowledge"]


def test_an_open311_clients_details_reach_the_137_centre_only(city, staff):
    from issues import events
    from issues.workflow.inbox import staff_report_detail
    from issues.workflow.scope import staff_scope

    report = _pothole(city)
    events.client_details_event(
        report=report, details={"device_id": "dev-9", "account_id": "acct-1"}, note=""
    )
    for user, sees in ((staff.operator, True), (staff.manager_r1, False), (staff.unit_r1, False)):
        detail = staff_report_detail(scope=staff_scope(user=user), code=report.tracking_code)
        data = [e["data"] for e in detail["timeline"] if e["kind"] == "client_details"][0]
        assert ("dev-9" in str(data)) is sees


def test_validation_errors_carry_their_codes(city, staff):
    report = _pothole(city)
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)
    with pytest.raises(ValidationError) as no_photo:
        report_transition(report=report, action="done", actor=staff.unit_r1, note="done")
    assert no_photo.value.error_dict["photos"][0].code == "photo_required"


def test_a_reopened_report_owes_a_new_acknowledgement_and_the_citizen_is_not_told_of_their_own_step(
    city, staff
):
    from datetime import timedelta

    from issues.models import Report

    report = _pothole(city, reporter_phone="+989121234567")
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)
    report_transition(report=report, action="done", actor=staff.unit_r1, note="ok", photos=[jpeg_upload()])
    # The first deadlines lie in the past by the time the citizen says it is not fixed.
    Report.objects.filter(pk=report.pk).update(
        acknowledge_due_at=report.created_at - timedelta(days=30),
        expected_at=report.created_at - timedelta(days=20),
    )
    before = OutboxMessage.objects.filter(report=report).count()
    reopened = report_transition(report=report, action="reopen", as_role="citizen", note="still there").report
    assert reopened.status == "reopened"
    assert reopened.acknowledge_due_at > reopened.updated_at - timedelta(minutes=1)
    assert reopened.expected_at > reopened.acknowledge_due_at
    assert OutboxMessage.objects.filter(report=report).count() == before


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "open"},
        {"status": "forwarded,closed", "category": "pothole"},
        {"district": "R1"},
        {"unit": "roads-r2"},
        {"overdue": "true"},
        {"triage": "true"},
        {"mine": "true"},
        {"q": "چاله"},
        {"bbox": "50.0,36.26,50.0199,36.28", "kind": "service_request"},
        {"since": "2020-01-01", "until": "2100-01-01"},
    ],
)
def test_the_prepared_page_reads_exactly_what_the_filters_mean(city, staff, params):
    """The inbox page's SQL (issues/workflow/inbox_sql.py) against the ORM's reading of the same
    filters (issues.workflow.inbox.staff_reports), for every role."""
    from datetime import timedelta

    from issues.models import Report
    from issues.workflow.inbox import staff_filters_parse, staff_report_page, staff_reports
    from issues.workflow.scope import staff_scope

    made = [
        _pothole(city, description="چاله بزرگ"),
        _pothole(city, where="s11", description="آسفالت"),
        _pothole(city, where="r2", description="چاله"),
        report_create(category=city.pothole, location=pt(51.0, 36.9)),  # triage
        report_create(category=city.suggestion, location=None, description="پیشنهاد"),
    ]
    Report.objects.filter(pk=made[0].pk).update(expected_at=made[0].created_at - timedelta(days=1))
    Report.objects.filter(pk=made[1].pk).update(status="closed", assigned_to=staff.unit_r1)
    for user in (staff.supervisor, staff.operator, staff.manager_r1, staff.unit_r1, staff.unit_r2):
        scope = staff_scope(user=user)
        filters = staff_filters_parse(params)
        expected = list(staff_reports(scope=scope, filters=filters).values_list("tracking_code", flat=True))
        seen, cursor = [], None
        while True:
            rows, cursor = staff_report_page(scope=scope, filters=filters, cursor=cursor, limit=2)
            seen += [row["tracking_code"] for row in rows]
            if cursor is None:
                break
        assert seen == expected, (user.username, params)


def test_the_scope_test_on_a_row_agrees_with_the_scoped_query(city, staff, category_factory):
    from issues.models import Report
    from issues.workflow.scope import report_in_scope, reports_in_scope, staff_scope

    complaint = category_factory("complaint-x", city.roads, kind="complaint", location_required=False)
    made = [
        _pothole(city),
        _pothole(city, where="s11"),
        _pothole(city, where="r2"),
        report_create(category=city.pothole, location=pt(51.0, 36.9)),
        report_create(category=complaint, location=None),
    ]
    for user in vars(staff).values():
        scope = staff_scope(user=user)
        queried = set(reports_in_scope(scope=scope).values_list("pk", flat=True))
        for report in Report.objects.filter(pk__in=[r.pk for r in made]):
            assert report_in_scope(scope=scope, report=report) is (report.pk in queried), (
                user.username,
                report.pk,
            )

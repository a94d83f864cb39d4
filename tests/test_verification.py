"""Duties 6, 7 and 9 after the unit's work report: the reporter confirms it or says it is not fixed
(private link: tracking page and API), 137 checks a sample by call-back or visit, the units'
accuracy, the reporter's rating and its averages, and "stop messages"."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core.exceptions import ValidationError

from issues.formats import token_hash
from issues.models import (
    OutboxMessage,
    Report,
    ReportAccessToken,
    ReportEvent,
    ReportStatus,
    SatisfactionRating,
    VerificationCheck,
)
from issues.services.intake import report_create
from issues.workflow.citizen import (
    report_citizen_confirm,
    report_messages_stop,
    report_rate,
    satisfaction_averages,
)
from issues.workflow.inbox import staff_filters_parse, staff_reports
from issues.workflow.scope import staff_scope
from issues.workflow.services import ActionForbidden, TransitionConflict, report_transition
from issues.workflow.verification import unit_accuracy, verification_queue, verification_record
from tests.conftest import jpeg_upload, pt

pytestmark = pytest.mark.django_db

PHONE = "+989121234567"


def html(response) -> str:
    return unescape(response.content.decode())


def _done(city, staff, where="r1", **extra):
    """A pothole in `where`, acknowledged and reported done by its unit; returns (report, the done
    link's token)."""
    extra.setdefault("reporter_phone", PHONE)
    report = report_create(category=city.pothole, location=pt(*getattr(city.points, where)), **extra)
    unit = {"r1": staff.unit_r1, "s11": staff.unit_r1, "r2": staff.unit_r2}[where]
    report_transition(report=report, action="acknowledge", actor=unit)
    done = report_transition(
        report=report, action="done", actor=unit, note="انجام شد", photos=[jpeg_upload()]
    )
    return done.report, done.feedback_token


def _closed(city, staff, where="r1"):
    report, _token = _done(city, staff, where)
    return report_citizen_confirm(report=report, fixed=True).report


def _statuses(report) -> list[tuple[str, str, str]]:
    return [
        (e.data.get("action"), e.to_status, e.actor_label)
        for e in report.events.filter(kind=ReportEvent.Kind.STATUS).order_by("id")
    ]


def _check(report, staff, outcome, method="call_back"):
    """The supervisor records the finding of the report's 137 check."""
    check = VerificationCheck.objects.get(report=report)
    return verification_record(check_id=check.pk, actor=staff.supervisor, outcome=outcome, method=method)


def _token_in_last_message(report) -> str:
    body = OutboxMessage.objects.filter(report=report).latest("pk").body
    found = re.search(r"\?t=([\w-]+)", body)
    assert found, body
    return found.group(1)


@pytest.fixture
def no_sample(settings):
    settings.OPEN137_VERIFY_SAMPLE_SHARE = 0


@pytest.fixture
def every_done_checked(settings):
    settings.OPEN137_VERIFY_SAMPLE_SHARE = 1


# --- The reporter confirms or says "not fixed" ---------------------------------------------------------


def test_citizen_confirms_verified_then_closed_with_both_events(city, staff, no_sample):
    report, _token = _done(city, staff)
    confirmation = report_citizen_confirm(report=report, fixed=True, note="ممنون")
    report.refresh_from_db()
    assert report.status == ReportStatus.CLOSED and report.closed_at
    assert _statuses(report)[-2:] == [("verify", "verified", "citizen"), ("close", "closed", "system")]
    assert [s.event.to_status for s in confirmation.steps] == ["verified", "closed"]
    feedback = report.events.get(kind=ReportEvent.Kind.CITIZEN_FEEDBACK)
    assert feedback.public and feedback.data == {"feedback": "fixed"} and feedback.note == "ممنون"
    # The reporter is told of the close, with the link to rate (not of their own confirmation).
    assert "?t=" in OutboxMessage.objects.filter(report=report).latest("pk").body
    with pytest.raises(TransitionConflict):  # nothing to confirm before the work report
        report_citizen_confirm(
            report=report_create(category=city.pothole, location=pt(50.015, 36.275)), fixed=True
        )


def test_not_fixed_reopens_and_goes_back_to_the_units_inbox(city, staff, no_sample):
    report, _token = _done(city, staff)
    report_citizen_confirm(report=report, fixed=False, note="هنوز چاله هست")
    report.refresh_from_db()
    assert report.status == ReportStatus.REOPENED and report.done_at is None
    assert _statuses(report)[-1] == ("reopen", "reopened", "citizen")
    # The note is public once (the answer); the unit reads it with the step too.
    assert report.events.get(kind="citizen_feedback").note == "هنوز چاله هست"
    assert report.events.get(kind="note", public=False).note == "هنوز چاله هست"
    inbox = staff_reports(scope=staff_scope(user=staff.unit_r1), filters=staff_filters_parse({}))
    assert list(inbox.filter(pk=report.pk).values_list("status", flat=True)) == ["reopened"]
    # Back in the queue the SLA job watches, and the unit may acknowledge it again.
    report_transition(report=report, action="acknowledge", actor=staff.unit_r1)


def test_the_done_links_token_works_on_the_tracking_page(client, city, staff, no_sample):
    report, token = _done(city, staff)
    assert token and ReportAccessToken.objects.filter(report=report, token_hash=token_hash(token)).exists()
    assert token in OutboxMessage.objects.filter(report=report).latest("pk").body
    page = html(client.get(f"/track/{report.tracking_code}/?t={token}", follow=True))
    assert 'class="feedback-form"' in page and "rating-form" not in page
    response = client.post(f"/track/{report.tracking_code}/feedback/", {"t": token, "fixed": "yes"})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.CLOSED
    # Another report's link is no key to this one.
    other, other_token = _done(city, staff, "r2")
    assert (
        client.post(f"/track/{report.tracking_code}/rating/", {"t": other_token, "score": "5"}).status_code
        == 403
    )


def test_rating_on_the_tracking_page_once_then_thanks(client, city, staff, no_sample):
    report = _closed(city, staff)
    token = _token_in_last_message(report)  # the close message's link to rate
    page = html(client.get(f"/track/{report.tracking_code}/?t={token}", follow=True))
    assert 'class="rating-form"' in page and 'name="reasons"' in page and 'value="courtesy"' in page
    assert "به خدمت ما امتیاز دهید" in page and "۵: بسیار راضی" in page  # Persian first
    assert "rating-thanks" not in page
    # Not a score: an error on the form, nothing written.
    response = client.post(f"/track/{report.tracking_code}/rating/", {"t": token, "score": "9"})
    assert response.status_code == 400 and not SatisfactionRating.objects.exists()
    response = client.post(
        f"/track/{report.tracking_code}/rating/",
        {"t": token, "score": "4", "reasons": ["speed", "courtesy"], "comment": "سریع بود"},
    )
    assert response.status_code == 302
    rating = SatisfactionRating.objects.get(report=report)
    assert (rating.score, rating.reasons, rating.comment, rating.service_area) == (
        4,
        ["speed", "courtesy"],
        "سریع بود",
        city.areas.r1,
    )
    page = html(client.get(response["Location"]))
    assert "rating-form" not in page and 'id="rating-thanks"' in page
    assert "سریع بود" not in page  # the comment is not public
    again = client.post(f"/track/{report.tracking_code}/rating/", {"t": token, "score": "1"})
    assert again.status_code == 400 and SatisfactionRating.objects.get(report=report).score == 4
    assert (
        client.post(f"/track/{report.tracking_code}/rating/", {"t": "wrong", "score": "1"}).status_code == 403
    )


def test_stop_messages_on_the_tracking_page(client, city, staff, no_sample):
    report, token = _done(city, staff)
    page = html(client.get(f"/track/{report.tracking_code}/?t={token}", follow=True))
    assert 'class="stop-messages-form"' in page
    assert client.post(f"/track/{report.tracking_code}/stop-messages/", {"t": "nope"}).status_code == 403
    response = client.post(f"/track/{report.tracking_code}/stop-messages/", {"t": token})
    assert response.status_code == 302
    page = html(client.get(response["Location"]))
    assert "stop-messages-form" not in page and 'id="messages-stopped"' in page
    report.refresh_from_db()
    assert report.messages_stopped


# --- 137 checks ----------------------------------------------------------------------------------------


def test_checks_queue_and_outcomes(city, staff, every_done_checked):
    confirmed, _ = _done(city, staff, reporter_name="Maryam")
    not_fixed, _ = _done(city, staff)
    unreachable, _ = _done(city, staff, "r2")
    queue = verification_queue(scope=staff_scope(user=staff.supervisor))
    assert [row["tracking_code"] for row in queue] == [
        r.tracking_code for r in (confirmed, not_fixed, unreachable)
    ]
    first = queue[0]
    assert first["service_area__code"] == "roads-r1" and first["done_at"] and first["status"] == "done"
    assert first["reporter_phone"] == PHONE and first["reporter_name"] == "Maryam"
    # A district manager sees the checks of their district, without the reporter's contact details.
    managers = verification_queue(scope=staff_scope(user=staff.manager_r2))
    assert [row["tracking_code"] for row in managers] == [unreachable.tracking_code]
    assert not any(key.startswith("reporter_") for key in managers[0])

    check = VerificationCheck.objects.get(report=confirmed)
    for outsider in (staff.unit_r1, staff.operator, staff.manager_r1):
        with pytest.raises(ActionForbidden):
            verification_record(check_id=check.pk, actor=outsider, outcome="confirmed", method="call_back")
    with pytest.raises(ValidationError) as bad:
        verification_record(check_id=check.pk, actor=staff.supervisor, outcome="maybe", method="telepathy")
    assert set(bad.value.message_dict) == {"outcome", "method"}

    recorded = verification_record(
        check_id=check.pk,
        actor=staff.supervisor,
        outcome="confirmed",
        method="call_back",
        note="تماس گرفته شد",
    )
    assert (recorded.outcome, recorded.method, recorded.checked_by) == (
        "confirmed",
        "call_back",
        staff.supervisor,
    )
    confirmed.refresh_from_db()
    assert confirmed.status == ReportStatus.CLOSED
    assert [s[:2] for s in _statuses(confirmed)[-2:]] == [("verify", "verified"), ("close", "closed")]
    event = confirmed.events.get(kind=ReportEvent.Kind.VERIFICATION)
    assert not event.public and event.data == {"outcome": "confirmed", "method": "call_back"}
    with pytest.raises(TransitionConflict):  # once
        verification_record(
            check_id=check.pk, actor=staff.supervisor, outcome="not_fixed", method="call_back"
        )

    _check(not_fixed, staff, "not_fixed", "field_visit")
    not_fixed.refresh_from_db()
    assert not_fixed.status == ReportStatus.REOPENED

    _check(unreachable, staff, "could_not_verify", "call_back")
    unreachable.refresh_from_db()
    assert unreachable.status == ReportStatus.DONE  # only the check is recorded
    assert unreachable.events.get(kind="verification").data["outcome"] == "could_not_verify"
    assert verification_queue(scope=staff_scope(user=staff.supervisor)) == []


def test_unit_accuracy_counts_work_reports_later_reopened_or_failed(city, staff, settings):
    settings.OPEN137_VERIFY_SAMPLE_SHARE = 0
    # roads-r1: A confirmed by the reporter; B reopened by the reporter, then done again and kept;
    # C found not fixed by a 137 check.
    a, _ = _done(city, staff)
    report_citizen_confirm(report=a, fixed=True)
    b, _ = _done(city, staff)
    report_citizen_confirm(report=b, fixed=False)
    report_transition(report=b, action="acknowledge", actor=staff.unit_r1)
    report_transition(report=b, action="done", actor=staff.unit_r1, note="دوباره", photos=[jpeg_upload()])
    settings.OPEN137_VERIFY_SAMPLE_SHARE = 1
    c, _ = _done(city, staff)
    _check(c, staff, "not_fixed", "field_visit")
    # roads-r2: D still done; E checked, could not verify (not a failure).
    d, _ = _done(city, staff, "r2")
    e, _ = _done(city, staff, "r2")
    VerificationCheck.objects.filter(report=d).delete()
    _check(e, staff, "could_not_verify", "call_back")
    rows = {row["service_area"]: row for row in unit_accuracy()}
    # By hand: roads-r1 filed 4 work reports (A, B twice, C); B's first and C's came back: 2 of 4.
    r1 = rows["roads-r1"]
    assert (r1["done"], r1["reopened"], r1["failed_checks"], r1["reopened_or_failed"]) == (4, 2, 1, 2)
    assert r1["share"] == 0.5 and r1["accuracy"] == 0.5 and r1["unit_name_en"] == "Roads unit R1"
    r2 = rows["roads-r2"]
    assert (r2["done"], r2["reopened_or_failed"], r2["share"], r2["accuracy"]) == (2, 0, 0.0, 1.0)
    # Only the work reports filed since a moment count.
    since = ReportEvent.objects.filter(report=b, to_status="done").latest("id").at
    later = {row["service_area"]: row for row in unit_accuracy(since=since)}
    assert (later["roads-r1"]["done"], later["roads-r1"]["reopened_or_failed"]) == (2, 1)  # B again, C
    assert later["roads-r2"]["done"] == 2


# --- Rating and its averages ------------------------------------------------------------------------


def test_rating_once_with_valid_values(city, staff, no_sample):
    report, _ = _done(city, staff)
    with pytest.raises(TransitionConflict):  # the work is not over yet
        report_rate(report=report, score=5)
    report = report_citizen_confirm(report=report, fixed=True).report
    for bad in (
        {"score": 0},
        {"score": 6},
        {"score": "5"},
        {"score": True},
        {"score": 3, "reasons": ["bogus"]},
        {"score": 3, "reasons": "speed"},
        {"score": 3, "comment": "x\x00"},
        {"score": 3, "comment": "x" * 2001},
    ):
        with pytest.raises(ValidationError):
            report_rate(report=report, **bad)
    assert not SatisfactionRating.objects.exists()
    rating = report_rate(report=report, score=4, reasons=["speed", "quality", "speed"], comment="  خوب  ")
    assert (rating.score, rating.reasons, rating.comment, rating.service_area) == (
        4,
        ["speed", "quality"],
        "خوب",
        city.areas.r1,
    )
    event = report.events.get(kind=ReportEvent.Kind.RATED)
    assert event.public and event.data == {"score": 4}
    with pytest.raises(ValidationError) as again:
        report_rate(report=report, score=1)
    assert again.value.code == "already_rated"
    assert SatisfactionRating.objects.get().score == 4


def test_averages_are_hidden_under_the_minimum(city, staff, no_sample):
    for score, where in ((5, "r1"), (4, "r1"), (3, "s11"), (2, "r2")):
        report_rate(report=_closed(city, staff, where), score=score)
    units = {row["code"]: row for row in satisfaction_averages(by="unit", min_answers=3)}
    assert (units["roads-r1"]["n"], units["roads-r1"]["average"]) == (3, 4.0)
    assert (units["roads-r2"]["n"], units["roads-r2"]["average"]) == (1, None)
    assert units["roads-r1"]["name_en"] == "Roads unit R1"
    districts = {row["code"]: row for row in satisfaction_averages(by="district", min_answers=2)}
    assert (districts["R1"]["n"], districts["R1"]["average"]) == (2, 4.5)
    assert (districts["S11"]["n"], districts["S11"]["average"]) == (1, None)
    assert (districts["R2"]["n"], districts["R2"]["average"]) == (1, None)
    assert satisfaction_averages(by="category", min_answers=4) == [
        {"code": "pothole", "name_fa": city.pothole.name_fa, "name_en": "Pothole", "n": 4, "average": 3.5}
    ]
    # The default minimum comes from the settings.
    assert satisfaction_averages(by="category")[0]["average"] is None  # 4 < 5
    with pytest.raises(ValidationError):
        satisfaction_averages(by="person")  # type: ignore[arg-type]


# --- Stop messages ----------------------------------------------------------------------------------


def test_stop_messages_no_outbox_rows_for_later_steps(city, staff, no_sample):
    report, _ = _done(city, staff, reporter_email="maryam@example.org")
    before = OutboxMessage.objects.filter(report=report).count()
    assert before == 4  # done: SMS and e-mail, after acknowledged: SMS and e-mail
    assert report_messages_stop(report=report) is True
    assert report_messages_stop(report=report) is False
    assert report.events.filter(kind=ReportEvent.Kind.MESSAGES_STOPPED).count() == 1
    report_citizen_confirm(report=report, fixed=False)  # reopened: would be told
    report_transition(report=Report.objects.get(pk=report.pk), action="acknowledge", actor=staff.unit_r1)
    assert OutboxMessage.objects.filter(report=report).count() == before


# --- The API ------------------------------------------------------------------------------------------


def test_api_feedback(api_client, city, staff, no_sample):
    report, token = _done(city, staff)
    url = f"/api/reports/{report.tracking_code}/feedback/"
    events = ReportEvent.objects.count()
    assert api_client.post(url, {"token": "wrong", "fixed": True}, format="json").status_code == 403
    assert api_client.post(url, {"fixed": True}, format="json").status_code == 403
    assert api_client.post(url, {"token": 7, "fixed": True}, format="json").status_code == 403
    assert (
        api_client.post(
            "/api/reports/ZZZZZZZZ/feedback/", {"token": token, "fixed": True}, format="json"
        ).status_code
        == 404
    )
    bad = api_client.post(url, {"token": token, "fixed": "maybe"}, format="json")
    assert bad.status_code == 400 and "fixed" in bad.json()["detail"]
    assert api_client.post(url, {"token": token}, format="json").status_code == 400
    assert (
        api_client.post(url, {"token": token, "fixed": False, "note": "x" * 1001}, format="json").status_code
        == 400
    )
    assert ReportEvent.objects.count() == events
    ok = api_client.post(url, {"token": token, "fixed": False, "note": "not yet"}, format="json")
    assert ok.status_code == 200 and ok.json() == {
        "code": report.tracking_code,
        "fixed": False,
        "status": "reopened",
    }
    # Reopened: nothing to confirm until the unit reports the work done again.
    late = api_client.post(url, {"token": token, "fixed": True}, format="json")
    assert late.status_code == 409 and late.json()["code"] == "not_done"
    assert late.json()["current"]["status"] == "reopened"


def test_api_rating(api_client, city, staff, no_sample):
    report, token = _done(city, staff)
    url = f"/api/reports/{report.tracking_code}/rating/"
    early = api_client.post(url, {"token": token, "score": 5}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "not_closed"
    report_citizen_confirm(report=report, fixed=True)
    assert api_client.post(url, {"token": "wrong", "score": 5}, format="json").status_code == 403
    for bad in (
        {"score": 9},
        {"score": "five"},
        {"score": 4, "reasons": ["bogus"]},
        {"score": 4, "comment": "x" * 2001},
    ):
        response = api_client.post(url, {"token": token, **bad}, format="json")
        assert response.status_code == 400, bad
        assert response.json()["error"]
    assert not SatisfactionRating.objects.exists()
    ok = api_client.post(
        url, {"token": token, "score": 5, "reasons": ["courtesy"], "comment": "عالی"}, format="json"
    )
    assert ok.status_code == 200 and ok.json() == {
        "code": report.tracking_code,
        "score": 5,
        "reasons": ["courtesy"],
    }
    again = api_client.post(url, {"token": token, "score": 1}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_rated"
    assert SatisfactionRating.objects.get().score == 5


def test_api_stop_messages_and_its_limit(api_client, city, staff, no_sample, settings):
    settings.OPEN137_RATE_UPDATES = "2/hour"
    report, token = _done(city, staff)
    url = f"/api/reports/{report.tracking_code}/stop-messages/"
    # A wrong token is refused before the limit counts anything.
    for _ in range(3):
        assert api_client.post(url, {"token": "wrong"}, format="json").status_code == 403
    first = api_client.post(url, {"token": token}, format="json")
    assert first.status_code == 200 and first.json() == {
        "code": report.tracking_code,
        "messages_stopped": True,
        "changed": True,
    }
    assert api_client.post(url, {"token": token}, format="json").json()["changed"] is False
    limited = api_client.post(url, {"token": token}, format="json")
    assert limited.status_code == 429 and limited["Retry-After"]
    # A form from another site is refused.
    assert api_client.post(url, {"token": token}, HTTP_ORIGIN="https://evil.example").status_code == 403


def test_api_endpoints_are_in_the_schema(client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path, operation in (
        ("/api/reports/{code}/feedback/", "reports_feedback"),
        ("/api/reports/{code}/rating/", "reports_rating"),
        ("/api/reports/{code}/stop-messages/", "reports_stop_messages"),
    ):
        post = schema["paths"][path]["post"]
        assert post["operationId"] == operation
        assert {"200", "400", "403", "404", "409", "429"} <= set(post["responses"])
    rating = schema["components"]["schemas"]["RatingInput"]
    assert rating["properties"]["score"]["maximum"] == 5 and "token" in rating["required"]

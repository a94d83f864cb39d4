"""One validation for every way a report comes in: the API (JSON), Open311 (a form POST) and the web
form (a browser POST) hand their input to `report_submit`, which checks it with issues.validation:
the same rules, the same messages. Also: the report admin is read-only where changes belong to the
workflow, the expected date comes from the category's SLA, an idempotent replay gives the same
private link (and only for the same submission; tests/test_idempotency.py for the token itself), failed outbox rows lose the private link, and a
report is written with one INSERT. Real PostGIS, the conftest's `city`."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from issues.formats import token_hash
from issues.models import CategoryAttribute, OutboxMessage, Report, ReportEvent
from issues.open311.services import api_key_create
from issues.outbox import REDACTED, outbox_message_send
from issues.services import tracking
from issues.services.submission import report_submit
from maps.templatetags.open137 import localdate
from tests.conftest import pt

LAT, LON = 36.2675, 50.0075  # inside S11 (and R1)
OTHER_LAT = 36.2750  # still R1, about 830 m north


@pytest.fixture(autouse=True)
def _no_limits_and_tmp_media(settings, tmp_path):
    settings.OPEN137_RATE_REPORTS = ""
    settings.OPEN137_RATE_SUPPORT = ""
    settings.OPEN137_RATE_OPEN311 = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPEN137_SMS_LOG_FILE = tmp_path / "sms.log"
    settings.OPEN137_SMS_BACKEND = "log"


@pytest.fixture
def town(city):
    """The conftest's city with questions: the pothole asks how deep (required, one of a list), what
    hazards (several of a list), how wide (a number), when it was seen (a date and time) and a
    landmark (text); the suggestion asks a topic, so the form carries two groups of questions."""
    questions = [
        ("depth", CategoryAttribute.Datatype.SINGLEVALUELIST, True, "How deep?"),
        ("hazards", CategoryAttribute.Datatype.MULTIVALUELIST, False, "Hazards"),
        ("width", CategoryAttribute.Datatype.NUMBER, False, "How wide (cm)?"),
        ("seen_at", CategoryAttribute.Datatype.DATETIME, False, "When did you see it?"),
        ("landmark", CategoryAttribute.Datatype.STRING, False, "A landmark nearby"),
    ]
    values = {
        "depth": [
            {"key": "shallow", "name_fa": "کم‌عمق", "name_en": "Shallow"},
            {"key": "deep", "name_fa": "عمیق", "name_en": "Deep"},
        ],
        "hazards": [
            {"key": "water", "name_fa": "آب", "name_en": "Water"},
            {"key": "traffic", "name_fa": "ترافیک", "name_en": "Traffic"},
        ],
    }
    for order, (code, datatype, required, question) in enumerate(questions, start=1):
        CategoryAttribute.objects.create(
            category=city.pothole,
            code=code,
            datatype=datatype,
            required=required,
            description_fa=f"پرسش {code}",
            description_en=question,
            values=values.get(code, []),
            order=order,
        )
    CategoryAttribute.objects.create(
        category=city.suggestion, code="topic", description_fa="موضوع", description_en="Topic"
    )
    _api_key, key = api_key_create(name="Validation test app")
    city.key = key
    return city


GOOD: dict[str, Any] = {
    "description": "چاله عمیق جلوی نانوایی",
    "phone": "",
    "email": "",
    "attributes": {"depth": "deep"},
}


# --- The three entrances, each in its own input shape ---------------------------------------------


def via_api(town, submission: dict[str, Any], *, key: str | None = None, lat: float = LAT):
    """(status, error text or "", tracking code or None) through POST /api/reports/ as JSON."""
    data = {
        "category": "pothole",
        "lat": lat,
        "lon": LON,
        "description": submission["description"],
        "phone": submission["phone"],
        "email": submission["email"],
        "attributes": submission["attributes"],
    }
    extra: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = APIClient(HTTP_ACCEPT_LANGUAGE="en").post("/api/reports/", data, format="json", **extra)
    body = json.loads(response.content)
    # A created report's `code` is its tracking code; a refusal's is the error's machine code.
    return (
        response.status_code,
        body.get("error", ""),
        body.get("code") if response.status_code < 400 else None,
    )


def via_open311(town, submission: dict[str, Any], *, lat: float = LAT):
    """(status, error descriptions joined, tracking code or None) through an Open311 form POST."""
    data: dict[str, Any] = {
        "api_key": town.key,
        "service_code": "pothole",
        "lat": str(lat),
        "long": str(LON),
        "description": submission["description"],
        "phone": submission["phone"],
        "email": submission["email"],
    }
    for code, value in submission["attributes"].items():
        if isinstance(value, list):
            data[f"attribute[{code}][]"] = value
        else:
            data[f"attribute[{code}]"] = value
    response = Client().post(
        "/open311/v2/requests.json",
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    body = json.loads(response.content)
    if response.status_code != 200:
        return response.status_code, " | ".join(e["description"] for e in body), None
    return response.status_code, "", body[0]["service_request_id"]


def form_data(submission: dict[str, Any], *, key: str | None = None, lat: float = LAT) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": "pothole",
        "kind": "",
        "lat": str(lat),
        "lon": str(LON),
        "place": "",
        "description": submission["description"],
        "reporter_name": "",
        "reporter_phone": submission["phone"],
        "reporter_email": submission["email"],
        "idempotency_key": key or str(uuid.uuid4()),
    }
    for code, value in submission["attributes"].items():
        data[f"attr.pothole.{code}"] = value
    return data


def english_client() -> Client:
    client = Client()
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def via_form(town, submission: dict[str, Any], *, key: str | None = None, lat: float = LAT):
    """(status, the page's text, tracking code or None) through the web form /report/."""
    response = english_client().post("/report/", form_data(submission, key=key, lat=lat))
    if response.status_code == 302:
        return 302, "", response["Location"].rstrip("/").rsplit("/", 1)[-1]
    return response.status_code, unescape(response.content.decode()), None


ENTRANCES = {"api": via_api, "open311": via_open311, "form": via_form}
REFUSED = {"api": 400, "open311": 400, "form": 400}


def with_(**changes: Any) -> dict[str, Any]:
    submission = {**GOOD, "attributes": dict(GOOD["attributes"])}
    attributes = changes.pop("attributes", None)
    if attributes is not None:
        submission["attributes"].update(attributes)
        submission["attributes"] = {k: v for k, v in submission["attributes"].items() if v is not None}
    submission.update(changes)
    return submission


# (name, submission, the message every entrance must show)
PROBLEMS = [
    ("required attribute missing", with_(attributes={"depth": None}), "depth is required (How deep?)."),
    (
        "single list value not offered",
        with_(attributes={"depth": "bottomless"}),
        "depth: “bottomless” is not one of the offered values (shallow, deep).",
    ),
    (
        "multiple list value not offered",
        with_(attributes={"hazards": ["water", "ghosts"]}),
        "hazards: “ghosts” is not one of the offered values (water, traffic).",
    ),
    ("number that is not one", with_(attributes={"width": "wide"}), "width must be a number."),
    (
        "date that is not one",
        with_(attributes={"seen_at": "yesterday"}),
        "seen_at must be a date and time in ISO 8601, like 2026-11-28T16:30.",
    ),
    ("description too long", with_(description="x" * 4001), "At most 4000 characters (this has 4001)."),
    (
        "bad phone",
        with_(phone="call me"),
        "Enter a phone number of 7 to 15 digits, optionally starting with +.",
    ),
    (
        "too short a phone",
        with_(phone="12345"),
        "Enter a phone number of 7 to 15 digits, optionally starting with +.",
    ),
    ("bad e-mail", with_(email="not-an-email"), "Enter a valid email address."),
]


@pytest.mark.parametrize("entrance", ENTRANCES)
@pytest.mark.parametrize(("submission", "message"), [p[1:] for p in PROBLEMS], ids=[p[0] for p in PROBLEMS])
def test_every_entrance_refuses_with_the_same_message(town, entrance, submission, message):
    status, text, code = ENTRANCES[entrance](town, submission)
    assert status == REFUSED[entrance] and code is None, text
    assert message in text
    assert not Report.objects.exists()


@pytest.mark.parametrize("entrance", ENTRANCES)
def test_every_entrance_keeps_text_that_looks_like_markup_as_typed(town, entrance):
    # Text is text: a "<" is a word, not an attack; each output escapes it (tests/test_hostile_text.py).
    description = "عمق < ۱۰ cm & > 5 <script>alert(1)</script> <img src=x onerror=alert(1)"
    status, text, code = ENTRANCES[entrance](
        town, with_(description=description, attributes={"landmark": "<b>bakery</b>"})
    )
    assert code is not None, text
    report = Report.objects.get(tracking_code=code)
    assert report.description == description
    assert report.attributes["landmark"] == "<b>bakery</b>"


def test_the_message_names_the_field_in_the_api_and_open311(town):
    submission = with_(attributes={"depth": None}, email="nope")
    _, api_text, _ = via_api(town, submission)
    assert "attributes: depth is required" in api_text and "email: Enter a valid email" in api_text
    _, open311_text, _ = via_open311(town, submission)
    # Open311 names the parameter as the client sent it.
    assert "attribute[depth]: depth is required" in open311_text
    assert "email: Enter a valid email" in open311_text


def test_the_form_shows_an_answers_error_next_to_its_question(town):
    status, page, _ = via_form(town, with_(attributes={"depth": None}))
    assert status == 400
    assert re.search(r'id="id_attr\.pothole\.depth_error"[^>]*>.*depth is required', page, re.S)


def test_unknown_questions_are_refused_by_the_api_and_open311(town):
    submission = with_(attributes={"colour": "grey"})
    for entrance in (via_api, via_open311):
        status, text, code = entrance(town, submission)
        assert status == 400 and code is None
        assert "unknown attribute “colour”." in text


@pytest.mark.parametrize("entrance", ENTRANCES)
def test_every_entrance_stores_the_same_normalised_answers(town, entrance):
    submission = with_(
        phone="۰۹۱۲ ۱۲۳-۴۵۶۷",  # a Persian keyboard, with the spaces and dash people type
        email="citizen@example.ir",
        attributes={
            "depth": "deep",
            "hazards": ["water", "traffic", "water"],
            "width": "۱۲٫۵",  # Persian digits and decimal separator
            "seen_at": "2026-11-28T16:30",
            "landmark": "نانوایی سنگکی",
        },
    )
    status, text, code = ENTRANCES[entrance](town, submission)
    assert code is not None, text
    report = Report.objects.get(tracking_code=code)
    assert report.attributes == {
        "depth": "deep",
        "hazards": ["water", "traffic"],
        "width": 12.5,
        "seen_at": "2026-11-28T16:30:00+03:30",  # the city's time zone when none is given
        "landmark": "نانوایی سنگکی",
    }
    assert (report.reporter_phone, report.reporter_email) == ("09121234567", "citizen@example.ir")


def test_the_form_shows_every_categorys_questions_headed_by_the_category(town):
    page = unescape(english_client().get("/report/").content.decode())
    assert "Questions about “Pothole”" in page and "Questions about “Suggestion”" in page
    for name in (
        "attr.pothole.depth",
        "attr.pothole.hazards",
        "attr.pothole.seen_at",
        "attr.suggestion.topic",
    ):
        assert f'name="{name}"' in page
    assert '<option value="deep">Deep</option>' in page
    assert "maps/questions.js" in page


def test_the_form_sends_only_the_chosen_categorys_answers(town):
    data = form_data(with_())
    data["attr.suggestion.topic"] = "ignored: not the chosen category"
    response = english_client().post("/report/", data)
    assert response.status_code == 302
    assert Report.objects.get().attributes == {"depth": "deep"}


def test_the_service_refuses_bad_answers_from_any_caller(town):
    with pytest.raises(ValidationError) as caught:
        report_submit(category=town.pothole, location=pt(LON, LAT), attributes={"depth": "x"})
    assert "attributes" in caught.value.message_dict


# --- The admin ---------------------------------------------------------------------------------------


def _report(town, **kwargs: Any) -> Report:
    kwargs.setdefault("attributes", {"depth": "deep"})
    return report_submit(category=town.pothole, location=pt(LON, LAT), description="چاله", **kwargs).report


def _inputs(page: str) -> dict[str, str]:
    """The values a browser would send back from an admin change page (text and hidden inputs)."""
    found = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="checkbox"' in tag or 'type="submit"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        found[name.group(1)] = unescape(value.group(1)) if value else ""
    return found


def test_the_report_admin_is_read_only_for_routing_state_and_content(town, admin_client):
    admin_client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"  # the admin chose English
    report = _report(town, reporter_phone="09121234567")
    url = f"/admin/issues/report/{report.pk}/change/"
    response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    for field in ("location", "category", "kind", "description", "status", "district", "service_area"):
        assert f'name="{field}"' not in page, field
    for field in ("reporter_name", "reporter_phone", "reporter_email", "address"):
        assert f'name="{field}"' in page, field
    # A crafted POST cannot change the category or the point either; the phone is checked and
    # normalised as a citizen's is.
    data = {
        **_inputs(page),
        "category": str(town.suggestion.pk),
        "location": "SRID=4326;POINT (50.03 36.27)",
        "description": "changed",
        "reporter_phone": "۰۹۱۲ ۷۷۷ ۰۱۲۳",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    report.refresh_from_db()
    assert report.category_id == town.pothole.pk and report.description == "چاله"
    assert (report.location.x, report.location.y) == pytest.approx((LON, LAT))
    assert report.reporter_phone == "09127770123"
    response = admin_client.post(url, {**data, "reporter_phone": "call me"})
    assert response.status_code == 200 and "Enter a phone number" in unescape(response.content.decode())


def test_a_correction_in_the_admin_is_on_the_reports_history_but_not_its_public_one(
    town, admin_client, client
):
    report = _report(town, reporter_phone="09121234567")
    url = f"/admin/issues/report/{report.pk}/change/"
    data = _inputs(admin_client.get(url).content.decode())
    assert admin_client.post(url, data).status_code == 302  # saved unchanged: nothing to record
    assert list(report.events.values_list("kind", flat=True)) == [ReportEvent.Kind.CREATED]
    data.update(reporter_phone="09127770123", address="کوچه ۱۲")
    assert admin_client.post(url, data).status_code == 302
    event = report.events.get(kind=ReportEvent.Kind.CORRECTED)
    assert event.data == {"fields": ["address", "reporter_phone"]}
    assert event.actor is not None and event.actor.username == "admin" and not event.public
    assert "09127770123" not in str(event.data) + event.note  # the value stays on the report only
    report.refresh_from_db()
    assert report.reporter_phone == "09127770123"
    public = client.get(f"/api/reports/{report.tracking_code}/").json()
    assert [e["kind"] for e in public["timeline"]] == ["created"]


def test_reports_cannot_be_deleted_or_added_in_the_admin(town, admin_client):
    report = _report(town)
    assert admin_client.post(f"/admin/issues/report/{report.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get(f"/admin/issues/report/{report.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/issues/report/add/").status_code == 403
    listing = admin_client.get("/admin/issues/report/").content.decode()
    assert "delete_selected" not in listing
    assert Report.objects.filter(pk=report.pk).exists() and ReportEvent.objects.filter(report=report).exists()


def test_the_category_admin_edits_its_questions_inline(town, admin_client):
    page = admin_client.get(f"/admin/issues/category/{town.pothole.pk}/change/").content.decode()
    assert 'name="attributes-TOTAL_FORMS"' in page and 'value="depth"' in page


# --- Expected date -------------------------------------------------------------------------------------


def test_expected_at_follows_the_categorys_resolve_sla_and_is_on_the_tracking_page(town):
    town.pothole.sla_resolve_hours = 48
    town.pothole.save()
    status, text, code = via_api(town, GOOD)
    assert status == 201, text
    report = Report.objects.get(tracking_code=code)
    assert report.expected_at is not None
    # 48 working hours (Saturday to Wednesday, Thursday mornings, no Fridays or holidays): never
    # sooner than 48 calendar hours, and exactly 48 hours of the city's working time.
    from issues.workflow.selectors import working_calendar
    from issues.workflow.sla import working_seconds_between

    assert report.expected_at - report.created_at >= timedelta(hours=48) - timedelta(seconds=5)
    worked = working_seconds_between(
        calendar=working_calendar(), start=report.created_at, end=report.expected_at
    )
    assert worked == pytest.approx(48 * 3600, abs=5)
    page = unescape(english_client().get(f"/track/{code}/").content.decode())
    assert "Expected by" in page
    from django.utils import translation

    with translation.override("en"):
        assert localdate(report.expected_at) in page
    # The API's detail has it too.
    detail = json.loads(APIClient().get(f"/api/reports/{code}/").content)
    assert detail["expected_at"]


def test_no_sla_no_expected_date(town):
    town.suggestion.sla_resolve_hours = 0
    town.suggestion.save()
    report = report_submit(category=town.suggestion, location=None, description="پارک").report
    assert report.expected_at is None


# --- Idempotent replays ----------------------------------------------------------------------------------


def test_without_a_key_the_private_token_is_random(town):
    a = report_submit(category=town.pothole, location=pt(LON, LAT), attributes={"depth": "deep"})
    b = report_submit(category=town.pothole, location=pt(LON, LAT), attributes={"depth": "deep"})
    assert a.private_token and b.private_token and a.private_token != b.private_token
    assert Report.objects.filter(private_token_sealed__isnull=False).count() == 0  # no replay to serve


def test_an_api_replay_gets_the_same_private_token(town):
    data = {"category": "pothole", "lat": LAT, "lon": LON, "attributes": {"depth": "deep"}}
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    first = client.post("/api/reports/", data, format="json", HTTP_IDEMPOTENCY_KEY="replay-1")
    again = client.post("/api/reports/", data, format="json", HTTP_IDEMPOTENCY_KEY="replay-1")
    assert (first.status_code, again.status_code) == (201, 200)
    token = first.json()["private_token"]
    assert again.json()["private_token"] == token
    assert Report.objects.get().private_token_hash == token_hash(token)


def _thanks_token(client: Client, response) -> str:
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    return re.search(r"\?t=([\w-]+)", page).group(1)  # type: ignore[union-attr]


def test_a_form_replay_gets_the_same_private_link(town):
    key = str(uuid.uuid4())
    data = form_data(with_(), key=key)
    client = english_client()
    first = _thanks_token(client, client.post("/report/", data))
    # The answer was lost (the phone went offline); the browser sends the form again.
    again = _thanks_token(client, client.post("/report/", data))
    assert first == again
    assert Report.objects.get().private_token_hash == token_hash(first)
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"lat": OTHER_LAT},
        {"submission": with_(attributes={"depth": "shallow"})},
        {"submission": with_(phone="09121234567")},
    ],
    ids=["another location", "another answer", "another phone"],
)
def test_the_same_key_with_a_different_submission_is_refused(town, change):
    key = str(uuid.uuid4())
    status, text, code = via_api(town, GOOD, key=key)
    assert status == 201, text
    status, text, _ = via_api(town, change.get("submission", GOOD), key=key, lat=change.get("lat", LAT))
    assert status == 422 and "already used for a different report" in text
    # The form's keys are its own (another namespace): the same key there starts afresh.
    status, _, _ = via_form(town, GOOD, key=key)
    assert status == 302
    status, page, _ = via_form(town, change.get("submission", GOOD), key=key, lat=change.get("lat", LAT))
    assert status == 400 and "already used for a different report" in page
    assert Report.objects.count() == 2


def test_the_same_key_from_the_form_with_another_location_is_refused(town):
    key = str(uuid.uuid4())
    status, _, code = via_form(town, GOOD, key=key)
    assert status == 302 and code
    status, page, _ = via_form(town, GOOD, key=key, lat=OTHER_LAT)
    assert status == 400 and "already used for a different report" in page
    assert Report.objects.count() == 1


# --- One INSERT --------------------------------------------------------------------------------------


def test_a_report_is_written_with_one_insert_and_no_update(town):
    with CaptureQueriesContext(connection) as queries:
        submission = report_submit(
            category=town.pothole,
            location=pt(LON, LAT),
            description="چاله",
            attributes={"depth": "deep"},
            reporter_phone="09121234567",
            consent_contact=True,
            idempotency_key="one-insert",
        )
    report_sql = [q["sql"] for q in queries.captured_queries if '"issues_report"' in q["sql"]]
    assert sum(sql.count('INSERT INTO "issues_report" ') for sql in report_sql) == 1
    assert not any('UPDATE "issues_report"' in sql for sql in report_sql)
    # The tracking code is not looked up before the insert: the unique constraint decides.
    assert not any('WHERE "issues_report"."tracking_code"' in sql for sql in report_sql)
    report = Report.objects.get(pk=submission.report.pk)
    assert report.consent_contact and report.attributes == {"depth": "deep"}
    assert report.idempotency_key == "web:one-insert" and len(report.idempotency_fingerprint) == 64
    assert report.open311_token and report.private_token_hash == token_hash(submission.private_token or "")


def test_a_tracking_code_clash_is_retried(town, monkeypatch):
    existing = _report(town)
    codes = iter([existing.tracking_code, existing.tracking_code, "QQQQRRRR"])
    monkeypatch.setattr(tracking, "tracking_code_new", lambda: next(codes))
    report = _report(town)
    assert report.tracking_code == "QQQQRRRR"
    assert Report.objects.count() == 2


# --- Outbox ---------------------------------------------------------------------------------------------


class BrokenSms:
    """An SMS gateway that is down."""

    def send(self, *, to: str, text: str) -> None:
        raise ConnectionError("gateway unreachable")


def test_a_failed_outbox_row_loses_the_private_link(town, settings):
    settings.OPEN137_SMS_BACKEND = "tests.test_validation.BrokenSms"
    settings.OPEN137_OUTBOX_MAX_ATTEMPTS = 2
    submission = report_submit(
        category=town.pothole,
        location=pt(LON, LAT),
        attributes={"depth": "deep"},
        reporter_phone="09121234567",
    )
    token = submission.private_token or ""
    (message,) = OutboxMessage.objects.all()
    assert token in message.body
    outbox_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "pending" and token in message.body  # still to be sent: kept
    outbox_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "failed"
    assert token not in message.body and f"?t={REDACTED}" in message.body
    assert submission.report.tracking_code in message.body


def test_a_tracking_code_clash_leaves_nothing_of_the_try_that_clashed(town, monkeypatch):
    existing = _report(town)
    codes = iter([existing.tracking_code, "QQQQRRRR"])
    monkeypatch.setattr(tracking, "tracking_code_new", lambda: next(codes))
    report = _report(town)
    assert report.tracking_code == "QQQQRRRR"
    # One "created" event each: the try that clashed was rolled back whole.
    assert ReportEvent.objects.filter(kind="created").count() == 2

"""Alerts of new reports: double opt-in, the stop link, matching (district, radius, category),
exactly once however the job runs, no alerts for generated reports, the Atom feeds, the API, bad
input and the write limit. What a subscriber, a feed reader or an API client would notice."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from alerts.models import AlertDelivery, Subscription, SubscriptionEvent
from alerts.sending import DIGEST_AFTER, alerts_send
from alerts.services import subscription_confirm, subscription_request
from issues.models import OutboxMessage, Report
from issues.services.intake import report_create
from tests.conftest import metres_per_degree_lat, pt

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & ] ]]> \u202e'


@pytest.fixture(autouse=True)
def no_write_limit(settings):
    settings.OPEN137_RATE_ALERTS = ""
    settings.OPEN137_RATE_REPORTS = ""


def en_client() -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _messages_to(contact: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(recipient=contact).order_by("id"))


def _link_token(body: str, name: str) -> str:
    found = re.search(rf"/alerts/{name}/\?t=([A-Za-z0-9_\-]+)", body)
    assert found, body
    return found.group(1)


def _subscribed(contact: str = "sub@example.org", *, confirm: bool = True, **criteria) -> Subscription:
    kind = {"phone": contact} if contact.startswith("09") else {"email": contact}
    requested = subscription_request(**kind, **criteria)
    if confirm:
        body = _messages_to(requested.subscription.contact)[-1].body
        outcome = subscription_confirm(token=_link_token(body, "confirm"))
        assert outcome is not None and outcome.changed
    requested.subscription.refresh_from_db()
    return requested.subscription


def _report(city, where="r1", *, category=None, point: Point | None | str = "default", **extra) -> Report:
    location = pt(*getattr(city.points, where)) if isinstance(point, str) else point
    return report_create(category=category or city.pothole, location=location, **extra)


def _alerts_for(contact: str) -> list[OutboxMessage]:
    return [m for m in _messages_to(contact) if "/alerts/confirm/" not in m.body]


def _codes(messages: list[OutboxMessage]) -> set[str]:
    return {code for m in messages for code in re.findall(r"\b[A-Z0-9]{8}\b", m.body)}


# --- Double opt-in and the stop link ---------------------------------------------------------------


def test_the_page_subscribes_only_after_the_confirmation_link(city):
    client = en_client()
    page = client.get("/alerts/")
    assert page.status_code == 200 and b'id="alerts-map-config"' in page.content
    response = client.post("/alerts/", {"email": "neighbour@example.org", "district": "R1", "language": "en"})
    assert response.status_code == 302 and response["Location"] == "/alerts/sent/"
    subscription = Subscription.objects.get()
    assert subscription.status == "pending" and subscription.language == "en"
    [confirmation] = _messages_to("neighbour@example.org")
    assert confirmation.channel == "email" and "confirm" in confirmation.subject
    assert "Region One" in confirmation.body
    # Nothing is sent while it waits for the confirmation.
    _report(city)
    assert alerts_send(commit=True).messages == []

    token = _link_token(confirmation.body, "confirm")
    ask = client.get(f"/alerts/confirm/?t={token}")
    assert ask.status_code == 200 and b"Confirm" in ask.content
    subscription.refresh_from_db()
    assert subscription.status == "pending"  # opening the link (a mail scanner) confirms nothing
    done = client.post("/alerts/confirm/", {"t": token})
    assert done.status_code == 200 and b"Your alerts are on" in done.content
    subscription.refresh_from_db()
    assert subscription.status == "active" and subscription.confirmed_at is not None
    assert list(subscription.events.values_list("kind", "via")) == [("created", "web"), ("confirmed", "link")]
    # Confirming again changes nothing and writes no event.
    assert client.post("/alerts/confirm/", {"t": token}).status_code == 200
    assert subscription.events.count() == 2

    new = _report(city)
    run = alerts_send(commit=True)
    assert [m.report_codes for m in run.messages] == [[new.tracking_code]]
    [alert] = _alerts_for("neighbour@example.org")
    assert new.tracking_code in alert.body and "/alerts/stop/?t=" in alert.body


def test_a_wrong_or_expired_confirmation_link_is_refused(city):
    client = en_client()
    response = client.post("/alerts/confirm/", {"t": "not-a-token"})
    assert response.status_code == 404 and b"This link does not work" in response.content
    subscription = _subscribed(confirm=False, district_code="R1")
    token = _link_token(_messages_to("sub@example.org")[0].body, "confirm")
    subscription.tokens.update(created_at=subscription.created_at.replace(year=2020))
    assert client.post("/alerts/confirm/", {"t": token}).status_code == 404
    subscription.refresh_from_db()
    assert subscription.status == "pending"


def test_the_stop_link_in_an_alert_ends_it_in_one_click(city):
    subscription = _subscribed(district_code="R1")
    _report(city)
    alerts_send(commit=True)
    [alert] = _alerts_for("sub@example.org")
    token = _link_token(alert.body, "stop")
    response = en_client().get(f"/alerts/stop/?t={token}")
    assert response.status_code == 200 and b"Alerts stopped" in response.content
    subscription.refresh_from_db()
    assert subscription.status == "stopped" and subscription.stopped_at is not None
    assert subscription.events.filter(kind=SubscriptionEvent.Kind.STOPPED).get().data == {"was": "active"}
    # No more alerts; a second click changes nothing.
    _report(city)
    assert alerts_send(commit=True).messages == []
    assert en_client().get(f"/alerts/stop/?t={token}").status_code == 200
    assert subscription.events.filter(kind=SubscriptionEvent.Kind.STOPPED).count() == 1
    # Only the hash of the token is stored, and the outbox's copy no longer holds it once sent.
    assert not subscription.tokens.filter(token_hash=token).exists()
    assert en_client().get("/alerts/stop/?t=unknown").status_code == 404


def test_the_confirmation_carries_a_stop_link_for_whoever_did_not_ask(city):
    subscription = _subscribed(confirm=False, category_code="pothole")
    token = _link_token(_messages_to("sub@example.org")[0].body, "stop")
    assert en_client().get(f"/alerts/stop/?t={token}").status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == "stopped"
    # A stopped subscription cannot be confirmed afterwards.
    confirm = _link_token(_messages_to("sub@example.org")[0].body, "confirm")
    response = en_client().post("/alerts/confirm/", {"t": confirm})
    assert b"were stopped" in response.content
    subscription.refresh_from_db()
    assert subscription.status == "stopped"


def test_asking_again_for_an_active_subscription_sends_and_writes_nothing(city):
    subscription = _subscribed(district_code="R1")
    before = OutboxMessage.objects.count()
    again = subscription_request(email="sub@example.org", district_code="R1")
    assert again.subscription.pk == subscription.pk and not again.sent
    assert OutboxMessage.objects.count() == before and Subscription.objects.count() == 1


# --- Matching --------------------------------------------------------------------------------------


def test_a_region_matches_its_sub_districts_and_not_its_neighbour(city):
    _subscribed("region@example.org", district_code="R1")
    _subscribed("sub@example.org", district_code="S11")
    in_r1, in_s11, in_r2 = _report(city, "r1"), _report(city, "s11"), _report(city, "r2")
    alerts_send(commit=True)
    assert _codes(_alerts_for("region@example.org")) == {in_r1.tracking_code, in_s11.tracking_code}
    assert _codes(_alerts_for("sub@example.org")) == {in_s11.tracking_code}
    assert in_r2.tracking_code not in _codes(OutboxMessage.objects.all())


def test_a_radius_takes_a_report_just_inside_and_not_one_just_outside(city):
    lon, lat = city.points.r1
    per_metre = 1 / metres_per_degree_lat(lat)
    _subscribed(lat=lat, lon=lon, radius_m=100)
    inside = _report(city, point=pt(lon, lat + 98 * per_metre))
    outside = _report(city, point=pt(lon, lat + 102 * per_metre))
    no_point = _report(city, category=city.suggestion, point=None)
    alerts_send(commit=True)
    codes = _codes(_alerts_for("sub@example.org"))
    assert inside.tracking_code in codes
    assert outside.tracking_code not in codes and no_point.tracking_code not in codes


def test_a_category_and_combined_criteria(city):
    _subscribed("cat@example.org", category_code="suggestion")
    _subscribed("both@example.org", category_code="pothole", district_code="R2")
    suggestion = _report(city, category=city.suggestion)
    pothole_r1, pothole_r2 = _report(city, "r1"), _report(city, "r2")
    alerts_send(commit=True)
    assert _codes(_alerts_for("cat@example.org")) == {suggestion.tracking_code}
    assert _codes(_alerts_for("both@example.org")) == {pothole_r2.tracking_code}
    assert pothole_r1.tracking_code not in _codes(OutboxMessage.objects.all())


def test_reports_from_before_the_confirmation_are_not_sent(city):
    old = _report(city)
    _subscribed(district_code="R1")
    alerts_send(commit=True)
    assert old.tracking_code not in _codes(_alerts_for("sub@example.org"))


def test_generated_reports_never_alert(city):
    _subscribed(district_code="R1")
    demo = _report(city)
    Report.objects.filter(pk=demo.pk).update(generated=True)
    assert alerts_send(commit=True).messages == []
    assert not AlertDelivery.objects.exists()


def test_each_subscriber_hears_in_their_language(city):
    _subscribed("fa@example.org", district_code="R1")
    _subscribed("09121234567", district_code="R1", language="en")
    report = _report(city)
    alerts_send(commit=True)
    [fa] = _alerts_for("fa@example.org")
    [en] = _alerts_for("09121234567")
    assert "گزارش تازه" in fa.body and "منطقه یک" in fa.body and report.tracking_code in fa.body
    assert en.channel == "sms" and "a new report" in en.body and "Region One" in en.body
    assert "گزارش" not in en.body


def test_many_reports_in_one_run_make_one_digest(city):
    _subscribed(district_code="R1")
    reports = [_report(city) for _ in range(DIGEST_AFTER + 2)]
    run = alerts_send(commit=True)
    assert len(run.messages) == 1
    [digest] = _alerts_for("sub@example.org")
    assert _codes([digest]) >= {r.tracking_code for r in reports}
    assert AlertDelivery.objects.filter(message=digest).count() == len(reports)


# --- Exactly once ----------------------------------------------------------------------------------


def test_two_runs_send_each_report_once(city):
    _subscribed(district_code="R1")
    report = _report(city)
    first = alerts_send(commit=True)
    second = alerts_send(commit=True)
    assert len(first.messages) == 1 and second.messages == []
    assert len(_alerts_for("sub@example.org")) == 1
    assert AlertDelivery.objects.get().report_id == report.pk


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_time_send_each_report_once(city):
    _subscribed("a@example.org", district_code="R1")
    _subscribed("b@example.org", category_code="pothole")
    reports = [_report(city), _report(city, "s11")]
    barrier = threading.Barrier(2)
    sent: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            sent.append(len(alerts_send(commit=True).messages))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(sent) == [0, 4]
    assert AlertDelivery.objects.count() == 4
    for contact in ("a@example.org", "b@example.org"):
        assert _codes(_alerts_for(contact)) == {r.tracking_code for r in reports}
        assert len(_alerts_for(contact)) == 2


def test_the_command_is_a_dry_run_unless_commit(city):
    _subscribed(district_code="R1")
    report = _report(city)
    before = OutboxMessage.objects.count()
    out = StringIO()
    call_command("alerts_send", stdout=out)
    text = out.getvalue()
    assert report.tracking_code in text and "Dry run: 1 message(s)" in text
    assert "sub@example.org" not in text and "s***@example.org" in text
    assert OutboxMessage.objects.count() == before and not AlertDelivery.objects.exists()
    out = StringIO()
    call_command("alerts_send", "--commit", stdout=out)
    assert "1 message(s) queued" in out.getvalue()
    assert AlertDelivery.objects.count() == 1 and OutboxMessage.objects.count() == before + 1


def test_the_worker_runs_it_every_minute(city):
    from procrastinate.contrib.django import app

    from alerts.tasks import alerts_send_job

    task = app.periodic_registry.periodic_tasks[("alerts.alerts_send", "alerts_send")]
    assert task.cron == "* * * * *"
    _subscribed(district_code="R1")
    _report(city)
    assert alerts_send_job(timestamp=0) == 1
    assert alerts_send_job(timestamp=60) == 0


def test_the_alert_is_sent_through_the_outbox_and_its_stop_token_blanked(city, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.core import mail

    from issues.outbox import outbox_pending_send

    _subscribed(district_code="R1")
    _report(city)
    alerts_send(commit=True)
    outbox_pending_send()
    assert any("/alerts/stop/?t=" in m.body and "sub@example.org" in m.to for m in mail.outbox)
    [alert] = _alerts_for("sub@example.org")
    assert alert.status == "sent" and "/alerts/stop/?t=…" in alert.body


# --- Feeds -----------------------------------------------------------------------------------------


def _feed(client: Client, url: str) -> ET.Element:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def test_district_and_category_feeds_are_valid_atom_with_public_fields_only(city):
    _subscribed("subscriber@example.org", district_code="R1")
    hostile = _report(
        city,
        "s11",
        description=HOSTILE,
        reporter_name="Secret Name",
        reporter_phone="09127654321",
        reporter_email="reporter@example.org",
    )
    demo = _report(city, "r1")
    Report.objects.filter(pk=demo.pk).update(generated=True)
    elsewhere = _report(city, "r2", category=city.suggestion)
    client = en_client()
    feed = _feed(client, "/alerts/feeds/district/R1.atom")
    assert feed.tag == f"{ATOM}feed" and "Region One" in feed.findtext(f"{ATOM}title")
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert len(entries) == 2 and elsewhere.tracking_code not in " ".join(titles)
    by_code = {e.findtext(f"{ATOM}title").split(" · ")[0].split("] ")[-1]: e for e in entries}
    entry = by_code[hostile.tracking_code]
    assert entry.find(f"{ATOM}link").get("href").endswith(f"/track/{hostile.tracking_code}/")
    for tag in ("id", "updated", "published", "summary"):
        assert entry.find(f"{ATOM}{tag}") is not None
    # The summary is HTML: the description is escaped inside it, so it shows as text.
    summary = entry.findtext(f"{ATOM}summary")
    assert "<script>" not in summary and "<img" not in summary
    assert "&lt;script&gt;" in summary and "Pothole" in summary
    generated = by_code[demo.tracking_code]
    assert generated.findtext(f"{ATOM}title").startswith("[generated demo data]")
    assert "generated" in {c.get("term") for c in generated.findall(f"{ATOM}category")}
    raw = client.get("/alerts/feeds/district/R1.atom").content.decode()
    for private in ("Secret Name", "09127654321", "reporter@example.org", "subscriber@example.org"):
        assert private not in raw
    category = _feed(client, "/alerts/feeds/category/suggestion.atom")
    assert [e.findtext(f"{ATOM}title").split(" · ")[0] for e in category.findall(f"{ATOM}entry")] == [
        elsewhere.tracking_code
    ]
    every = _feed(client, "/alerts/feeds/all.atom")
    assert len(every.findall(f"{ATOM}entry")) == 3


def test_feeds_in_persian_by_default(city):
    _report(city)
    feed = _feed(Client(), "/alerts/feeds/district/R1.atom")
    assert "منطقه یک" in feed.findtext(f"{ATOM}title")
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "fa"


def test_unknown_codes_are_404(city):
    client = en_client()
    for url in (
        "/alerts/feeds/district/NOPE.atom",
        "/alerts/feeds/category/nope.atom",
        "/alerts/feeds/district/%3Cscript%3E.atom",
    ):
        assert client.get(url).status_code == 404


def test_feeds_can_be_cached_and_revalidated(city):
    _report(city)
    client = en_client()
    response = client.get("/alerts/feeds/district/R1.atom")
    assert "public" in response["Cache-Control"] and "max-age" in response["Cache-Control"]
    assert response["ETag"] and response["Last-Modified"]
    again = client.get("/alerts/feeds/district/R1.atom", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""
    since = client.get("/alerts/feeds/district/R1.atom", HTTP_IF_MODIFIED_SINCE=response["Last-Modified"])
    assert since.status_code == 304
    _report(city)
    assert (
        client.get("/alerts/feeds/district/R1.atom", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 200
    )


# --- API -------------------------------------------------------------------------------------------


def _api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def test_the_api_asks_for_confirmation_and_echoes_no_contact(city):
    body = {"email": "api@example.org", "category": "pothole", "lat": 36.275, "lon": 50.015, "radius_m": 300}
    response = _api().post("/api/alerts/subscriptions/", body, format="json")
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["subscription"] == {
        "channel": "email",
        "language": "fa",
        "district": None,
        "category": "pothole",
        "lat": 36.275,
        "lon": 50.015,
        "radius_m": 300,
    }
    assert "api@example.org" not in response.content.decode()
    assert Subscription.objects.get().events.get().via == "api"
    assert len(_messages_to("api@example.org")) == 1
    # The same request once confirmed: the same answer, nothing more sent.
    subscription_confirm(token=_link_token(_messages_to("api@example.org")[0].body, "confirm"))
    again = _api().post("/api/alerts/subscriptions/", body, format="json")
    assert again.status_code == 202 and again.json() == data
    assert len(_messages_to("api@example.org")) == 1


def test_the_endpoint_is_in_the_openapi_schema(city):
    schema = _api().get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/alerts/subscriptions/"]["post"]
    assert operation["operationId"] == "alerts_subscriptions_create"
    assert {"202", "400", "429"} <= set(operation["responses"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"district": "R1"}, "__all__"),
        ({"email": "a@example.org", "phone": "09121234567", "district": "R1"}, "__all__"),
        ({"email": "not an address", "district": "R1"}, "email"),
        ({"phone": "12", "district": "R1"}, "phone"),
        ({"email": "a@example.org"}, "__all__"),
        ({"email": "a@example.org", "district": "NOPE"}, "district"),
        ({"email": "a@example.org", "category": "nope"}, "category"),
        ({"email": "a@example.org", "lat": 36.275, "lon": 50.015}, "radius_m"),
        ({"email": "a@example.org", "lat": 36.275, "lon": 50.015, "radius_m": 49}, "radius_m"),
        ({"email": "a@example.org", "lat": 36.275, "lon": 50.015, "radius_m": 5001}, "radius_m"),
        ({"email": "a@example.org", "radius_m": 300}, "lat"),
        ({"email": "a@example.org", "lat": 35.0, "lon": 51.0, "radius_m": 300}, "lat"),
        ({"email": "a@example.org", "lat": 95, "lon": 50.015, "radius_m": 300}, "lat"),
        ({"email": "a@example.org", "lat": "x", "lon": 50.0, "radius_m": 300}, "lat"),
        ({"email": "a@example.org", "district": "R1", "language": "de"}, "language"),
        ({"email": "a@example.org", "district": "R1", "radius_m": "lots"}, "radius_m"),
    ],
)
def test_bad_input_is_a_clear_400_and_writes_nothing(city, body, field):
    response = _api().post("/api/alerts/subscriptions/", body, format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["error"] and field in data["detail"], data
    assert not Subscription.objects.exists() and not OutboxMessage.objects.exists()


def test_the_page_says_what_is_wrong_in_english_and_persian(city):
    response = en_client().post(
        "/alerts/", {"email": "a@example.org", "radius_m": "20", "lat": "36.275", "lon": "50.015"}
    )
    assert response.status_code == 400
    assert b"The radius must be from 50 to 5000 metres." in response.content
    fa = Client().post("/alerts/", {"email": "a@example.org"})
    assert fa.status_code == 400
    assert "یک منطقه، یک موضوع یا یک نقطه" in fa.content.decode()
    assert not Subscription.objects.exists() and not OutboxMessage.objects.exists()


def test_the_page_runs_no_inline_script(city):
    html = en_client().get("/alerts/").content.decode()
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "http://" not in re.sub(r'(href|action|src)="/[^"]*"', "", html).replace("http://www.w3.org", "")


# --- Write limits ----------------------------------------------------------------------------------


def test_the_write_limit_answers_429_and_writes_nothing(city, settings):
    settings.OPEN137_RATE_ALERTS = "2/hour"
    for n in range(2):
        body = {"email": f"n{n}@example.org", "district": "R1"}
        assert _api().post("/api/alerts/subscriptions/", body, format="json").status_code == 202
    refused = _api().post(
        "/api/alerts/subscriptions/", {"email": "x@example.org", "district": "R1"}, format="json"
    )
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many subscription requests" in refused.json()["error"]
    page = en_client().post("/alerts/", {"email": "y@example.org", "district": "R1"})
    assert page.status_code == 429 and b"Too many subscription requests" in page.content
    assert Subscription.objects.count() == 2


def test_one_contact_gets_few_confirmations_a_day_whoever_asks(city):
    for criteria in ({"district": "R1"}, {"district": "R2"}, {"district": "S11"}):
        body = {"phone": "09121234567", **criteria}
        assert _api().post("/api/alerts/subscriptions/", body, format="json").status_code == 202
    refused = _api().post(
        "/api/alerts/subscriptions/", {"phone": "09121234567", "category": "pothole"}, format="json"
    )
    assert refused.status_code == 429 and "this contact" in refused.json()["error"]
    assert 86_000 < int(refused["Retry-After"]) <= 86_400
    assert Subscription.objects.count() == 3 and len(_messages_to("09121234567")) == 3


def test_a_contact_with_overlapping_subscriptions_hears_of_a_report_once(city):
    _subscribed(district_code="R1")
    _subscribed(category_code="pothole")
    _subscribed("other@example.org", category_code="pothole")
    report = _report(city)
    alerts_send(commit=True)
    assert len(_alerts_for("sub@example.org")) == 1 and len(_alerts_for("other@example.org")) == 1
    # Both of the contact's subscriptions record the report, told by the one message.
    deliveries = AlertDelivery.objects.filter(subscription__contact="sub@example.org", report=report)
    assert deliveries.count() == 2 and len({d.message_id for d in deliveries}) == 1
    assert alerts_send(commit=True).messages == []

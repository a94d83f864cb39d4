"""The alerts' prune (alerts/pruning.py): a stop link works for OPEN137_ALERT_LINK_DAYS after its
message, an active subscriber's latest link always works, expired confirmation links and old
delivery rows go, and nothing is ever told twice for it. Dry run unless --commit; the worker runs
it every night."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from alerts.models import AlertDelivery, AlertWatermark, Subscription, SubscriptionToken
from alerts.pruning import alerts_prune
from alerts.sending import WATERMARK, alerts_send
from alerts.services import subscription_confirm, subscription_request
from issues.models import OutboxMessage
from issues.services.intake import report_create
from tests.conftest import pt

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def no_write_limit(settings):
    settings.OPEN137_RATE_ALERTS = ""
    settings.OPEN137_RATE_REPORTS = ""


def _bodies(contact: str) -> list[str]:
    return list(OutboxMessage.objects.filter(recipient=contact).order_by("id").values_list("body", flat=True))


def _token(body: str, name: str) -> str:
    found = re.search(rf"/alerts/{name}/\?t=([A-Za-z0-9_\-]+)", body)
    assert found, body
    return found.group(1)


def _subscribed(contact: str, *, confirm: bool = True) -> Subscription:
    requested = subscription_request(email=contact, district_code="R1")
    if confirm:
        assert subscription_confirm(token=_token(_bodies(contact)[-1], "confirm")) is not None
    requested.subscription.refresh_from_db()
    return requested.subscription


def _alerted(city, contact: str, times: int) -> list[str]:
    """`times` alerts to the subscriber, one report each; their stop links, oldest first."""
    for _ in range(times):
        report_create(category=city.pothole, location=pt(*city.points.r1))
        assert len(alerts_send(commit=True).messages) == 1
    return [_token(body, "stop") for body in _bodies(contact) if "/alerts/confirm/" not in body]


def _sent_ago(subscription: Subscription, ages_in_days: list[int]) -> None:
    """Date the subscription's stop tokens back, oldest first, as if their messages came then."""
    tokens = subscription.tokens.filter(purpose=SubscriptionToken.Purpose.STOP).order_by("id")
    assert tokens.count() == len(ages_in_days)
    for token, days in zip(tokens, ages_in_days, strict=True):
        SubscriptionToken.objects.filter(pk=token.pk).update(created_at=timezone.now() - days * DAY)


def _stop(token: str):
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client.get(f"/alerts/stop/?t={token}")


def test_a_stop_link_works_for_the_retention_then_the_latest_one_still_does(city):
    subscription = _subscribed("old@example.org")
    first, second, latest = _alerted(city, "old@example.org", 3)
    # The confirmation's link 800 days ago, the alerts' 700, 400 and 20 days ago: a year's retention.
    _sent_ago(subscription, [800, 700, 400, 20])
    run = alerts_prune(commit=True)
    assert (run.stop_tokens, run.committed) == (3, True)
    # The links past the year say so, and stop nothing: alerts still come, the latest link works.
    for token in (first, second):
        answer = _stop(token)
        assert answer.status_code == 404 and b"the stop link in the latest one works" in answer.content
    subscription.refresh_from_db()
    assert subscription.status == "active"
    assert _stop(latest).status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == "stopped"


def test_an_active_subscribers_latest_link_works_however_old(city):
    subscription = _subscribed("quiet@example.org")
    [only] = _alerted(city, "quiet@example.org", 1)
    _sent_ago(subscription, [1000, 900])  # no report in their district for years
    assert alerts_prune(commit=True).stop_tokens == 1
    assert subscription.tokens.filter(purpose="stop").count() == 1
    assert _stop(only).status_code == 200


def test_stopped_and_pending_subscriptions_lose_their_old_links_and_expired_confirmations(city):
    stopped = _subscribed("stopped@example.org")
    _alerted(city, "stopped@example.org", 1)
    assert _stop(_token(_bodies("stopped@example.org")[-1], "stop")).status_code == 200
    pending = _subscribed("pending@example.org", confirm=False)
    fresh = _subscribed("fresh@example.org", confirm=False)
    _sent_ago(stopped, [500, 400])
    _sent_ago(pending, [366])
    pending.tokens.filter(purpose="confirm").update(created_at=timezone.now() - 366 * DAY)
    fresh.tokens.filter(purpose="confirm").update(created_at=timezone.now() - 6 * DAY)
    stopped.tokens.filter(purpose="confirm").update(created_at=timezone.now() - 8 * DAY)
    run = alerts_prune(commit=True)
    assert (run.stop_tokens, run.confirm_tokens) == (3, 2)
    assert not stopped.tokens.exists() and not pending.tokens.exists()
    # A confirmation within its 7 days still confirms, and its stop link is kept.
    assert fresh.tokens.count() == 2
    assert subscription_confirm(token=_token(_bodies("fresh@example.org")[-1], "confirm")) is not None
    # The subscriptions themselves and their history stay (for now: a stopped one for
    # OPEN137_ALERT_STOPPED_DAYS, a pending one a week after its last link expired).
    assert Subscription.objects.filter(pk__in=[stopped.pk, pending.pk]).count() == 2
    assert stopped.events.filter(kind="stopped").exists()


def test_old_deliveries_go_and_no_report_is_told_twice(city):
    subscription = _subscribed("many@example.org")
    _alerted(city, "many@example.org", 2)
    old, recent = AlertDelivery.objects.filter(subscription=subscription).order_by("id")
    long_ago = timezone.now() - 400 * DAY
    AlertDelivery.objects.filter(pk=old.pk).update(created_at=long_ago)
    type(old.report).objects.filter(pk=old.report_id).update(created_at=long_ago)
    run = alerts_prune(commit=True)
    assert run.deliveries == 1
    assert list(AlertDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
    # The next runs tell nobody again.
    messages = OutboxMessage.objects.count()
    alerts_send(commit=True)
    assert OutboxMessage.objects.count() == messages


def test_a_delivery_the_sending_job_may_still_look_at_is_kept(city):
    # A worker stopped for more than the retention: when it runs again it looks back from its old
    # watermark, so the pairs it wrote then are what keeps it from telling those reports again.
    subscription = _subscribed("late@example.org")
    _alerted(city, "late@example.org", 1)
    long_ago = timezone.now() - 400 * DAY
    [delivery] = AlertDelivery.objects.filter(subscription=subscription)
    AlertDelivery.objects.filter(pk=delivery.pk).update(created_at=long_ago)
    type(delivery.report).objects.filter(pk=delivery.report_id).update(created_at=long_ago)
    Subscription.objects.filter(pk=subscription.pk).update(confirmed_at=long_ago - DAY)
    AlertWatermark.objects.filter(name=WATERMARK).update(reports_until=long_ago)
    assert alerts_prune(commit=True).deliveries == 0
    messages = OutboxMessage.objects.count()
    alerts_send(commit=True)
    assert OutboxMessage.objects.count() == messages and AlertDelivery.objects.count() == 1


def test_the_command_is_a_dry_run_unless_commit(city):
    subscription = _subscribed("dry@example.org")
    _alerted(city, "dry@example.org", 2)
    _sent_ago(subscription, [800, 700, 10])
    before = SubscriptionToken.objects.count()
    out = StringIO()
    call_command("alerts_prune", stdout=out)
    assert "Dry run: would delete (2 rows)" in out.getvalue()
    assert "2 stop link token(s) sent before" in out.getvalue()
    assert "Nothing written" in out.getvalue()
    assert SubscriptionToken.objects.count() == before
    out = StringIO()
    call_command("alerts_prune", "--commit", stdout=out)
    assert "Deleted (2 rows)" in out.getvalue() and "2 stop link token(s) sent before" in out.getvalue()
    assert SubscriptionToken.objects.count() == before - 2
    # Nothing left to prune: a second run deletes nothing.
    assert alerts_prune(commit=True).stop_tokens == 0


def test_the_retention_is_a_setting(city, settings):
    subscription = _subscribed("setting@example.org")
    _alerted(city, "setting@example.org", 1)
    _sent_ago(subscription, [100, 50])
    assert alerts_prune(commit=False).stop_tokens == 0
    settings.OPEN137_ALERT_LINK_DAYS = 90
    assert alerts_prune(commit=True).stop_tokens == 1


def test_the_worker_prunes_every_night(city):
    from procrastinate.contrib.django import app

    from alerts.tasks import alerts_prune_job

    task = app.periodic_registry.periodic_tasks[("alerts.alerts_prune", "alerts_prune")]
    assert task.cron == "41 3 * * *"
    subscription = _subscribed("night@example.org")
    _alerted(city, "night@example.org", 1)
    _sent_ago(subscription, [400, 1])
    assert alerts_prune_job(timestamp=0) == 1
    assert alerts_prune_job(timestamp=86400) == 0


# Forgetting: subscriptions never confirmed, and those stopped by their owner, go with their contact.


def _ago(days: float):
    return timezone.now() - timedelta(days=days)


def _asked_ago(subscription: Subscription, days: float) -> None:
    """Date the whole request back: the row, its events and its tokens."""
    Subscription.objects.filter(pk=subscription.pk).update(created_at=_ago(days))
    subscription.events.update(at=_ago(days))
    subscription.tokens.update(created_at=_ago(days))


def _stopped(subscription: Subscription, *, days_ago: float) -> None:
    """Stopped by its owner with the latest message's link, `days_ago` days ago."""
    bodies = [b for b in _bodies(subscription.contact) if "/alerts/stop/" in b]
    assert _stop(_token(bodies[-1], "stop")).status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == "stopped"
    Subscription.objects.filter(pk=subscription.pk).update(stopped_at=_ago(days_ago))


def _report_told(city, *, expected: int) -> None:
    """One new report in R1, told to every active R1 subscriber."""
    report_create(category=city.pothole, location=pt(*city.points.r1))
    assert len(alerts_send(commit=True).messages) == expected


def _footprint(subscription: Subscription) -> tuple[int, int, int, int]:
    return (
        subscription.tokens.count(),
        subscription.events.count(),
        subscription.deliveries.count(),
        OutboxMessage.objects.filter(recipient=subscription.contact).count(),
    )


def _tables_holding(text: str) -> list[str]:
    """Every table of the database with a row whose text (all its columns) contains `text`."""
    from django.db import connection

    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table == "spatial_ref_sys":
                continue
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT 1 FROM {quoted} x WHERE x::text ILIKE %s LIMIT 1", [f"%{text}%"])
            if cursor.fetchone():
                found.append(table)
    return found


def test_a_never_confirmed_subscription_goes_a_week_after_its_link_expired(city):
    gone = _subscribed("gone@example.org", confirm=False)
    kept = _subscribed("kept@example.org", confirm=False)
    asked_again = _subscribed("again@example.org", confirm=False)
    active = _subscribed("active@example.org")
    _asked_ago(gone, 14.5)  # link expired 7.5 days ago
    _asked_ago(kept, 13.5)  # link expired 6.5 days ago: not yet
    _asked_ago(asked_again, 30)
    Subscription.objects.filter(pk=active.pk).update(created_at=_ago(400), confirmed_at=_ago(400))
    active.events.update(at=_ago(400))
    # Asked again 10 days ago: the confirmation was sent again then, so the week runs from there.
    assert subscription_request(email="again@example.org", district_code="R1").subscription == asked_again
    asked_again.events.filter(kind="resent").update(at=_ago(10))
    asked_again.tokens.filter(created_at__gt=_ago(1)).update(created_at=_ago(10))
    active_before = _footprint(active)

    run = alerts_prune(commit=True)

    assert (run.pending_subscriptions, run.stopped_subscriptions) == (1, 0)
    assert not Subscription.objects.filter(pk=gone.pk).exists()
    assert not SubscriptionToken.objects.filter(subscription_id=gone.pk).exists()
    assert run.subscription_events == 1  # its "created"
    # Its confirmation message, the only row that still named the address, went with it.
    assert not OutboxMessage.objects.filter(recipient="gone@example.org").exists() and run.messages == 1
    assert Subscription.objects.filter(pk__in=[kept.pk, asked_again.pk], status="pending").count() == 2
    assert OutboxMessage.objects.filter(recipient="kept@example.org").count() == 1
    # An active subscription, however old, is not touched.
    active.refresh_from_db()
    assert active.status == "active" and _footprint(active) == active_before
    # A day later the second one is past its week too; the one asked again still is not.
    run = alerts_prune(commit=True, now=timezone.now() + DAY)
    assert run.pending_subscriptions == 1 and not Subscription.objects.filter(pk=kept.pk).exists()
    assert Subscription.objects.filter(pk=asked_again.pk).exists()


def test_a_stopped_subscription_goes_after_the_retention_with_its_tokens_and_deliveries(city):
    old = _subscribed("stopped-31@example.org")
    recent = _subscribed("stopped-29@example.org")
    active = _subscribed("still@example.org")
    _report_told(city, expected=3)
    _report_told(city, expected=3)
    _stopped(old, days_ago=31)
    _stopped(recent, days_ago=29)
    old_footprint = _footprint(old)
    assert old_footprint == (4, 3, 2, 3)  # 2 confirm/stop + 2 alerts' stop; created/confirmed/stopped
    active_before = _footprint(active)

    run = alerts_prune(commit=True)

    assert (run.stopped_subscriptions, run.pending_subscriptions) == (1, 0)
    assert (run.subscription_tokens, run.subscription_events, run.subscription_deliveries) == (4, 3, 2)
    assert run.messages == 3
    assert not Subscription.objects.filter(pk=old.pk).exists()
    assert not AlertDelivery.objects.filter(subscription_id=old.pk).exists()
    assert not SubscriptionToken.objects.filter(subscription_id=old.pk).exists()
    assert not OutboxMessage.objects.filter(recipient="stopped-31@example.org").exists()
    # Stopped 29 days ago: kept, whole, for one more day.
    assert Subscription.objects.filter(pk=recent.pk).exists()
    assert _footprint(recent)[2:] == (2, 3)
    active.refresh_from_db()
    assert active.status == "active" and _footprint(active) == active_before
    # The active subscriber is still told, and nothing is told twice.
    _report_told(city, expected=1)
    assert alerts_prune(commit=True, now=timezone.now() + 2 * DAY).stopped_subscriptions == 1


def test_the_stopped_retention_is_a_setting_and_zero_forgets_at_once(city, settings):
    from django.core.exceptions import ImproperlyConfigured

    from alerts.forgetting import stopped_days

    assert stopped_days() == 30  # the default
    subscription = _subscribed("now@example.org")
    _stopped(subscription, days_ago=0)
    assert alerts_prune(commit=True).stopped_subscriptions == 0
    settings.OPEN137_ALERT_STOPPED_DAYS = 0
    assert alerts_prune(commit=True).stopped_subscriptions == 1
    assert not Subscription.objects.filter(pk=subscription.pk).exists()
    for wrong in (-1, "a month"):
        settings.OPEN137_ALERT_STOPPED_DAYS = wrong
        with pytest.raises(ImproperlyConfigured, match="OPEN137_ALERT_STOPPED_DAYS"):
            alerts_prune(commit=False)
    settings.OPEN137_ALERT_PRUNE_BATCH = 0
    settings.OPEN137_ALERT_STOPPED_DAYS = 0
    with pytest.raises(ImproperlyConfigured, match="OPEN137_ALERT_PRUNE_BATCH"):
        alerts_prune(commit=False)


def test_a_stopped_subscribers_contact_is_nowhere_in_the_database_afterwards(city, settings):
    settings.OPEN137_ALERT_STOPPED_DAYS = 0
    by_mail = _subscribed("forget-me-137@example.org")
    by_phone = subscription_request(phone="0912 555 0137", district_code="R1").subscription
    assert subscription_confirm(token=_token(_bodies(by_phone.contact)[-1], "confirm")) is not None
    # Someone who stopped one subscription and keeps another: the contact stays while one is active.
    both_r1 = _subscribed("two-of-them@example.org")
    both_pothole = subscription_request(email="two-of-them@example.org", category_code="pothole").subscription
    assert subscription_confirm(token=_token(_bodies("two-of-them@example.org")[-1], "confirm")) is not None
    pothole_stop = _token(_bodies("two-of-them@example.org")[-1], "stop")  # its confirmation's
    _report_told(city, expected=3)  # one message to two-of-them for both subscriptions
    stop_links = [_token(_bodies(s.contact)[-1], "stop") for s in (by_mail, by_phone, both_r1)]
    call_command("outbox_send", stdout=StringIO())  # sent: the stored copies lose their tokens
    assert not OutboxMessage.objects.exclude(status="sent").exists()
    for token in stop_links:
        assert _stop(token).status_code == 200
    assert Subscription.objects.filter(status="stopped").count() == 3
    # The searches can fail: before the prune, each contact is in the subscriptions and the outbox.
    for contact in ("forget-me-137@example.org", "09125550137", "two-of-them@example.org"):
        assert {"alerts_subscription", "issues_outboxmessage"} <= set(_tables_holding(contact)), contact

    run = alerts_prune(commit=True)

    assert run.stopped_subscriptions == 3
    assert _tables_holding("forget-me-137@example.org") == []
    assert _tables_holding("09125550137") == [] and _tables_holding("5550137") == []
    assert set(_tables_holding("two-of-them@example.org")) == {"alerts_subscription", "issues_outboxmessage"}
    assert Subscription.objects.get(contact="two-of-them@example.org") == both_pothole
    # When the last one stops too, the address leaves with it.
    assert _stop(pothole_stop).status_code == 200
    assert alerts_prune(commit=True).stopped_subscriptions == 1
    assert _tables_holding("two-of-them@example.org") == []


def _every_kind(city) -> None:
    """One row to prune of each kind, and an active subscription that must stay."""
    pending = _subscribed("p@example.org", confirm=False)
    _asked_ago(pending, 20)
    stopped = _subscribed("s@example.org")
    active = _subscribed("a@example.org")
    _report_told(city, expected=2)
    _stopped(stopped, days_ago=40)
    _sent_ago(active, [400, 1])


def _snapshot() -> dict[str, list]:
    from alerts.models import SubscriptionEvent

    return {
        model.__name__: sorted(model.objects.values_list("pk", flat=True))
        for model in (Subscription, SubscriptionToken, SubscriptionEvent, AlertDelivery, OutboxMessage)
    }


def test_the_dry_run_writes_nothing_and_counts_what_commit_deletes(city):
    _every_kind(city)
    before = _snapshot()
    out = StringIO()
    call_command("alerts_prune", stdout=out)
    text = out.getvalue()
    assert _snapshot() == before
    now = timezone.now()
    dry = alerts_prune(commit=False, now=now)
    assert _snapshot() == before and not dry.committed
    # By kind, in Persian (Persian digits) and English.
    assert "اجرای آزمایشی" in text and "Dry run: would delete" in text
    assert "۱ اشتراک لغوشده" in text and "1 subscription(s) stopped up to" in text
    assert "۱ اشتراک تأییدنشده" in text and "1 never-confirmed subscription(s)" in text
    assert "1 stop link token(s) sent before" in text
    # p@ its confirmation; s@ its confirmation and an alert.
    assert "3 alert message(s) in the outbox to contacts no longer subscribed" in text
    done = alerts_prune(commit=True, now=now)
    assert done.committed and done.total == dry.total > 0
    assert (done.pending_subscriptions, done.stopped_subscriptions, done.messages) == (1, 1, 3)
    assert dry == type(dry)(**{**done.__dict__, "committed": False})
    assert list(Subscription.objects.values_list("contact", flat=True)) == ["a@example.org"]


def test_batches_delete_everything_and_say_how_far_they_are(city, settings):
    settings.OPEN137_ALERT_STOPPED_DAYS = 0
    subscriptions = [_subscribed(f"batch{i}@example.org") for i in range(5)]
    for subscription in subscriptions:
        _stopped(subscription, days_ago=0)
    told: list[tuple[str, int]] = []
    run = alerts_prune(commit=True, batch_size=2, progress=lambda kind, n: told.append((kind, n)))
    assert run.stopped_subscriptions == 5 and run.messages == 5
    assert [n for kind, n in told if kind == "stopped_subscriptions"] == [2, 4, 5]
    assert [n for kind, n in told if kind == "messages"] == [2, 4, 5]
    assert not Subscription.objects.exists() and not SubscriptionToken.objects.exists()
    assert not OutboxMessage.objects.filter(recipient__startswith="batch").exists()


def test_the_command_deletes_in_batches_of_its_option(city, settings):
    settings.OPEN137_ALERT_STOPPED_DAYS = 0
    for i in range(3):
        _stopped(_subscribed(f"cmd{i}@example.org"), days_ago=0)
    out = StringIO()
    call_command("alerts_prune", "--commit", "--batch", "2", stdout=out)
    text = out.getvalue()
    assert "stopped subscription(s): 2 deleted so far" in text
    assert "stopped subscription(s): 3 deleted so far" in text
    assert "اشتراک لغوشده: ۳ پاک شد تا اینجا" in text
    assert "3 subscription(s) stopped up to" in text and not Subscription.objects.exists()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--batch"):
        call_command("alerts_prune", "--batch", "0", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_each_batch_commits_on_its_own(city, settings):
    # The first prune of a large database holds no lock for long: every batch is its own
    # transaction, committed before the next begins.
    from django.db import connection

    settings.OPEN137_ALERT_STOPPED_DAYS = 0
    for i in range(3):
        _stopped(_subscribed(f"commit{i}@example.org"), days_ago=0)
    in_transaction: list[bool] = []
    alerts_prune(
        commit=True,
        batch_size=1,
        progress=lambda kind, n: in_transaction.append(connection.in_atomic_block),
    )
    assert in_transaction and not any(in_transaction)
    assert not Subscription.objects.exists()

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
    # The subscriptions themselves and their history stay.
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
    assert "Dry run: would delete 2 stop link token(s)" in out.getvalue()
    assert "nothing written" in out.getvalue()
    assert SubscriptionToken.objects.count() == before
    out = StringIO()
    call_command("alerts_prune", "--commit", stdout=out)
    assert "Deleted 2 stop link token(s)" in out.getvalue()
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

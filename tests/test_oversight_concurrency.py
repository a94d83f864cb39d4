"""Issue 9 attacked by two users at once (threads, each with its own database connection): the same
alert subscription asked for twice at the same moment, the pledger's done twice or done and
withdraw at once, two members of staff confirming a citizen's work at once. No duplicate row, no
500, and each state change recorded once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from alerts.models import Subscription
from alerts.services import CONFIRMATIONS_PER_CONTACT_PER_DAY, ContactLimitReached, subscription_request
from issues.models import ReportEvent, ReportStatus
from issues.outbox import OutboxMessage
from issues.workflow.services import TransitionConflict
from participation.models import Pledge, PledgeEvent
from participation.services import pledge_confirm, pledge_create, pledge_done, pledge_withdraw
from tests.test_participation import _report, salting  # noqa: F401  (a fixture)

# ruff: noqa: F811  (the fixture imported above, named as a test's argument)

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(*calls: Callable[[], object]) -> list[str]:
    """Run the calls at the same moment, each in its own thread and connection: 'ok' or the name of
    the exception each ended with (anything unexpected is raised here)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = [""] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            call()
            outcomes[i] = "ok"
        except (TransitionConflict, ContactLimitReached, ValidationError) as exc:
            outcomes[i] = type(exc).__name__
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return outcomes


def test_the_same_subscription_asked_for_at_once_is_one_row(city):
    def ask() -> object:
        return subscription_request(email="twice@example.org", district_code="R1")

    for _round in range(3):
        at_once(ask, ask, ask)
    # One subscription: two would each be confirmed and send every alert twice.
    assert Subscription.objects.filter(contact="twice@example.org").count() == 1


def test_the_daily_limit_of_confirmations_holds_under_parallel_requests(city):
    # Different requests for one phone at once: the victim of a flood gets at most the day's limit.
    radii = range(100, 100 + 10 * (CONFIRMATIONS_PER_CONTACT_PER_DAY + 4), 10)
    calls = [
        (lambda r=r: subscription_request(phone="09121234567", lat=36.275, lon=50.005, radius_m=r))
        for r in radii
    ]
    outcomes = at_once(*calls)
    sent = OutboxMessage.objects.filter(recipient="09121234567").count()
    assert sent == outcomes.count("ok") == CONFIRMATIONS_PER_CONTACT_PER_DAY
    assert Subscription.objects.filter(contact="09121234567").count() == sent


# --- Pledges ---------------------------------------------------------------------------------------


def _pledge_events(pledge: Pledge) -> list[str]:
    return sorted(PledgeEvent.objects.filter(pledge=pledge).values_list("kind", flat=True))


def _timeline(report) -> list[str]:
    return sorted(
        ReportEvent.objects.filter(report=report, data__has_key="pledge").values_list(
            "data__pledge", flat=True
        )
    )


def test_done_said_twice_at_once_is_one_step(salting):
    report = _report(salting)
    pledge = pledge_create(report=report).pledge
    outcomes = at_once(lambda: pledge_done(pledge=pledge), lambda: pledge_done(pledge=pledge))
    assert sorted(outcomes) == ["TransitionConflict", "ok"]
    assert Pledge.objects.get().status == "done"
    assert _pledge_events(pledge) == ["done", "pledged"]
    assert _timeline(report) == ["done", "pledged"]


def test_done_and_withdraw_at_once_one_wins_and_the_record_agrees(salting):
    for round_ in range(3):
        report = _report(salting, token=f"reporter-private-token-round-{round_}")
        pledge = pledge_create(report=report).pledge
        outcomes = at_once(lambda p=pledge: pledge_done(pledge=p), lambda p=pledge: pledge_withdraw(pledge=p))
        pledge.refresh_from_db()
        # Withdraw is allowed after done too (before the confirmation): either order ends sound.
        if outcomes == ["ok", "ok"]:
            assert pledge.status == "withdrawn"
            assert _pledge_events(pledge) == ["done", "pledged", "withdrawn"]
            assert _timeline(report) == ["done", "pledged", "withdrawn"]
        else:
            assert outcomes == ["TransitionConflict", "ok"] and pledge.status == "withdrawn"
            assert _pledge_events(pledge) == ["pledged", "withdrawn"]
            assert _timeline(report) == ["pledged", "withdrawn"]


@pytest.mark.parametrize("second", ["manager_r1", "reporter"])
def test_two_confirm_a_citizens_work_at_once_one_resolution(salting, staff, second):
    report = _report(salting)
    pledge = pledge_create(report=report).pledge
    pledge_done(pledge=pledge)
    other = getattr(staff, second, None)
    outcomes = at_once(
        lambda: pledge_confirm(pledge=pledge, actor=staff.supervisor),
        lambda: pledge_confirm(pledge=pledge, actor=other),
    )
    assert sorted(outcomes) == ["TransitionConflict", "ok"]
    report.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED_BY_CITIZENS
    assert _pledge_events(pledge) == ["confirmed", "done", "pledged"]
    resolved = ReportEvent.objects.filter(report=report, to_status=ReportStatus.RESOLVED_BY_CITIZENS)
    assert resolved.count() == 1


def test_a_pledge_step_in_progress_does_not_hold_up_new_reports_of_its_category(salting):
    """A pledge's steps lock the pledge and its report, not the category: locking the category row
    made every new report of that category, anywhere in the city, wait for the step to end."""
    from django.db import connection, transaction

    report = _report(salting)
    pledge = pledge_create(report=report).pledge
    step_started = threading.Event()
    step_may_end = threading.Event()
    errors: list[BaseException] = []

    def slow_step() -> None:
        try:
            with transaction.atomic():
                pledge_done(pledge=pledge)
                step_started.set()
                step_may_end.wait(timeout=20)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_step)
    thread.start()
    try:
        assert step_started.wait(timeout=20)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            other = _report(salting, where=(50.016, 36.276), token="another-reporter-token-0123456789")
        assert other.category_id == salting.pk
    finally:
        step_may_end.set()
        thread.join(timeout=30)
    assert not errors, errors


def test_a_confirmation_link_followed_twice_at_once_confirms_once(city):
    import re

    from alerts.models import SubscriptionEvent
    from alerts.services import subscription_confirm

    requested = subscription_request(email="click@example.org", category_code="pothole")
    body = OutboxMessage.objects.filter(recipient="click@example.org").latest("id").body
    token = re.search(r"/alerts/confirm/\?t=([A-Za-z0-9_\-]+)", body).group(1)
    changed: list[bool] = []
    at_once(*[lambda: changed.append(subscription_confirm(token=token).changed)] * 3)
    assert sorted(changed) == [False, False, True]
    events = SubscriptionEvent.objects.filter(subscription=requested.subscription, kind="confirmed")
    assert events.count() == 1

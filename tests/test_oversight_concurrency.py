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
from issues.outbox import OutboxMessage
from issues.workflow.services import TransitionConflict
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

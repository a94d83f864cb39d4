"""The one place SubscriptionEvent rows are built: one writer per kind, like issues/events.py."""

from __future__ import annotations

from typing import Any

from alerts.models import Subscription, SubscriptionEvent


def _event(*, subscription: Subscription, kind: str, via: str, **data: Any) -> SubscriptionEvent:
    return SubscriptionEvent.objects.create(subscription=subscription, kind=kind, via=via, data=data)


def subscription_created_event(*, subscription: Subscription, via: str) -> SubscriptionEvent:
    """What was asked for, without the contact (the row has it; events are for the history)."""
    return _event(
        subscription=subscription,
        kind=SubscriptionEvent.Kind.CREATED,
        via=via,
        channel=subscription.channel,
        district=subscription.district_code,
        category=subscription.category.code if subscription.category else "",
        radius_m=subscription.radius_m,
    )


def subscription_resent_event(*, subscription: Subscription, via: str) -> SubscriptionEvent:
    return _event(subscription=subscription, kind=SubscriptionEvent.Kind.CONFIRMATION_RESENT, via=via)


def subscription_confirmed_event(*, subscription: Subscription, via: str) -> SubscriptionEvent:
    return _event(subscription=subscription, kind=SubscriptionEvent.Kind.CONFIRMED, via=via)


def subscription_stopped_event(*, subscription: Subscription, via: str, was: str) -> SubscriptionEvent:
    return _event(subscription=subscription, kind=SubscriptionEvent.Kind.STOPPED, via=via, was=was)

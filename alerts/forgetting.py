"""Forgetting the people who are no longer subscribed: the part of the nightly prune
(alerts/pruning.py) that deletes whole subscriptions, and with them every row that holds their
contact.

A subscription holds an e-mail address or a phone number the city needs only while it sends alerts
to it. Two kinds are deleted:

- never confirmed: PENDING_KEEP_DAYS after its last confirmation link expired (the link confirms
  nothing after CONFIRM_TOKEN_DAYS; whoever still wants the alerts asks again). "Last" counts the
  first request and every resend;
- stopped by its owner (or cancelled from the confirmation message): `OPEN137_ALERT_STOPPED_DAYS`
  after the stop (default 30; 0 deletes it at the next prune). Someone who pressed "stop" expects
  the city to forget them; the days are for an operator asked "did I stop it?".

With the subscription go its tokens, its events (they name no contact, but belong to it) and its
deliveries. The alert messages in issues' outbox (confirmations, alerts and digests: every one
carries the stop link, and no other message without a report does) are then deleted once no
subscription of that channel and contact is left: the messages are per contact, not per
subscription (one message tells a report to all of a contact's subscriptions), so the contact
leaves the database with its last subscription. Messages not yet sent go too: the outbox's sender
answers a message that no longer exists by doing nothing.

Nothing else holds the contact: the procrastinate job of a message carries only its id, the events
and the write-limit counters none. The demo's SMS log file (issues/outbox.py's LogSmsBackend) is a
file, not the database, and production does not use it.

Each function deletes one batch in the caller's transaction and answers the rows it deleted, by
kind; the caller (pruning._in_batches) repeats it until a batch comes back short.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from alerts.models import Subscription, SubscriptionEvent, SubscriptionToken

# Days after the last confirmation link expired before a never-confirmed subscription is deleted.
PENDING_KEEP_DAYS = 7
STOPPED_DAYS_DEFAULT = 30
PRUNE_BATCH_DEFAULT = 1000


def _int_setting(name: str, default: int, *, least: int) -> int:
    """A whole number from the settings (open137/settings.py reads the environment), at least
    `least`; anything else refuses to start (alerts/apps.py)."""
    raw = getattr(settings, name, default)
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = least - 1
    if value < least:
        raise ImproperlyConfigured(f"{name} must be a whole number, at least {least} (default {default}).")
    return value


def stopped_days() -> int:
    """OPEN137_ALERT_STOPPED_DAYS: days a stopped subscription is kept (0: deleted at the next prune)."""
    return _int_setting("OPEN137_ALERT_STOPPED_DAYS", STOPPED_DAYS_DEFAULT, least=0)


def prune_batch_size() -> int:
    """OPEN137_ALERT_PRUNE_BATCH: rows deleted per transaction by the prune."""
    return _int_setting("OPEN137_ALERT_PRUNE_BATCH", PRUNE_BATCH_DEFAULT, least=1)


# Parameters: asked_before, batch. Pending subscriptions whose request and every resend (and every
# confirmation token still there) came before `asked_before`. Rows another transaction holds (a
# resend or a confirmation right now) are skipped: the next prune sees them again.
_PENDING_SQL = """
    SELECT s.id FROM alerts_subscription s
     WHERE s.status = %(pending)s AND s.created_at < %(asked_before)s
       AND NOT EXISTS (SELECT 1 FROM alerts_subscriptionevent e
                        WHERE e.subscription_id = s.id AND e.kind IN (%(created)s, %(resent)s)
                          AND e.at >= %(asked_before)s)
       AND NOT EXISTS (SELECT 1 FROM alerts_subscriptiontoken t
                        WHERE t.subscription_id = s.id AND t.purpose = %(confirm)s
                          AND t.created_at >= %(asked_before)s)
     ORDER BY s.id LIMIT %(batch)s FOR UPDATE OF s SKIP LOCKED"""

# Parameters: stopped_before, batch.
_STOPPED_SQL = """
    SELECT s.id FROM alerts_subscription s
     WHERE s.status = %(stopped)s AND COALESCE(s.stopped_at, s.created_at) <= %(stopped_before)s
     ORDER BY s.id LIMIT %(batch)s FOR UPDATE OF s SKIP LOCKED"""

# What holds a subscription, deleted before it (the foreign keys are checked at commit).
_DEPENDENTS = (
    ("subscription_tokens", "DELETE FROM alerts_subscriptiontoken WHERE subscription_id = ANY(%(ids)s)"),
    ("subscription_events", "DELETE FROM alerts_subscriptionevent WHERE subscription_id = ANY(%(ids)s)"),
    ("subscription_deliveries", "DELETE FROM alerts_alertdelivery WHERE subscription_id = ANY(%(ids)s)"),
)

# Parameters: marker, batch. Alert messages (no report, the stop link in the body) to a channel and
# contact that no subscription holds. `report_id IS NULL` is served by the report foreign key's
# index and the contact by alert_subscription_contact: no scan of the reporters' messages.
_MESSAGES_SQL = """
    DELETE FROM issues_outboxmessage WHERE id IN (
        SELECT m.id FROM issues_outboxmessage m
         WHERE m.report_id IS NULL AND m.body LIKE %(marker)s
           AND NOT EXISTS (SELECT 1 FROM alerts_subscription s
                            WHERE s.contact = m.recipient AND s.channel = m.channel)
         ORDER BY m.id LIMIT %(batch)s FOR UPDATE OF m SKIP LOCKED)
    RETURNING id"""


def _params() -> dict[str, Any]:
    return {
        "pending": Subscription.Status.PENDING.value,
        "stopped": Subscription.Status.STOPPED.value,
        "created": SubscriptionEvent.Kind.CREATED.value,
        "resent": SubscriptionEvent.Kind.CONFIRMATION_RESENT.value,
        "confirm": SubscriptionToken.Purpose.CONFIRM.value,
    }


def _subscriptions_delete(
    cursor: Any, *, select_sql: str, params: dict[str, Any], kind: str
) -> dict[str, int]:
    cursor.execute(select_sql, {**_params(), **params})
    ids = [row[0] for row in cursor.fetchall()]
    counts = {kind: 0}
    if not ids:
        return counts
    for name, sql in _DEPENDENTS:
        cursor.execute(sql, {"ids": ids})
        counts[name] = cursor.rowcount
    cursor.execute("DELETE FROM alerts_subscription WHERE id = ANY(%(ids)s)", {"ids": ids})
    counts[kind] = cursor.rowcount
    return counts


def subscriptions_pending_delete(cursor: Any, *, asked_before: Any, batch: int) -> dict[str, int]:
    """One batch of never-confirmed subscriptions last asked for before `asked_before`."""
    return _subscriptions_delete(
        cursor,
        select_sql=_PENDING_SQL,
        params={"asked_before": asked_before, "batch": batch},
        kind="pending_subscriptions",
    )


def subscriptions_stopped_delete(cursor: Any, *, stopped_before: Any, batch: int) -> dict[str, int]:
    """One batch of subscriptions stopped up to `stopped_before`."""
    return _subscriptions_delete(
        cursor,
        select_sql=_STOPPED_SQL,
        params={"stopped_before": stopped_before, "batch": batch},
        kind="stopped_subscriptions",
    )


def messages_orphaned_delete(cursor: Any, *, batch: int) -> dict[str, int]:
    """One batch of alert messages to contacts no subscription holds any more."""
    marker = f"%{reverse('alerts:stop')}?t=%"
    cursor.execute(_MESSAGES_SQL, {"marker": marker, "batch": batch})
    ids = [row[0] for row in cursor.fetchall()]
    if ids:
        # A delivery of a deleted subscription went with it; none of a kept one points here (its
        # contact would be subscribed), but the foreign key is checked at commit either way.
        cursor.execute(
            "UPDATE alerts_alertdelivery SET message_id = NULL WHERE message_id = ANY(%(ids)s)", {"ids": ids}
        )
    return {"messages": len(ids)}

"""What the alerts keep only for a while: link tokens, the record of each report told, and the
subscriptions themselves once they can no longer send anything.

Every alert message carries a new stop token and every confirmation a confirmation token
(alerts/models.py), and every report told to a subscription leaves an `AlertDelivery`: rows by the
message and by the pair, for as long as the service runs. The daily prune (alerts/tasks.py, or
`manage.py alerts_prune --commit` from cron) deletes those that can no longer do anything:

- a confirmation token once it has expired (CONFIRM_TOKEN_DAYS: it confirms nothing any more);
- a stop token older than `OPEN137_ALERT_LINK_DAYS` (default 365), except the newest one of each
  active subscription: a message's stop link works for that long, and an active subscriber always
  holds at least one message whose link works, however long ago it came. Tokens of pending and
  stopped subscriptions go by the same age: nothing is sent to them;
- a delivery older than `OPEN137_ALERT_LINK_DAYS`, once its report lies before the window the
  sending job looks at again (its watermark less the overlap): the pair is what keeps a report from
  being told twice, and only reports inside that window can be matched again.

And it forgets the people who are no longer subscribed (alerts/forgetting.py): a subscription never
confirmed, PENDING_KEEP_DAYS after its last confirmation link expired, and a stopped one
`OPEN137_ALERT_STOPPED_DAYS` after its stop (default 30, 0 = at the next prune), each with its
tokens, events and deliveries; then the alert messages in the outbox to a contact that no
subscription holds any more. Nothing counts subscriptions or deliveries (no statistic, page or
export reads them), so no aggregate is kept.

Every kind is deleted in batches of `OPEN137_ALERT_PRUNE_BATCH` rows (default 1000), each batch its
own short transaction, until none is left: the first prune of a large database holds no lock for
long. Dry run by default: the same batches inside one transaction that is rolled back, so the counts
are exactly what --commit deletes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts.forgetting import (
    PENDING_KEEP_DAYS,
    messages_orphaned_delete,
    prune_batch_size,
    stopped_days,
    subscriptions_pending_delete,
    subscriptions_stopped_delete,
)
from alerts.models import AlertWatermark, Subscription, SubscriptionToken
from alerts.sending import OVERLAP, WATERMARK
from alerts.services import CONFIRM_TOKEN_DAYS

# Parameters: before, batch. Stop tokens sent before it, unless the newest of an active subscription.
_STOP_TOKENS_SQL = """
    DELETE FROM alerts_subscriptiontoken WHERE id IN (
        SELECT t.id FROM alerts_subscriptiontoken t JOIN alerts_subscription s ON s.id = t.subscription_id
         WHERE t.purpose = %(stop)s AND t.created_at < %(before)s
           AND (s.status <> %(active)s
                OR EXISTS (SELECT 1 FROM alerts_subscriptiontoken n
                            WHERE n.subscription_id = t.subscription_id AND n.purpose = %(stop)s
                              AND (n.created_at, n.id) > (t.created_at, t.id)))
         ORDER BY t.id LIMIT %(batch)s)"""

_CONFIRM_TOKENS_SQL = """
    DELETE FROM alerts_subscriptiontoken WHERE id IN (
        SELECT id FROM alerts_subscriptiontoken WHERE purpose = %(confirm)s AND created_at < %(before)s
         ORDER BY id LIMIT %(batch)s)"""

# Parameters: before, reports_before, batch. Deliveries written before `before` of reports the
# sending job will not look at again.
_DELIVERIES_SQL = """
    DELETE FROM alerts_alertdelivery WHERE id IN (
        SELECT d.id FROM alerts_alertdelivery d JOIN issues_report r ON r.id = d.report_id
         WHERE d.created_at < %(before)s AND r.created_at < %(reports_before)s
         ORDER BY d.id LIMIT %(batch)s)"""

# Told after every batch: the kind, and the rows of that kind deleted so far in this run.
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class PruneRun:
    links_before: datetime
    stop_tokens: int
    confirm_tokens: int
    deliveries: int
    committed: bool
    # The forgetting (alerts/forgetting.py): subscriptions asked for before `asked_before` and never
    # confirmed, those stopped up to `stopped_before`, and what went with them.
    asked_before: datetime | None = None
    stopped_before: datetime | None = None
    pending_subscriptions: int = 0
    stopped_subscriptions: int = 0
    subscription_tokens: int = 0
    subscription_events: int = 0
    subscription_deliveries: int = 0
    messages: int = 0
    batch_size: int = 0

    @property
    def total(self) -> int:
        return (
            self.stop_tokens
            + self.confirm_tokens
            + self.deliveries
            + self.pending_subscriptions
            + self.stopped_subscriptions
            + self.subscription_tokens
            + self.subscription_events
            + self.subscription_deliveries
            + self.messages
        )


def _in_batches(
    kind: str, step: Callable[[Any], dict[str, int]], *, batch: int, progress: Progress | None
) -> dict[str, int]:
    """Run `step` (one batch: at most `batch` rows of `kind`, and what goes with them; it answers
    the rows it deleted, by kind) in transactions of its own until a batch comes back short."""
    totals: dict[str, int] = {}
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            counts = step(cursor)
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
        if counts.get(kind, 0) and progress is not None:
            progress(kind, totals[kind])
        if counts.get(kind, 0) < batch:
            return totals


def _sql_step(sql: str, params: dict[str, Any], kind: str) -> Callable[[Any], dict[str, int]]:
    def step(cursor: Any) -> dict[str, int]:
        cursor.execute(sql, params)
        return {kind: cursor.rowcount}

    return step


def alerts_prune(
    *,
    commit: bool,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> PruneRun:
    """Delete the expired confirmation tokens, the stop tokens and deliveries past
    OPEN137_ALERT_LINK_DAYS, the subscriptions never confirmed or stopped long enough, and the alert
    messages to contacts no longer subscribed (module docstring), `batch_size` rows at a time
    (default OPEN137_ALERT_PRUNE_BATCH); without `commit`, count them and write nothing."""
    now = now or timezone.now()
    batch = batch_size or prune_batch_size()
    links_before = now - timedelta(days=settings.OPEN137_ALERT_LINK_DAYS)
    asked_before = now - timedelta(days=CONFIRM_TOKEN_DAYS + PENDING_KEEP_DAYS)
    stopped_before = now - timedelta(days=stopped_days())
    params: dict[str, Any] = {
        "stop": SubscriptionToken.Purpose.STOP.value,
        "confirm": SubscriptionToken.Purpose.CONFIRM.value,
        "active": Subscription.Status.ACTIVE.value,
        "before": links_before,
        "batch": batch,
    }
    totals: dict[str, int] = {}

    def run(kind: str, step: Callable[[Any], dict[str, int]]) -> None:
        for name, count in _in_batches(kind, step, batch=batch, progress=progress).items():
            totals[name] = totals.get(name, 0) + count

    # A dry run: every batch inside this one transaction (each a savepoint), rolled back at the end.
    with nullcontext() if commit else transaction.atomic():
        run("stop_tokens", _sql_step(_STOP_TOKENS_SQL, params, "stop_tokens"))
        confirm_before = now - timedelta(days=CONFIRM_TOKEN_DAYS)
        run(
            "confirm_tokens",
            _sql_step(_CONFIRM_TOKENS_SQL, {**params, "before": confirm_before}, "confirm_tokens"),
        )
        watermark = AlertWatermark.objects.filter(name=WATERMARK).first()
        if watermark is not None:
            reports_before = min(links_before, watermark.reports_until - OVERLAP)
            delivery_params = {**params, "reports_before": reports_before}
            run("deliveries", _sql_step(_DELIVERIES_SQL, delivery_params, "deliveries"))
        run(
            "pending_subscriptions",
            lambda cursor: subscriptions_pending_delete(cursor, asked_before=asked_before, batch=batch),
        )
        run(
            "stopped_subscriptions",
            lambda cursor: subscriptions_stopped_delete(cursor, stopped_before=stopped_before, batch=batch),
        )
        run("messages", lambda cursor: messages_orphaned_delete(cursor, batch=batch))
        if not commit:
            transaction.set_rollback(True)
    return PruneRun(
        links_before=links_before,
        stop_tokens=totals.get("stop_tokens", 0),
        confirm_tokens=totals.get("confirm_tokens", 0),
        deliveries=totals.get("deliveries", 0),
        committed=commit,
        asked_before=asked_before,
        stopped_before=stopped_before,
        pending_subscriptions=totals.get("pending_subscriptions", 0),
        stopped_subscriptions=totals.get("stopped_subscriptions", 0),
        subscription_tokens=totals.get("subscription_tokens", 0),
        subscription_events=totals.get("subscription_events", 0),
        subscription_deliveries=totals.get("subscription_deliveries", 0),
        messages=totals.get("messages", 0),
        batch_size=batch,
    )

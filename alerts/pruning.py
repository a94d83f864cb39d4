"""What the alerts keep only for a while: link tokens and the record of each report told.

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

Subscriptions and their events stay (the history of who asked and stopped). Dry run by default:
the same deletes in a transaction that is rolled back, so the counts are exactly what --commit
deletes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts.models import AlertWatermark, Subscription, SubscriptionToken
from alerts.sending import OVERLAP, WATERMARK
from alerts.services import CONFIRM_TOKEN_DAYS

# Parameters: before. Stop tokens sent before it, unless the newest of an active subscription.
_STOP_TOKENS_SQL = """
    DELETE FROM alerts_subscriptiontoken t
     USING alerts_subscription s
     WHERE s.id = t.subscription_id AND t.purpose = %(stop)s AND t.created_at < %(before)s
       AND (s.status <> %(active)s
            OR EXISTS (SELECT 1 FROM alerts_subscriptiontoken n
                        WHERE n.subscription_id = t.subscription_id AND n.purpose = %(stop)s
                          AND (n.created_at, n.id) > (t.created_at, t.id)))"""

_CONFIRM_TOKENS_SQL = """
    DELETE FROM alerts_subscriptiontoken WHERE purpose = %(confirm)s AND created_at < %(before)s"""

# Parameters: before, reports_before. Deliveries written before `before` of reports the sending job
# will not look at again.
_DELIVERIES_SQL = """
    DELETE FROM alerts_alertdelivery d
     USING issues_report r
     WHERE r.id = d.report_id AND d.created_at < %(before)s AND r.created_at < %(reports_before)s"""


@dataclass(frozen=True)
class PruneRun:
    links_before: datetime
    stop_tokens: int
    confirm_tokens: int
    deliveries: int
    committed: bool


def alerts_prune(*, commit: bool, now: datetime | None = None) -> PruneRun:
    """Delete the expired confirmation tokens, the stop tokens and deliveries past
    OPEN137_ALERT_LINK_DAYS (module docstring); without `commit`, count them and write nothing."""
    now = now or timezone.now()
    links_before = now - timedelta(days=settings.OPEN137_ALERT_LINK_DAYS)
    params: dict[str, Any] = {
        "stop": SubscriptionToken.Purpose.STOP.value,
        "confirm": SubscriptionToken.Purpose.CONFIRM.value,
        "active": Subscription.Status.ACTIVE.value,
        "before": links_before,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_STOP_TOKENS_SQL, params)
        stop_tokens = cursor.rowcount
        cursor.execute(_CONFIRM_TOKENS_SQL, {**params, "before": now - timedelta(days=CONFIRM_TOKEN_DAYS)})
        confirm_tokens = cursor.rowcount
        deliveries = 0
        watermark = AlertWatermark.objects.filter(name=WATERMARK).first()
        if watermark is not None:
            cursor.execute(
                _DELIVERIES_SQL,
                {
                    "before": links_before,
                    "reports_before": min(links_before, watermark.reports_until - OVERLAP),
                },
            )
            deliveries = cursor.rowcount
        if not commit:
            transaction.set_rollback(True)
    return PruneRun(
        links_before=links_before,
        stop_tokens=stop_tokens,
        confirm_tokens=confirm_tokens,
        deliveries=deliveries,
        committed=commit,
    )

"""The sending job: new reports matched to the confirmed subscriptions, one message per report to
each subscriber (a digest when a run finds many for one subscriber), through issues' outbox.

Exactly once, whatever runs at once (the worker's periodic job, cron's `alerts_send --commit`):

- the match is one INSERT ... SELECT into AlertDelivery, whose (subscription, report) pair is
  unique: ON CONFLICT DO NOTHING RETURNING gives this run only the pairs it wrote, and a second run
  at the same moment waits on the first's uncommitted rows, then writes none of them;
- the messages are queued in the same transaction as those rows (outbox_queue), and the watermark
  moves in it too; the watermark row is locked first, so runs also take turns.

Which reports: created since the watermark, less OVERLAP (a report whose transaction committed a
little after a run began is seen by the next one; the unique pair keeps the overlap from sending
twice), and not before the subscription was confirmed. Never a generated (demo) report.
Matching happens in SQL for all subscriptions at once: a district by code (a region's code takes
its sub-districts' reports), a category, a point with ST_DWithin on the geography (metres, on the
ellipsoid), each criterion the subscription has, all of them together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from alerts.models import AlertDelivery, AlertWatermark, Subscription, SubscriptionToken
from alerts.services import token_new
from alerts.texts import alert_text, link_url
from issues.models import OutboxMessage
from issues.notifications import outbox_queue

WATERMARK = "reports"
# How far before the watermark each run looks again (reports committed late).
OVERLAP = timedelta(minutes=15)
# The first run ever looks back this far.
FIRST_LOOKBACK = timedelta(days=1)
# More new reports than this for one subscriber in one run: one digest message instead.
DIGEST_AFTER = 3
# How many reports a digest lists by code; the rest are counted.
DIGEST_LIST = 10

# Parameters: since, until. The candidate reports (few: those of the last minutes) with the codes
# of their district and its parent, then every active subscription each one matches.
_MATCH = """
    WITH fresh AS (
        SELECT r.id, r.created_at, r.category_id, r.location, d.code AS dcode, p.code AS pcode
          FROM issues_report r
          LEFT JOIN districts_district d ON d.id = r.district_id
          LEFT JOIN districts_district p ON p.id = d.parent_id
         WHERE r.created_at > %(since)s AND r.created_at <= %(until)s AND NOT r.generated
    )
    SELECT s.id AS subscription_id, f.id AS report_id
      FROM alerts_subscription s
      JOIN fresh f
        ON f.created_at >= s.confirmed_at
       AND (s.category_id IS NULL OR s.category_id = f.category_id)
       AND (s.district_code = '' OR s.district_code = f.dcode OR s.district_code = f.pcode)
       AND (s.center IS NULL OR (f.location IS NOT NULL
            AND ST_DWithin(s.center::geography, f.location::geography, s.radius_m)))
     WHERE s.status = 'active'"""

MATCH_INSERT_SQL = f"""
    INSERT INTO alerts_alertdelivery (subscription_id, report_id, created_at)
    SELECT m.subscription_id, m.report_id, now() FROM ({_MATCH}) AS m
    ON CONFLICT (subscription_id, report_id) DO NOTHING
    RETURNING subscription_id, report_id"""

MATCH_DRY_SQL = f"""
    SELECT m.subscription_id, m.report_id FROM ({_MATCH}) AS m
     WHERE NOT EXISTS (SELECT 1 FROM alerts_alertdelivery a
                        WHERE a.subscription_id = m.subscription_id AND a.report_id = m.report_id)"""

# What a message says of a report: public columns only.
_REPORT_ROWS_SQL = """
    SELECT r.id, r.tracking_code, r.description, r.created_at,
           c.name_fa AS category_name_fa, c.name_en AS category_name_en,
           d.name_fa AS district_name_fa, d.name_en AS district_name_en
      FROM issues_report r
      JOIN issues_category c ON c.id = r.category_id
      LEFT JOIN districts_district d ON d.id = r.district_id
     WHERE r.id = ANY(%s)
     ORDER BY r.created_at, r.id"""


@dataclass
class PlannedMessage:
    subscription_id: int
    channel: str
    recipient: str
    subject: str
    body: str
    report_codes: list[str] = field(default_factory=list)
    report_ids: list[int] = field(default_factory=list)
    # Pairs (subscription, report) of the same contact that this message tells as well.
    also_covers: list[tuple[int, int]] = field(default_factory=list)
    message_id: int | None = None


@dataclass
class AlertRun:
    since: datetime
    until: datetime
    messages: list[PlannedMessage]
    committed: bool

    @property
    def pairs(self) -> int:
        return sum(len(m.report_codes) for m in self.messages)


def _fetch(sql: str, params: Any) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _report_rows(report_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not report_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_REPORT_ROWS_SQL, [sorted(report_ids)])
        names = [col[0] for col in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {row["id"]: row for row in rows}


def _window(now: datetime, *, lock: bool) -> tuple[datetime, AlertWatermark | None]:
    if lock:
        # Two first runs at once: one inserts the row, the other's insert does nothing; then both
        # lock it and take turns.
        AlertWatermark.objects.bulk_create(
            [AlertWatermark(name=WATERMARK, reports_until=now - FIRST_LOOKBACK)], ignore_conflicts=True
        )
        locked = AlertWatermark.objects.select_for_update().get(name=WATERMARK)
        return locked.reports_until - OVERLAP, locked
    seen = AlertWatermark.objects.filter(name=WATERMARK).first()
    return (seen.reports_until if seen else now - FIRST_LOOKBACK) - OVERLAP, None


def alerts_send(*, commit: bool = False, now: datetime | None = None) -> AlertRun:
    """Match the reports created since the watermark to the active subscriptions and queue the
    messages (commit), or only say what would be sent (dry run: nothing written)."""
    if not commit:
        return _plan(now=now)
    with transaction.atomic():
        return _send(now=now)


def _plan(*, now: datetime | None) -> AlertRun:
    until = now or timezone.now()
    since, _ = _window(until, lock=False)
    pairs = _fetch(MATCH_DRY_SQL, {"since": since, "until": until})
    messages = _compose(pairs, tokens=False)
    return AlertRun(since=since, until=until, messages=messages, committed=False)


def _send(*, now: datetime | None) -> AlertRun:
    until = now or timezone.now()
    since, locked = _window(until, lock=True)
    assert locked is not None  # taken with lock=True
    # Reports created while the lock was awaited belong to the next run.
    pairs = _fetch(MATCH_INSERT_SQL, {"since": since, "until": until})
    messages = _compose(pairs, tokens=True)
    outbox = [
        OutboxMessage(
            channel=m.channel,
            recipient=m.recipient,
            subject=m.subject if m.channel == OutboxMessage.Channel.EMAIL else "",
            body=m.body,
        )
        for m in messages
    ]
    outbox_queue(messages=outbox)
    for planned, row in zip(messages, outbox, strict=True):
        planned.message_id = row.pk
    by_pair: dict[tuple[int, int], int] = {}
    for planned, row in zip(messages, outbox, strict=True):
        for report_id in planned.report_ids:
            by_pair[(planned.subscription_id, report_id)] = row.pk
        for pair in planned.also_covers:
            by_pair[pair] = row.pk
    _deliveries_link(by_pair)
    if until > locked.reports_until:
        locked.reports_until = until
        locked.save(update_fields=["reports_until"])
    return AlertRun(since=since, until=until, messages=messages, committed=True)


def _deliveries_link(by_pair: dict[tuple[int, int], int]) -> None:
    """Each delivery row points at the message that told it."""
    if not by_pair:
        return
    subscriptions, reports, message_ids = zip(*((s, r, m) for (s, r), m in by_pair.items()), strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {AlertDelivery._meta.db_table} a SET message_id = v.message_id
                  FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(subscription_id, report_id, message_id)
                 WHERE a.subscription_id = v.subscription_id AND a.report_id = v.report_id""",
            [list(subscriptions), list(reports), list(message_ids)],
        )


def _compose(pairs: list[tuple[Any, ...]], *, tokens: bool) -> list[PlannedMessage]:
    """The messages for the matched pairs: per subscription, one per report, or one digest. A
    report matched by several subscriptions of one contact (a district and a category that
    overlap) is told once, in the message of the oldest of them; every pair keeps its delivery
    row, pointing at that message (`also_covers`)."""
    if not pairs:
        return []
    subscriptions = Subscription.objects.in_bulk(sorted({s for s, _r in pairs}))
    told: dict[tuple[str, str, int], int] = {}  # (channel, contact, report) -> subscription telling it
    by_subscription: dict[int, list[int]] = defaultdict(list)
    others: dict[int, list[tuple[int, int]]] = defaultdict(list)  # teller -> (subscription, report)
    for subscription_id, report_id in sorted(pairs):
        subscription = subscriptions[subscription_id]
        teller = told.setdefault((subscription.channel, subscription.contact, report_id), subscription_id)
        if teller == subscription_id:
            by_subscription[subscription_id].append(report_id)
        else:
            others[teller].append((subscription_id, report_id))
    reports = _report_rows({report_id for _s, report_id in pairs})
    messages: list[PlannedMessage] = []
    for subscription_id in sorted(by_subscription):
        subscription = subscriptions[subscription_id]
        rows = sorted(
            (reports[r] for r in by_subscription[subscription_id] if r in reports),
            key=lambda row: (row["created_at"], row["id"]),
        )
        groups = [rows] if len(rows) > DIGEST_AFTER else [[row] for row in rows]
        for group in groups:
            stop = (
                token_new(subscription=subscription, purpose=SubscriptionToken.Purpose.STOP)
                if tokens
                else "…"
            )
            subject, body = alert_text(
                language=subscription.language,
                reports=group,
                stop_url=link_url(name="alerts:stop", token=stop),
                digest_max=DIGEST_LIST,
            )
            ids = {row["id"] for row in group}
            messages.append(
                PlannedMessage(
                    subscription_id=subscription.pk,
                    channel=subscription.channel,
                    recipient=subscription.contact,
                    subject=subject,
                    body=body,
                    report_codes=[row["tracking_code"] for row in group],
                    report_ids=[row["id"] for row in group],
                    also_covers=[(s, r) for s, r in others.get(subscription_id, []) if r in ids],
                )
            )
    return messages


def contact_masked(contact: str) -> str:
    """A contact for an operator's screen: enough to tell two apart, not enough to copy."""
    if "@" in contact:
        local, _at, domain = contact.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{contact[:4]}***{contact[-2:]}" if len(contact) > 6 else "***"

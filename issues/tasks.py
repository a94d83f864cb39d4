"""Background jobs, run by procrastinate's worker from the queue in PostgreSQL (no broker):

    .venv/bin/python manage.py procrastinate worker

(`--queues outbox` to run a worker for citizens' messages only; several workers may run at once.)
Jobs are deferred in the same transaction as the rows they act on; see issues/notifications.py.
"""

from __future__ import annotations

from django.conf import settings
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from issues.outbox import outbox_message_send


class OutboxRetry(Exception):
    """A message could not be sent this time and has attempts left: procrastinate runs the job
    again later. The error itself is already recorded on the outbox row."""


_MAX_ATTEMPTS: int = settings.OPEN137_OUTBOX_MAX_ATTEMPTS

# procrastinate counts retries after the first run, and waits BACKOFF ** (retry number) seconds.
# The outbox row's `attempts` decides when to give up (it is `failed` after the last one); the job's
# own limit matches it, so a job never outlives its message.
OUTBOX_RETRY = (
    RetryStrategy(max_attempts=_MAX_ATTEMPTS - 1, exponential_wait=settings.OPEN137_OUTBOX_BACKOFF_SECONDS)
    if _MAX_ATTEMPTS > 1
    else False
)


@app.task(name="issues.outbox_send", queue="outbox", retry=OUTBOX_RETRY)
def outbox_send(message_id: int) -> None:
    """Send one outbox message (idempotent: a message no longer pending is left alone)."""
    result = outbox_message_send(message_id=message_id)
    if result.retry:
        raise OutboxRetry(result.error)


@app.periodic(cron="*/5 * * * *", periodic_id="sla_escalate")
@app.task(name="issues.sla_escalate", queue="sla", queueing_lock="sla_escalate")
def sla_escalate(timestamp: int) -> int:
    """Every five minutes: escalate the reports not acknowledged in time (issues/workflow/escalation.py).
    Each rung is written once whatever runs overlap (the unique constraint decides); the queueing
    lock only keeps a slow run from piling up waiting copies. Returns how many rungs it wrote."""
    # Imported here: the escalation imports issues.notifications, which imports this module.
    from issues.workflow.escalation import reports_escalate

    return len(reports_escalate(commit=True))
